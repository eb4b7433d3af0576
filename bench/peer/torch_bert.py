"""The same BERT training step in plain PyTorch on the CPU: bench:modes' PyTorch peer.

Reads one JSON object on stdin: {"config": {hidden, layers, heads, intermediate, vocab, max_pos,
type_vocab, eps}, "batches": [{"ids": [[...]], "mask": [[...]], "labels": [...]}, ...],
"threads": N, "lora": {"r": 8, "alpha": 16}}. Times full, head and lora steps (forward,
cross-entropy, backward, AdamW lr 5e-5) after one warm-up step, as bench/modes.ts does, and
prints {"torch": version, "threads": N, "modes": {"full": {"step_ms": …}, …}} on stdout.
Model: BertForSequenceClassification written out in torch.nn (no transformers), random init,
dropout 0.1 as the config; LoRA: rank-r adapters on every Linear (all-linear), base frozen.
"""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class LoraLinear(nn.Module):
    def __init__(self, base: nn.Linear, r: int, alpha: float):
        super().__init__()
        self.base = base
        self.a = nn.Parameter(torch.randn(r, base.in_features) / math.sqrt(base.in_features))
        self.b = nn.Parameter(torch.zeros(base.out_features, r))
        self.scale = alpha / r

    def forward(self, x):
        return self.base(x) + self.scale * F.linear(F.linear(x, self.a), self.b)


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, f = c["hidden"], c["intermediate"]
        self.heads = c["heads"]
        self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
        self.attn_out, self.ln1 = nn.Linear(h, h), nn.LayerNorm(h, eps=c["eps"])
        self.inter, self.out, self.ln2 = nn.Linear(h, f), nn.Linear(f, h), nn.LayerNorm(h, eps=c["eps"])
        self.drop = nn.Dropout(0.1)

    def forward(self, x, bias):
        B, T, H = x.shape
        d = H // self.heads
        split = lambda t: t.view(B, T, self.heads, d).transpose(1, 2)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d) + bias
        ctx = self.drop(scores.softmax(-1)) @ v
        ctx = ctx.transpose(1, 2).reshape(B, T, H)
        x = self.ln1(x + self.drop(self.attn_out(ctx)))
        return self.ln2(x + self.drop(self.out(F.gelu(self.inter(x)))))


class Bert(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden"]
        self.word = nn.Embedding(c["vocab"], h)
        self.pos = nn.Embedding(c["max_pos"], h)
        self.token_type = nn.Embedding(c["type_vocab"], h)
        self.ln = nn.LayerNorm(h, eps=c["eps"])
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["layers"]))
        self.pooler, self.classifier = nn.Linear(h, h), nn.Linear(h, 2)
        self.drop = nn.Dropout(0.1)

    def forward(self, ids, mask):
        T = ids.shape[1]
        pos = torch.arange(T).unsqueeze(0)
        x = self.drop(self.ln(self.word(ids) + self.pos(pos) + self.token_type(torch.zeros_like(ids))))
        bias = (1.0 - mask[:, None, None, :]) * torch.finfo(torch.float32).min
        for layer in self.layers:
            x = layer(x, bias)
        return self.classifier(self.drop(torch.tanh(self.pooler(x[:, 0]))))


def attach_lora(model, r, alpha):
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.Linear):
                setattr(module, name, LoraLinear(child, r, alpha))


def trainable(model, mode):
    for n, p in model.named_parameters():
        if mode == "full":
            p.requires_grad = True
        elif mode == "head":
            p.requires_grad = n.startswith("classifier.")
        else:
            p.requires_grad = n.endswith(".a") or n.endswith(".b")
    return [p for p in model.parameters() if p.requires_grad]


def main():
    spec = json.load(sys.stdin)
    torch.manual_seed(42)
    torch.set_num_threads(spec["threads"])
    c = spec["config"]
    batches = [
        (torch.tensor(b["ids"]), torch.tensor(b["mask"], dtype=torch.float32),
         torch.tensor(b["labels"]))
        for b in spec["batches"]
    ]
    modes = {}
    for mode in ["full", "head", "lora"]:
        model = Bert(c)
        if mode == "lora":
            attach_lora(model, spec["lora"]["r"], spec["lora"]["alpha"])
        model.train()
        opt = torch.optim.AdamW(trainable(model, mode), lr=5e-5)

        def step(b):
            ids, mask, labels = b
            loss = F.cross_entropy(model(ids, mask), labels)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        step(batches[0])
        t0 = time.perf_counter()
        for b in batches[1:]:
            step(b)
        modes[mode] = {"step_ms": (time.perf_counter() - t0) * 1000 / (len(batches) - 1)}
    json.dump({"torch": torch.__version__, "threads": spec["threads"], "modes": modes}, sys.stdout)


if __name__ == "__main__":
    main()
