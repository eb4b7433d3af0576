// Every kernel family at the shapes of one BERT-base step (batch 16 × 32 tokens = 512 rows),
// validated against a CPU computation on samples before it is timed. GFLOP/s for compute-bound
// kernels, GB/s (bytes read + written once) for memory-bound ones.
import { gpuBench, rt } from "./common.ts";
import { Tensor } from "../src/tensor.ts";
import { layerNorm } from "../src/ops/layer_norm.ts";
import { gelu } from "../src/ops/activation.ts";
import { maskedSoftmax } from "../src/ops/softmax.ts";
import { attention } from "../src/ops/attention.ts";
import { composedAttention } from "../src/nn/attention.ts";
import { embedding } from "../src/ops/embedding.ts";
import { loraLinear } from "../src/ops/linear.ts";
import { backward, endStep } from "../src/autograd/tape.ts";
import { AdamW } from "../src/optim/adamw.ts";
import { copyOf } from "../src/ops/bias_add.ts";

/** Upstream gradients made once; each timed call gets a GPU copy (backward takes ownership). */
const upstream = new Map<string, Tensor>();
function dOut(shape: number[]): Tensor {
  const key = shape.join("x");
  if (!upstream.has(key)) {
    upstream.set(
      key,
      Tensor.from(rand(shape.reduce((a, b) => a * b)), shape),
    );
  }
  return copyOf(upstream.get(key)!);
}

const ROWS = 512, H = 768, FFN = 3072, HEADS = 12, B = 16, T = 32, D = 64, VOCAB = 30522;
const rand = (n: number, scale = 1) => {
  let s = n;
  return Float32Array.from(
    { length: n },
    () => (((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5) * scale,
  );
};
const t = (shape: number[], grad = false, scale = 1) =>
  Tensor.from(rand(shape.reduce((a, b) => a * b), scale), shape, { requiresGrad: grad });

function check(ok: boolean, what: string) {
  if (!ok) throw new Error(`kernel bench: ${what} failed validation`);
}

// LayerNorm forward and backward over (512, 768). These and softmax run well under a millisecond a
// call: 50 calls per sample keep the ~11 ms submit-and-wait (common.ts) from being most of it.
{
  const x = t([ROWS, H], true, 4), w = t([H], true), b = t([H], true);
  const y = await layerNorm(x, w, b, 1e-12).read();
  const xs = await x.read(), ws = await w.read(), bs = await b.read();
  const row = xs.subarray(0, H), mean = row.reduce((s, v) => s + v, 0) / H;
  const rstd = 1 / Math.sqrt(row.reduce((s, v) => s + (v - mean) ** 2, 0) / H + 1e-12);
  check(Math.abs(y[5] - ((row[5] - mean) * rstd * ws[5] + bs[5])) < 1e-4, "layerNorm");
  endStep();
  gpuBench(
    "layernorm",
    "forward (512, 768)",
    2 * ROWS * H * 4,
    "GB/s",
    () => void layerNorm(x, w, b, 1e-12),
    5,
    50,
  );
  gpuBench(
    "layernorm",
    "forward + backward (512, 768)",
    7 * ROWS * H * 4,
    "GB/s",
    () => {
      const out = layerNorm(x, w, b, 1e-12);
      backward(out, dOut([ROWS, H]));
      x.grad?.release();
      w.grad?.release();
      b.grad?.release();
      x.grad = w.grad = b.grad = null;
    },
    5,
    50,
  );
}

// GELU over the intermediate activations (512, 3072).
{
  const x = t([ROWS, FFN], true, 6);
  const y = await gelu(x).read();
  const xs = await x.read();
  check(Math.abs(y[7] - xs[7] * 0.5 * (1 + erfApprox(xs[7] / Math.SQRT2))) < 1e-4, "gelu");
  endStep();
  gpuBench("gelu", "forward (512, 3072)", 2 * ROWS * FFN * 4, "GB/s", () => void gelu(x), 5, 10);
  gpuBench("gelu", "forward + backward (512, 3072)", 5 * ROWS * FFN * 4, "GB/s", () => {
    backward(gelu(x), dOut([ROWS, FFN]));
    x.grad?.release();
    x.grad = null;
  });
}

// Attention over 16 × 12 heads of 32 × 32 on Q, K, V (512, 768), as the model runs it: the fused
// kernel (src/ops/attention.ts) and the composed path (transposes, QKᵀ, masked softmax, ·V), with
// no dropout (evaluation) and with p 0.1 (training).
{
  const [q, k, v] = [0, 1, 2].map(() => t([B * T, H], true));
  const mask = Tensor.from(
    Array.from({ length: B * T }, (_, i) => (i % T < 20 + (i / T | 0) % 12 ? 1 : 0)),
    [B, T],
  );
  const shape = { batch: B, seqLen: T, heads: HEADS };
  const fused = await attention(q, k, v, mask, shape).read();
  const composed = await composedAttention(q, k, v, mask, shape).read();
  check(
    fused.every((x, i) => Math.abs(x - composed[i]) < 1e-4),
    "fused attention equals the composed path",
  );
  endStep();
  const flops = 2 * 2 * B * HEADS * T * T * D;
  for (
    const [name, attend] of [["fused", attention], ["composed", composedAttention]] as const
  ) {
    for (const drop of [null, { prob: 0.1, seed: 3, stream: 1 }]) {
      const what = `${name}${drop ? ", dropout 0.1" : ""}`;
      const run = () => attend(q, k, v, mask, shape, drop);
      gpuBench(
        "attention",
        `forward 16×12 heads × 32×32, d 64 (${what})`,
        flops,
        "GFLOP/s",
        () => void run(),
        5,
        4,
      );
      gpuBench(
        "attention",
        `forward + backward (${what})`,
        3 * flops,
        "GFLOP/s",
        () => {
          backward(run(), dOut([B * T, H]));
          for (const x of [q, k, v]) {
            x.grad?.release();
            x.grad = null;
          }
        },
        5,
        4,
      );
    }
  }
  const s = t([B, HEADS, T, T], true, 4);
  gpuBench(
    "softmax",
    "masked forward (16, 12, 32, 32)",
    2 * s.bytes,
    "GB/s",
    () => void maskedSoftmax(s, mask, 0.125),
    5,
    50,
  );
  gpuBench(
    "softmax",
    "masked forward + backward (16, 12, 32, 32)",
    5 * s.bytes,
    "GB/s",
    () => {
      backward(maskedSoftmax(s, mask, 0.125), dOut([B, HEADS, T, T]));
      s.grad?.release();
      s.grad = null;
    },
    5,
    50,
  );
}

// Embedding backward: scatter-add of (512, 768) into the 30,522 × 768 word-embedding gradient.
{
  const table = t([VOCAB, H], true, 0.04);
  const ids = Tensor.from(Array.from({ length: ROWS }, (_, i) => (i * 7919) % VOCAB), [ROWS], {
    dtype: "u32",
  });
  const out = embedding(table, ids);
  check(
    (await out.read())[3] === (await table.read())[((0 * 7919) % VOCAB) * H + 3],
    "embedding gather",
  );
  endStep();
  gpuBench(
    "embedding",
    "backward scatter-add (512 rows → 30522 × 768)",
    3 * ROWS * H * 4,
    "GB/s",
    () => {
      backward(embedding(table, ids), dOut([ROWS, H]));
    },
  );
  gpuBench("embedding", "zeroed gradient of 30522 × 768 (clear)", VOCAB * H * 4, "GB/s", () => {
    table.grad?.release();
    table.grad = Tensor.zeros([VOCAB, H]);
  });
  table.grad?.release();
  table.grad = null;
}

// AdamW over all 109,483,778 parameters of BERT-base, as the full mode updates them.
{
  const sizes = [
    VOCAB * H,
    512 * H,
    2 * H,
    ...Array.from({ length: 12 }, () => [H * H * 4, FFN * H * 2, FFN + 9 * H]).flat(),
    H * H + H,
    2 * H + 2,
  ];
  const params = sizes.map((n) => {
    const p = Tensor.zeros([n]);
    p.requiresGrad = true;
    p.grad = Tensor.zeros([n]);
    return p;
  });
  const n = sizes.reduce((a, b) => a + b, 0);
  const opt = new AdamW(params, { lr: 5e-5 });
  opt.step();
  gpuBench(
    "adamw",
    `step over ${n.toLocaleString("en-US")} parameters`,
    n * 4 * 7,
    "GB/s",
    () => opt.step(),
    3,
  );
}

// Fused LoRA linear at rank 8 over (512, 768) → 768, base frozen.
{
  const x = t([ROWS, H], true),
    w = t([H, H]),
    bias = t([H]),
    a = t([8, H], true, 0.07),
    bb = t([H, 8], true, 0.07);
  const flops = 2 * ROWS * H * H + 2 * 2 * ROWS * 8 * H;
  gpuBench(
    "lora",
    "forward (512, 768) → 768, rank 8",
    flops,
    "GFLOP/s",
    () => void loraLinear(x, w, bias, a, bb, 2),
  );
  gpuBench(
    "lora",
    "forward + backward (dX, dA, dB)",
    flops + 2 * ROWS * H * H + 3 * 2 * ROWS * 8 * H,
    "GFLOP/s",
    () => {
      backward(loraLinear(x, w, bias, a, bb, 2), dOut([ROWS, H]));
      for (const p of [x, a, bb]) {
        p.grad?.release();
        p.grad = null;
      }
    },
  );
}

function erfApprox(x: number): number {
  // Abramowitz–Stegun 7.1.26 is enough for a 1e-4 sanity check.
  const s = Math.sign(x), ax = Math.abs(x), tt = 1 / (1 + 0.3275911 * ax);
  return s *
    (1 -
      (((((1.061405429 * tt - 1.453152027) * tt) + 1.421413741) * tt - 0.284496736) * tt +
          0.254829592) * tt * Math.exp(-ax * ax));
}

void rt;
