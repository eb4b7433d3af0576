// Whole-model checks on a 2-layer BERT: logits vs the float64 reference, every parameter gradient
// vs central finite differences of the reference loss (llm.c's test_gpt2, tensor by tensor).
import assert from "node:assert/strict";
import { initGpu } from "../src/gpu/kernel.ts";
import { Tensor } from "../src/tensor.ts";
import { backward, endStep } from "../src/autograd/tape.ts";
import { BertForSequenceClassification } from "../src/bert/model.ts";
import { makeBatch } from "../src/data/batches.ts";
import { crossEntropy } from "../src/ops/cross_entropy.ts";
import { AdamW } from "../src/optim/adamw.ts";
import { attachLora } from "../src/nn/lora.ts";
import { setAttentionPath } from "../src/nn/attention.ts";
import { bertForwardRef, crossEntropyRef, type RefLora } from "./reference/bert_ref.ts";
import { BATCH, LABELS, randomWeights, refConfig, tinyConfig, toF64 } from "./bert_fixture.ts";
import { assertClose, fdGrad, relError, rng } from "./helpers.ts";

const ids = BATCH.map((e) => e.inputIds), mask = BATCH.map((e) => e.attentionMask);

// f32 forward and backward through 2 layers vs float64 finite differences: errors of ~1e-6
// relative per op compound through ~40 ops, so 1e-4 per tensor.
const TOL = 1e-4;

Deno.test("BERT 2-layer: logits match the float64 reference", async () => {
  await initGpu();
  const c = tinyConfig();
  const w = randomWeights(c);
  const model = new BertForSequenceClassification(c, w);
  const logits = await model.forward(makeBatch(BATCH, null, c.vocabSize), { train: false }).read();
  const want = bertForwardRef(refConfig(c), toF64(w), ids, mask).flatMap((r) => [...r]);
  const err = relError(logits, want);
  assert.ok(err < 1e-5, `logits relative error ${err}`);
  endStep();
  model.release();
});

Deno.test("BERT 2-layer full: every parameter gradient matches finite differences", async () => {
  await initGpu();
  const c = tinyConfig();
  const w = randomWeights(c);
  const model = new BertForSequenceClassification(c, w);
  for (const t of model.params.values()) t.requiresGrad = true;
  const batch = makeBatch(BATCH, LABELS, c.vocabSize);
  backward(crossEntropy(model.forward(batch, { train: false }), batch.labels!));
  const ref = toF64(w);
  const loss = () => crossEntropyRef(bertForwardRef(refConfig(c), ref, ids, mask), LABELS);
  const report: string[] = [];
  let worst = 0;
  for (const [name, t] of model.params) {
    const want = fdGrad(ref.get(name)!, loss);
    // The key bias's true gradient is exactly zero (softmax ignores a per-row shift: q·(k + b)
    // adds the same q·b to every score), so its f32 value is rounding noise: judge it on an
    // absolute floor instead of relative to ~1e-11 of finite-difference noise.
    const err = name.endsWith("attention.self.key.bias")
      ? Math.max(...(await t.grad!.read()).map((g, i) => Math.abs(g - want[i]))) / 1e-2
      : relError(await t.grad!.read(), want);
    worst = Math.max(worst, err);
    report.push(`${err <= TOL ? "OK " : "BAD"} ${err.toExponential(1)} ${name}`);
  }
  if (worst > TOL) console.log(report.filter((l) => l.startsWith("BAD")).join("\n"));
  assert.ok(worst <= TOL, `worst parameter gradient relative error ${worst}`);
  endStep();
  model.release();
});

Deno.test("BERT 2-layer LoRA rank 3 on every linear, base frozen: lora_A and lora_B gradients match finite differences", async () => {
  await initGpu();
  const c = tinyConfig();
  const w = randomWeights(c);
  const model = new BertForSequenceClassification(c, w);
  const r = 3, scale = 16 / 3, rand = rng(11);
  const refLora: RefLora = { r, scale, adapters: new Map() };
  model.loraScale = scale;
  for (const path of model.linearPaths()) {
    const [outF, inF] = model.p(`${path}.weight`).shape;
    const A = Float32Array.from({ length: r * inF }, () => 0.3 * rand());
    const B = Float32Array.from({ length: outF * r }, () => 0.3 * rand());
    model.lora.set(path, {
      A: Tensor.from(A, [r, inF], { requiresGrad: true }),
      B: Tensor.from(B, [outF, r], { requiresGrad: true }),
    });
    refLora.adapters.set(path, { A: Float64Array.from(A), B: Float64Array.from(B) });
  }
  const batch = makeBatch(BATCH, LABELS, c.vocabSize);
  backward(crossEntropy(model.forward(batch, { train: false }), batch.labels!));
  for (const t of model.params.values()) {
    assert.equal(t.grad, null, `frozen ${t.name} got a gradient`);
  }
  const ref = toF64(w);
  const loss = () => crossEntropyRef(bertForwardRef(refConfig(c), ref, ids, mask, refLora), LABELS);
  let worst = 0;
  for (const [path, l] of model.lora) {
    const a = refLora.adapters.get(path)!;
    worst = Math.max(
      worst,
      relError(await l.A.grad!.read(), fdGrad(a.A, loss)),
      relError(await l.B.grad!.read(), fdGrad(a.B, loss)),
    );
  }
  assert.ok(worst <= TOL, `worst LoRA gradient relative error ${worst}`);
  endStep();
  model.release();
});

Deno.test("memory: 50 training steps (forward, backward, AdamW) keep the live GPU buffer count flat", async () => {
  const rt = await initGpu();
  const c = tinyConfig({ hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 });
  const model = new BertForSequenceClassification(c, randomWeights(c));
  const params = [...model.params.values()];
  params.forEach((t) => (t.requiresGrad = true));
  const opt = new AdamW(params, { lr: 1e-3 });
  const counts: number[] = [];
  for (let step = 0; step < 50; step++) {
    const batch = makeBatch(BATCH, LABELS, c.vocabSize);
    backward(crossEntropy(model.forward(batch, { train: true, dropoutSeed: step }), batch.labels!));
    opt.step();
    opt.zeroGrad();
    endStep();
    counts.push(rt.pool.live);
  }
  assert.ok(counts.every((n) => n === counts[0]), `live buffers per step: ${counts.join(",")}`);
  opt.release();
  model.release();
});

Deno.test("BERT LoRA dropout: active only in training, only on the LoRA path; eval logits equal the no-dropout model", async () => {
  await initGpu();
  const c = tinyConfig();
  const w = randomWeights(c);
  const model = new BertForSequenceClassification(c, w);
  attachLora(model, { r: 2, alpha: 4, dropout: 0, targets: ["query", "value"] }, 3);
  for (const l of model.lora.values()) l.B.release();
  for (const [path, l] of model.lora) {
    model.lora.set(path, {
      A: l.A,
      B: Tensor.from(Array.from({ length: l.B.size }, (_, i) => 0.1 * Math.sin(i + 1)), l.B.shape),
    });
  }
  const logits = async (train: boolean) => {
    const out = await model.forward(makeBatch(BATCH, null, c.vocabSize), { train, dropoutSeed: 5 })
      .read();
    endStep();
    return out;
  };
  const plain = await logits(true); // config dropout is 0 and lora_dropout 0: deterministic
  model.loraDropout = 0.5;
  const dropped = await logits(true);
  const evalOut = await logits(false);
  assert.deepEqual(evalOut, plain, "evaluation ignores lora_dropout");
  assert.ok(relError(dropped, plain) > 1e-4, "training applies lora_dropout");
  model.release();
});

Deno.test("BERT training step with dropout: fused and composed attention give the same logits and gradients", async () => {
  await initGpu();
  const c = tinyConfig({ hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.3 });
  const model = new BertForSequenceClassification(c, randomWeights(c));
  const params = [...model.params.entries()];
  params.forEach(([, t]) => (t.requiresGrad = true));
  const step = async (path: "fused" | "composed") => {
    setAttentionPath(path);
    try {
      const batch = makeBatch(BATCH, LABELS, c.vocabSize);
      const logits = model.forward(batch, { train: true, dropoutSeed: 17 });
      backward(crossEntropy(logits, batch.labels!));
      const out = [
        await logits.read(),
        ...await Promise.all(params.map(([, t]) => t.grad!.read())),
      ];
      params.forEach(([, t]) => {
        t.grad!.release();
        t.grad = null;
      });
      endStep();
      return out;
    } finally {
      setAttentionPath(null);
    }
  };
  const fused = await step("fused"), composed = await step("composed");
  // Same masks on the same streams: the paths differ by f32 summation order alone (~1e-7
  // relative per op through two layers); one attention mask off would move them by ~1e-1.
  assertClose(fused[0], composed[0], 1e-5, "logits");
  params.forEach(([name], i) => {
    const norm = (v: Float32Array) => Math.max(...v.map(Math.abs));
    if (name.endsWith("key.bias")) {
      // Softmax ignores a shift shared by a row's scores, and a key bias adds q_i·b to every
      // score of row i: its gradient is 0 but for rounding, which differs between the paths.
      const small = Math.max(norm(fused[i + 1]), norm(composed[i + 1]));
      assert.ok(small < 1e-6, `${name}: gradient ${small} should be rounding noise`);
    } else assertClose(fused[i + 1], composed[i + 1], 1e-4, name);
  });
  model.release();
});
