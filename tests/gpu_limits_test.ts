// WebGPU limits and faults. A word embedding larger than one storage binding (a multilingual
// vocabulary: 119,547 × 768 floats = 367 MB against lavapipe's 128 MiB) trains and predicts
// exactly, through binding windows; a WebGPU fault ends a command with one line and exit code 1.
import assert from "node:assert/strict";
import { type BertConfig } from "../src/bert/config.ts";
import { gpu, initGpu } from "../src/gpu/kernel.ts";
import { bindingWindows, windowRanges } from "../src/gpu/windows.ts";
import { GpuError } from "../src/errors.ts";
import { Tensor } from "../src/tensor.ts";
import { add } from "../src/ops/add.ts";
import { backward, endStep } from "../src/autograd/tape.ts";
import { BertForSequenceClassification } from "../src/bert/model.ts";
import { loadCheckpoint } from "../src/bert/checkpoint.ts";
import { type Encoding, makeBatch } from "../src/data/batches.ts";
import { crossEntropy } from "../src/ops/cross_entropy.ts";
import { AdamW } from "../src/optim/adamw.ts";
import { GradClipper } from "../src/optim/clip.ts";
import { predictLogits } from "../src/train/inference.ts";
import { bertForwardRef, crossEntropyRef, type Weights } from "./reference/bert_ref.ts";
import { randomWeights, refConfig, tinyConfig } from "./bert_fixture.ts";
import { fdGrad, isFile, relError, rng } from "./helpers.ts";

const WORD = "bert.embeddings.word_embeddings.weight";

Deno.test("windowRanges: whole units, aligned offsets, each within the limit, every unit once", () => {
  // [bytes, unit bytes, limit, alignment]: elementwise, rows of 768 floats at lavapipe's and a
  // typical discrete GPU's alignment, odd rows, a tensor that fits one binding.
  const cases = [
    [119547 * 768 * 4, 4, 2 ** 27, 32],
    [119547 * 768 * 4, 768 * 4, 2 ** 27, 256],
    [1001 * 7 * 4, 7 * 4, 2000, 256],
    [4096, 4, 2 ** 27, 256],
  ];
  for (const [bytes, unit, limit, align] of cases) {
    const ws = windowRanges(bytes, unit, limit, align);
    let next = 0;
    for (const w of ws) {
      assert.equal(w.first, next, "consecutive");
      assert.equal(w.offset, w.first * unit);
      assert.equal(w.size, w.count * unit);
      assert.ok(w.size <= limit, `window of ${w.size} bytes over the ${limit}-byte limit`);
      assert.equal(w.offset % align, 0, `offset ${w.offset} not aligned to ${align}`);
      next += w.count;
    }
    assert.equal(next * unit, bytes, "every unit covered");
    assert.equal(ws.length === 1, bytes <= limit);
  }
  // 64 rows of 28 bytes make the smallest 256-aligned step (1,792 bytes): over a 1,000-byte limit.
  assert.throws(() => windowRanges(1001 * 7 * 4, 7 * 4, 1000, 256), GpuError);
});

Deno.test("bindingWindows: a tensor packed at an aligned offset of a larger buffer keeps its offset", async () => {
  const rt = await initGpu();
  const align = rt.device.limits.minStorageBufferOffsetAlignment;
  const buffer = rt.pool.acquire(align + 4000);
  rt.setBindingLimitForTests(1024);
  try {
    const ws = bindingWindows(buffer, 4000, 4, align);
    assert.ok(ws.length >= 4);
    ws.forEach((w, i) => {
      assert.equal(w.offset, align + w.first * 4);
      assert.equal(w.offset % align, 0);
      assert.ok(w.size <= 1024);
      assert.equal(w.first, i === 0 ? 0 : ws[i - 1].first + ws[i - 1].count);
    });
    assert.equal(ws.reduce((n, w) => n + w.count, 0), 1000);
    assert.throws(() => bindingWindows(buffer, 4000, 4, align / 2), GpuError);
  } finally {
    rt.setBindingLimitForTests(null);
    rt.pool.release(buffer);
  }
});

/** The used rows of the word table (float64) with ids renumbered into it: the reference gathers
 * exactly as from the whole table, at the cost of the rows a batch touches. */
function compactTable(table: Float32Array, H: number, encodings: Encoding[]) {
  const used = [...new Set(encodings.flatMap((e) => e.inputIds))].sort((a, b) => a - b);
  const small = new Float64Array(used.length * H);
  used.forEach((id, k) => small.set(table.subarray(id * H, (id + 1) * H), k * H));
  const index = new Map(used.map((id, k) => [id, k]));
  return { used, small, ids: encodings.map((e) => e.inputIds.map((id) => index.get(id)!)) };
}

function refWeights(w: Map<string, Float32Array>, small: Float64Array): Weights {
  const ref: Weights = new Map();
  for (const [k, v] of w) ref.set(k, k === WORD ? small : Float64Array.from(v));
  return ref;
}

// f32 forward and backward through 2 layers vs float64 finite differences, as bert_grad_test.ts.
const TOL = 1e-4;

/**
 * One training step (forward, backward, global-norm clipping, AdamW) and a prediction after it,
 * on a 2-layer BERT whose word table `table` (V, H) spans several bindings; every value is checked
 * against float64: logits, every gradient (the table's on its used rows, exactly 0 elsewhere),
 * the gradient norm, the whole table after AdamW (weight decay moves every element, so a window
 * the update missed shows), and the logits after the step.
 */
async function trainStepOverLimit(c: BertConfig, table: Float32Array, encodings: Encoding[]) {
  const H = c.hiddenSize, labels = encodings.map((_, i) => i % 2);
  const w = randomWeights({ ...c, vocabSize: 1 }, 5); // all but the table, which is given
  w.set(WORD, table);
  const mask = encodings.map((e) => e.attentionMask);
  const { used, small, ids } = compactTable(table, H, encodings);
  const ref = refWeights(w, small);
  const loss = () => crossEntropyRef(bertForwardRef(refConfig(c), ref, ids, mask), labels);

  const model = new BertForSequenceClassification(c, w);
  const params = [...model.params.values()];
  params.forEach((t) => (t.requiresGrad = true));
  const opt = new AdamW(params, { lr: 0.01, weightDecay: 0.01 });
  const batch = makeBatch(encodings, labels, c.vocabSize);
  const logits = model.forward(batch, { train: true, dropoutSeed: 1 });
  const wantLogits = bertForwardRef(refConfig(c), ref, ids, mask).flatMap((r) => [...r]);
  const logitErr = relError(await logits.read(), wantLogits);
  assert.ok(logitErr < 1e-5, `logits relative error ${logitErr}`);
  backward(crossEntropy(logits, batch.labels!));

  // Reference gradients: finite differences; the table's only on the rows the batch uses.
  const refGrads = new Map<string, Float64Array>();
  for (const name of model.params.keys()) {
    if (name !== WORD) refGrads.set(name, fdGrad(ref.get(name)!, loss));
  }
  const smallGrad = fdGrad(small, loss);
  let sumSq = smallGrad.reduce((s, g) => s + g * g, 0);
  for (const g of refGrads.values()) sumSq += g.reduce((s, x) => s + x * x, 0);
  const norm = Math.sqrt(sumSq);

  const bad: string[] = [];
  for (const [name, t] of model.params) {
    const got = await t.grad!.read();
    let err: number;
    if (name === WORD) {
      const want = new Float64Array(got.length);
      used.forEach((id, k) => want.set(smallGrad.subarray(k * H, (k + 1) * H), id * H));
      err = relError(got, want);
      const rows = new Set(used);
      let stray = 0;
      for (let i = 0; i < got.length; i++) {
        if (!rows.has(Math.floor(i / H)) && got[i] !== 0) stray++;
      }
      assert.equal(stray, 0, "gradient outside the rows the batch uses");
    } else if (name.endsWith("attention.self.key.bias")) {
      // Exactly zero in truth (softmax ignores a per-row shift): judged on an absolute floor.
      const want = refGrads.get(name)!;
      err = Math.max(...got.map((g, i) => Math.abs(g - want[i]))) / 1e-2;
    } else err = relError(got, refGrads.get(name)!);
    if (!(err <= TOL)) bad.push(`${err.toExponential(1)} ${name}`);
  }
  assert.deepEqual(bad, [], "gradients off the float64 reference");

  const clipper = new GradClipper(opt, norm / 2);
  clipper.clip();
  // The optimizer's arena: the table is a slab of its own over several windows, the other tensors
  // share slabs of at most one binding; the step is one dispatch per slab window.
  const units = opt.units(), before = gpu().dispatchCount;
  opt.step();
  assert.equal(gpu().dispatchCount - before, units.length, "AdamW: one dispatch per slab window");
  assert.ok(units.filter((u) => u.window.offset > 0).length >= 1, "a slab over several windows");
  assert.ok(
    units.length < params.length,
    `${units.length} dispatches for ${params.length} tensors`,
  );
  const [scale, gotNorm] = await clipper.result.read();
  assert.ok(Math.abs(gotNorm - norm) / norm < TOL, `gradient norm ${gotNorm}, want ${norm}`);
  const wantScale = Math.min(1, norm / 2 / (norm + 1e-6));
  // The scale is maxNorm / norm: it inherits the norm's tolerance.
  assert.ok(Math.abs(scale - wantScale) / wantScale < TOL, `clip ${scale}, want ${wantScale}`);

  // torch.optim.AdamW's first step: m = (1-β1)g, v = (1-β2)g², bias corrections 1-β1 and 1-β2.
  const after = await model.p(WORD).read();
  const gradOf = new Map(used.map((id, k) => [id, smallGrad.subarray(k * H, (k + 1) * H)]));
  let maxDiff = 0;
  for (let i = 0; i < after.length; i++) {
    const g = (gradOf.get(Math.floor(i / H))?.[i % H] ?? 0) * wantScale;
    const m = 0.1 * g, v = 0.001 * g * g;
    const want = table[i] * (1 - 0.01 * 0.01) - (0.01 / 0.1) * m / (Math.sqrt(v / 0.001) + 1e-8);
    maxDiff = Math.max(maxDiff, Math.abs(after[i] - want));
  }
  // Updates are ~lr = 0.01 on weights ~0.5: f32 rounding of both is ~1e-7.
  assert.ok(maxDiff < 1e-6, `word table after AdamW: max difference ${maxDiff}`);
  opt.zeroGrad();
  endStep();

  // Predict with the updated weights.
  const updated = new Map<string, Float32Array>();
  for (const [k, t] of model.params) updated.set(k, k === WORD ? after : await t.read());
  const refAfter = refWeights(updated, compactTable(after, H, encodings).small);
  const predicted = (await predictLogits(model, encodings)).flatMap((r) => [...r]);
  const wantAfter = bertForwardRef(refConfig(c), refAfter, ids, mask).flatMap((r) => [...r]);
  const predErr = relError(predicted, wantAfter);
  assert.ok(predErr < 1e-5, `logits after the step: relative error ${predErr}`);
  clipper.release();
  opt.release();
  model.release();
}

const enc = (ids: number[]): Encoding => ({
  inputIds: ids,
  attentionMask: ids.map((id, t) => (t === 0 || id !== 0 ? 1 : 0)),
});

Deno.test("binding limit lowered to 1 KiB: a word table over 10 bindings trains one step and predicts as float64", async () => {
  const rt = await initGpu();
  const V = 300, H = 8; // 9,600 bytes; every other tensor of this model is under 1 KiB
  const c = tinyConfig({ vocab_size: V });
  rt.setBindingLimitForTests(1024);
  try {
    const windows = rt.windows(V * H * 4, H * 4);
    assert.ok(windows.length >= 10, `${windows.length} windows`);
    const edge = windows[1].first; // ids on both sides of window boundaries, a repeated id
    const rand = rng(3);
    const table = Float32Array.from({ length: V * H }, () => 0.5 * rand());
    await trainStepOverLimit(c, table, [
      enc([2, edge - 1, edge, V - 1, 64, 3]),
      enc([2, 150, 150, 3, 0, 0]),
      enc([2, windows.at(-1)!.first, 3, 0, 0, 0]),
    ]);
  } finally {
    rt.setBindingLimitForTests(null);
  }
});

Deno.test("a kernel that does not split its tensors refuses one over the binding limit, naming the limit", async () => {
  const rt = await initGpu();
  const limit = rt.maxBindingBytes;
  if (limit + 16 > rt.device.limits.maxBufferSize || limit > 2 ** 30) {
    console.log(`skipped: no buffer can exceed the ${limit}-byte binding limit quickly`);
    return;
  }
  const t = Tensor.empty([limit / 4 + 4]);
  try {
    assert.throws(() => add(t, t), (e: Error) => {
      assert.ok(e instanceof GpuError);
      assert.match(e.message, new RegExp(`add\\.wgsl.*maxStorageBufferBindingSize of ${limit}`));
      return true;
    });
  } finally {
    endStep();
    t.release();
    rt.pool.trim();
  }
});

Deno.test("a word table over the adapter's real binding limit trains one step and predicts as float64", async () => {
  const rt = await initGpu();
  const limit = rt.device.limits.maxStorageBufferBindingSize, H = 8;
  const V = Math.floor(limit / (H * 4)) + 100; // a second window of 100 rows
  if (V * H * 4 > 2 ** 30 || V * H * 4 > rt.device.limits.maxBufferSize) {
    console.log(`skipped: a ${limit}-byte binding limit needs a table too large for a quick test`);
    return;
  }
  assert.ok(V * H * 4 > limit);
  const c = tinyConfig({ vocab_size: V });
  const rand = rng(4);
  const table = new Float32Array(V * H);
  for (let i = 0; i < table.length; i++) table[i] = 0.5 * rand();
  const edge = rt.windows(V * H * 4, H * 4)[1].first;
  await trainStepOverLimit(c, table, [
    enc([2, edge - 1, edge, V - 1, 5, 3]),
    enc([2, V - 50, V - 50, 3, 0, 0]),
  ]);
  rt.pool.trim();
});

const CASE = new URL("../../shared/cases/webgpu/large-vocab", import.meta.url).pathname;
const TOK = new URL("../../shared/models/bert-base-uncased", import.meta.url).pathname;

Deno.test("case webgpu/large-vocab: 119,547 × 768 word embeddings (367 MB) predict real logits equal to float64", async () => {
  if (!isFile(`${CASE}/config.json`) || !isFile(`${TOK}/vocab.txt`)) {
    console.log(`skipped: ${CASE} or ${TOK} is absent`);
    return;
  }
  await initGpu();
  // The case's command: predict --model C/webgpu/large-vocab --tokenizer TOK "hello world"
  // (random init from the config with the default seed 42, max length 32).
  const ckpt = await loadCheckpoint(CASE, { seed: 42, tokenizerDir: TOK, warn: () => {} });
  const c = ckpt.config;
  assert.ok(c.vocabSize * c.hiddenSize * 4 > gpu().device.limits.maxStorageBufferBindingSize);
  const encoding = ckpt.tokenizer.encode("hello world", 32);
  const model = new BertForSequenceClassification(c, ckpt.weights);
  const [got] = await predictLogits(model, [encoding]);
  model.release();
  gpu().pool.trim();
  const { small, ids } = compactTable(ckpt.weights.get(WORD)!, c.hiddenSize, [encoding]);
  const want = bertForwardRef(refConfig(c), refWeights(ckpt.weights, small), ids, [
    encoding.attentionMask,
  ])[0];
  // f32 sums of 768 and 3,072 terms through 2 layers: ~1e-6 relative.
  const err = relError(got, want);
  assert.ok(err < 1e-5, `logits [${got}] vs float64 [${want}]: relative error ${err}`);
  assert.ok(Math.abs(got[0] - got[1]) > 1e-3, "logits are not degenerate");
});

/** Runs tests/gpu_fault_cli.ts (the CLI's run() around one forced fault). */
async function faultCommand(mode: string, dir = "") {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./gpu_fault_cli.ts", import.meta.url).pathname, mode, dir],
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function assertOneLine(r: { code: number; stdout: string; stderr: string }, pattern: RegExp) {
  const lines = r.stderr.trim().split("\n");
  assert.equal(r.code, 1, `exit code ${r.code}; stderr: ${r.stderr}`);
  assert.equal(lines.length, 1, `one line expected, got:\n${r.stderr}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], pattern);
  assert.equal(r.stdout, "", "no result printed after the fault");
}

Deno.test("a WebGPU fault ends the command with one line and exit code 1", async (t) => {
  await t.step("an allocation past maxBufferSize", async () => {
    assertOneLine(await faultCommand("alloc"), /allocating a \d+-byte tensor.*maxBufferSize/);
  });
  await t.step("a validation error (a misaligned binding), surfacing at the readback", async () => {
    assertOneLine(await faultCommand("validation"), /WebGPU validation error: .*offset/i);
  });
  await t.step("a pipeline that fails validation, named", async () => {
    assertOneLine(await faultCommand("pipeline"), /creating the compute pipeline add\.wgsl/);
  });
  await t.step("a lost device", async () => {
    assertOneLine(await faultCommand("lost"), /WebGPU device was lost/);
  });
});

Deno.test("a WebGPU fault before saving leaves the saved checkpoint untouched", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const before = new Uint8Array([1, 2, 3, 4]);
    await Deno.writeFile(`${dir}/model.safetensors`, before);
    assertOneLine(await faultCommand("save", dir), /WebGPU validation error/);
    assert.deepEqual(await Deno.readFile(`${dir}/model.safetensors`), before);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["model.safetensors"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
