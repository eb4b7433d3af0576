// Ops with integer inputs or randomness: embedding, crossEntropy, dropout; and the optimizers.
import assert from "node:assert/strict";
import { assertClose, checkOp, f32, randomVec, rng } from "./helpers.ts";
import * as R from "./reference/ops_ref.ts";
import { initGpu } from "../src/gpu/kernel.ts";
import { readTensors, Tensor } from "../src/tensor.ts";
import { embedding } from "../src/ops/embedding.ts";
import { embeddingSum } from "../src/ops/embedding_sum.ts";
import { crossEntropy } from "../src/ops/cross_entropy.ts";
import { dropout } from "../src/ops/dropout.ts";
import { AdamW } from "../src/optim/adamw.ts";
import { SGD } from "../src/optim/sgd.ts";
import { backward, dispose, endStep, tidy } from "../src/autograd/tape.ts";
import { gpu } from "../src/gpu/kernel.ts";
import { transposedALayout } from "../src/ops/variants.ts";
import { gelu } from "../src/ops/activation.ts";
import { add } from "../src/ops/add.ts";
import { layerNorm } from "../src/ops/layer_norm.ts";
import { linear } from "../src/ops/linear.ts";
import { GradClipper } from "../src/optim/clip.ts";
import { linearWarmupDecay } from "../src/optim/schedule.ts";
import { caseRegistry, type TestCase } from "./cases.ts";

/** These cases, for the browser test page (tests/browser/ops_page.ts). */
export const OPS2_CASES: TestCase[] = [];
const opCase = caseRegistry(OPS2_CASES);

const rand = rng(3);
const vec = (n: number, scale = 1) => randomVec(n, rand, scale);

opCase("embedding 11x13 table, 29 ids with repeats: forward, dTable (scatter-add)", async () => {
  await initGpu();
  const [V, C] = [11, 13];
  const ids = [
    3,
    0,
    10,
    3,
    3,
    7,
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    10,
    10,
    2,
    2,
    5,
    5,
    5,
    1,
    0,
    9,
    9,
    3,
  ];
  const idT = Tensor.from(ids, [ids.length], { dtype: "u32" });
  await checkOp({
    inputs: [{ data: vec(V * C), shape: [V, C], grad: true }],
    gpu: ([t]) => embedding(t, idT),
    forward: ([t]) => R.embeddingForwardRef(t, ids, C),
    backward: (_xs, d) => [R.embeddingBackwardRef(V, ids, C, d)],
  });
  idT.release();
});

// BERT's word + position + token type sum in one kernel: C = 13 runs the scalar entries, C = 12 the
// vec4 ones; ids repeat (the scatter must add); the frozen-word case scatters into two tables only.
for (const [C, frozenWord] of [[13, false], [12, false], [12, true]] as const) {
  opCase(
    `embeddingSum (11, 7, 2) x ${C} tables, 23 rows${frozenWord ? ", word frozen" : ""}: ` +
      "forward, dWord, dPosition, dTokenType",
    async () => {
      await initGpu();
      const sizes = [11, 7, 2], rows = 23;
      const idLists = sizes.map((n, k) =>
        Array.from({ length: rows }, (_, r) => (r * (k + 3) + k) % n)
      );
      const idTs = idLists.map((l) => Tensor.from(l, [rows], { dtype: "u32" }));
      await checkOp({
        inputs: sizes.map((n, k) => ({
          data: vec(n * C),
          shape: [n, C],
          grad: !(frozenWord && k === 0),
        })),
        gpu: (ts) => embeddingSum([ts[0], ts[1], ts[2]], [idTs[0], idTs[1], idTs[2]]),
        forward: (xs) => {
          const [w, p, t] = xs.map((x, k) => R.embeddingForwardRef(x, idLists[k], C));
          return w.map((v, i) => v + p[i] + t[i]);
        },
        backward: (_xs, d) =>
          sizes.map((n, k) =>
            frozenWord && k === 0 ? null : R.embeddingBackwardRef(n, idLists[k], C, d)
          ),
      });
      idTs.forEach((t) => t.release());
    },
  );
}

// An optimizer made first moves the tables and their gradients into its arena: the three
// gradients are ranges of one slab, the first bound as the whole slab. One dispatch writing all
// three is writable aliasing, which Chromium's WebGPU refuses (this case runs there too, from
// tests/browser/ops_page.ts); Deno's adapter does not check, so there it checks the values.
opCase(
  "embeddingSum with its tables in an optimizer's arena (one gradient slab): dWord, dPosition, " +
    "dTokenType",
  async () => {
    await initGpu();
    const sizes = [11, 7, 2], rows = 23, C = 12;
    const idLists = sizes.map((n, k) =>
      Array.from({ length: rows }, (_, r) => (r * (k + 5) + 2 * k) % n)
    );
    const idTs = idLists.map((l) => Tensor.from(l, [rows], { dtype: "u32" }));
    const tables = sizes.map((n) => Tensor.from(vec(n * C), [n, C], { requiresGrad: true }));
    const opt = new SGD(tables, { lr: 0.1 });
    const d = vec(rows * C);
    const y = embeddingSum([tables[0], tables[1], tables[2]], [idTs[0], idTs[1], idTs[2]]);
    backward(y, Tensor.from(d, [rows, C]));
    for (const [k, t] of tables.entries()) {
      const want = R.embeddingBackwardRef(sizes[k], idLists[k], C, Float64Array.from(d));
      assertClose(await t.grad!.read(), want, 1e-6, `table ${k} gradient`);
    }
    endStep();
    opt.release();
    [...tables, ...idTs].forEach((t) => t.release());
  },
);

// 19 rows: fewer than the forward's 64 lanes; 203: lanes that take several rows each.
for (const N of [19, 203]) {
  opCase(`crossEntropy ${N} rows x 3 classes: forward (mean), dLogits`, async () => {
    await initGpu();
    const labels = Array.from({ length: N }, (_, i) => (i * 7) % 3);
    const lab = Tensor.from(labels, [N], { dtype: "u32" });
    await checkOp({
      inputs: [{ data: vec(N * 3, 4), shape: [N, 3], grad: true }],
      gpu: ([l]) => crossEntropy(l, lab),
      forward: ([l]) => Float64Array.of(R.crossEntropyForwardRef(l, labels, 3)),
      backward: ([l], d) => [R.crossEntropyBackwardRef(l, labels, 3, d[0])],
    });
    lab.release();
  });
}

for (const N of [23, 151]) {
  opCase(
    `crossEntropy with class weights, ${N} rows x 5 classes (one absent): weighted mean, dLogits`,
    async () => {
      await initGpu();
      // Class 3 never occurs: its weight must not enter the denominator.
      const labels = Array.from({ length: N }, (_, i) => [0, 1, 2, 4][(i * 5) % 4]);
      const weights = [0.5, 2.25, 1, 7, 0.125];
      const lab = Tensor.from(labels, [N], { dtype: "u32" });
      const w = Tensor.from(weights, [5]);
      await checkOp({
        inputs: [{ data: vec(N * 5, 6), shape: [N, 5], grad: true }],
        gpu: ([l]) => crossEntropy(l, lab, w),
        forward: ([l]) => Float64Array.of(R.weightedCrossEntropyForwardRef(l, labels, 5, weights)),
        backward: ([l], d) => [R.weightedCrossEntropyBackwardRef(l, labels, 5, weights, d[0])],
      });
      // All-equal weights give the unweighted mean (torch: weight=ones == no weight).
      const ones = Tensor.from([3, 3, 3, 3, 3], [5]);
      const logits = Tensor.from(vec(N * 5, 6), [N, 5]);
      const a = await crossEntropy(logits, lab, ones).read();
      const b = await crossEntropy(logits, lab).read();
      assert.ok(Math.abs(a[0] - b[0]) <= 1e-6 * Math.abs(b[0]), `${a[0]} vs ${b[0]}`);
      endStep();
      [lab, w, ones, logits].forEach((t) => t.release());
    },
  );
}

opCase("dropout p 0.3 over 5003 values: forward and dX regenerate the same mask", () =>
  checkOp({
    inputs: [{ data: vec(5003), shape: [5003], grad: true }],
    gpu: ([x]) => dropout(x, 0.3, 1234, 17),
    forward: ([x]) => R.dropoutForwardRef(x, 0.3, 1234, 17),
    backward: (_xs, d) => [R.dropoutForwardRef(d, 0.3, 1234, 17)],
  }));

opCase("dropout statistics: drop fraction ≈ p, streams differ, mean preserved", async () => {
  await initGpu();
  const n = 200_000;
  const x = Tensor.from(new Float32Array(n).fill(1), [n]);
  const a = await dropout(x, 0.1, 42, 0).read();
  const b = await dropout(x, 0.1, 42, 1).read();
  const dropped = a.filter((v) => v === 0).length / n;
  // Binomial(200000, 0.1) has sd 0.00067; 5 sd.
  assert.ok(Math.abs(dropped - 0.1) < 0.0034, `dropped fraction ${dropped}`);
  const same = a.filter((v, i) => (v === 0) === (b[i] === 0)).length / n;
  assert.ok(same < 0.85, `streams 0 and 1 agree on ${same} of the mask`);
  const mean = a.reduce((s, v) => s + v, 0) / n;
  assert.ok(Math.abs(mean - 1) < 0.01, `mean after inverted dropout ${mean}`);
  endStep();
  x.release();
});

function optimizerCase(
  name: string,
  make: (p: Tensor[]) => AdamW | SGD,
  step: (p: Float64Array, g: Float64Array, m: Float64Array, v: Float64Array, t: number) => void,
) {
  opCase(`${name}: 3 steps on 1037 parameters vs float64 reference`, async () => {
    await initGpu();
    const n = 1037;
    const p0 = f32(vec(n));
    const p = Tensor.from(p0, [n], { requiresGrad: true });
    const opt = make([p]);
    const ref = p0.slice(), m = new Float64Array(n), v = new Float64Array(n);
    for (let t = 1; t <= 3; t++) {
      const g = f32(vec(n, 0.1 * t));
      p.grad = Tensor.from(g, [n]);
      opt.step();
      opt.zeroGrad();
      step(ref, g, m, v, t);
    }
    // The f32 update reaches ~1e-7 of |p|; lr·√v̂ terms keep errors at that scale.
    assertClose(await p.read(), ref, 1e-6, `${name} parameters after 3 steps`);
    opt.release();
    p.release();
  });
}

const adam = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
optimizerCase(
  "AdamW (torch defaults, lr 0.01, wd 0.01)",
  (ps) => new AdamW(ps, { lr: 0.01 }),
  (p, g, m, v, t) => R.adamwStepRef(p, g, m, v, t, adam),
);
optimizerCase(
  "AdamW (lr 5e-5, betas 0.8/0.99, eps 1e-6, wd 0.1)",
  (ps) => new AdamW(ps, { lr: 5e-5, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1 }),
  (p, g, m, v, t) =>
    R.adamwStepRef(p, g, m, v, t, {
      lr: 5e-5,
      beta1: 0.8,
      beta2: 0.99,
      eps: 1e-6,
      weightDecay: 0.1,
    }),
);
optimizerCase(
  "SGD (lr 0.5, wd 0.01)",
  (ps) => new SGD(ps, { lr: 0.5, weightDecay: 0.01 }),
  (p, g) => R.sgdStepRef(p, g, 0.5, 0.01),
);

opCase("backward: a frozen weight and bias get no gradient and cost no kernel", async () => {
  const rt = await initGpu();
  const run = (trainable: boolean) => {
    const x = Tensor.from(vec(5 * 7), [5, 7], { requiresGrad: true });
    const w = Tensor.from(vec(3 * 7), [3, 7], { requiresGrad: trainable });
    const b = Tensor.from(vec(3), [3], { requiresGrad: trainable });
    const labels = Tensor.from([0, 2, 1, 1, 0], [5], { dtype: "u32" });
    const loss = crossEntropy(linear(x, w, b), labels);
    const before = rt.dispatchCount;
    backward(loss);
    const count = rt.dispatchCount - before;
    assert.ok(x.grad, "x gets its gradient either way");
    assert.equal(w.grad === null, !trainable);
    assert.equal(b.grad === null, !trainable);
    endStep();
    [x, w, b, labels].forEach((t) => t.release());
    return count;
  };
  const frozen = run(false), trainable = run(true);
  // dW = dYᵀ·x is one matmul, and dBias one column sum; where Aᵀ is materialized
  // (src/ops/variants.ts) the column sum writes dYᵀ too, so two kernels either way.
  assert.ok(["materialize", "in-kernel"].includes(transposedALayout()));
  assert.equal(trainable - frozen, 2, `dW and dBias column sum only when trainable`);
});

opCase(
  "clipGradNorm: gradients of global norm 13 clipped to 5 (torch semantics) and SGD applies the scale",
  async () => {
    await initGpu();
    const a = Tensor.from([0, 0, 0], [3], { requiresGrad: true }),
      b = Tensor.from(new Float32Array(300), [300], { requiresGrad: true });
    const ga = [3, 4, 0], gb = Array.from({ length: 300 }, (_, i) => (i === 299 ? 12 : 0));
    a.grad = Tensor.from(ga, [3]);
    b.grad = Tensor.from(gb, [300]);
    const opt = new SGD([a, b], { lr: 1 });
    const clipper = new GradClipper(opt, 5);
    clipper.clip();
    opt.step();
    const [scale, norm] = await clipper.result.read();
    assert.ok(Math.abs(norm - 13) < 1e-5, `norm ${norm}`);
    assert.ok(Math.abs(scale - 5 / (13 + 1e-6)) < 1e-6, `scale ${scale}`);
    assertClose(await a.read(), ga.map((g) => -g * 5 / 13), 1e-6, "a after clipped step");
    assertClose(await b.read(), gb.map((g) => -g * 5 / 13), 1e-6, "b after clipped step");
    clipper.release();
    opt.release();
    a.release();
    b.release();
  },
);

/**
 * Tensors for the arena cases: with the binding limit lowered to 1 KiB they fill several slabs,
 * and the 700-element one (2,800 bytes) is a slab of its own bound through three windows; 9,001
 * elements take three workgroups of 4,096 (src/optim/arena.ts CHUNK) when bound whole.
 */
const ARENA_SIZES = [3, 1037, 64, 700, 5, 9001, 250, 1, 96];

/** Gradient of tensor k at step t, or null where the tensor gets none that step. */
const arenaGrad = (k: number, t: number, n: number) =>
  k === 2 && t === 2 ? null : f32(randomVec(n, rng(100 * t + k), 0.1 * t));

/** 3 AdamW steps over ARENA_SIZES in one arena and with one optimizer per tensor. */
async function arenaAdamW(limit: number | null) {
  const rt = await initGpu();
  rt.setBindingLimitForTests(limit);
  try {
    const init = ARENA_SIZES.map((n, k) => f32(randomVec(n, rng(k + 1))));
    const make = () => init.map((v, k) => Tensor.from(v, [ARENA_SIZES[k]], { requiresGrad: true }));
    const flat = make(), single = make();
    const opt = new AdamW(flat, adam);
    const perTensor = single.map((p) => new AdamW([p], adam));
    const ref = init.map((v) => v.slice());
    const m = init.map((v) => new Float64Array(v.length)), v = m.map((x) => x.slice());
    const dispatches: number[] = [];
    for (let t = 1; t <= 3; t++) {
      ARENA_SIZES.forEach((n, k) => {
        const g = arenaGrad(k, t, n);
        if (!g) return;
        flat[k].grad = Tensor.from(g, [n]);
        single[k].grad = Tensor.from(g, [n]);
        R.adamwStepRef(ref[k], g, m[k], v[k], t, adam);
      });
      const before = rt.dispatchCount;
      opt.step();
      dispatches.push(rt.dispatchCount - before);
      perTensor.forEach((o) => o.step());
      opt.zeroGrad();
      perTensor.forEach((o) => o.zeroGrad());
    }
    const units = opt.arena.unitsFor(flat.map(() => true));
    if (limit === null) {
      assert.equal(opt.arena.slabCount, 1, "one slab at the adapter's binding limit");
    } else {
      // 1,037 and 700 elements exceed 1 KiB: slabs of their own, bound in several windows.
      assert.ok(opt.arena.slabCount >= 4, `${opt.arena.slabCount} slabs`);
      assert.ok(units.filter((u) => u.window.offset > 0).length >= 2, "multi-window slabs");
    }
    // Step 2 has no gradient for tensor 2: a slab window left without one is not dispatched.
    assert.deepEqual([dispatches[0], dispatches[2]], [units.length, units.length]);
    assert.ok(dispatches[1] <= units.length, `${dispatches[1]} dispatches in step 2`);
    if (limit === null) assert.deepEqual(dispatches, [1, 1, 1]);
    for (let k = 0; k < ARENA_SIZES.length; k++) {
      const got = await flat[k].read(), want = await single[k].read();
      assert.deepEqual(got, want, `tensor ${k}: arena and per-tensor updates differ`);
      assertClose(got, ref[k], 1e-6, `tensor ${k} vs float64`);
      const s = opt.moments(k)!;
      assertClose(await s.m.read(), m[k], 1e-6, `exp_avg of tensor ${k}`);
      // 1 - β2 is 1 - f32(0.999), 1.3e-5 off 0.001 in relative terms: v carries that factor.
      assertClose(await s.v.read(), v[k], 2e-5, `exp_avg_sq of tensor ${k}`);
    }
    opt.release();
    perTensor.forEach((o) => o.release());
    [...flat, ...single].forEach((p) => p.release());
  } finally {
    rt.setBindingLimitForTests(null);
  }
}

opCase(
  "optimizer arena: AdamW over 8 tensors is one dispatch, bit-identical to one optimizer per tensor and within f32 of float64; a step without a gradient leaves its tensor alone",
  () => arenaAdamW(null),
);
opCase(
  "optimizer arena: with 1 KiB bindings, one AdamW dispatch per slab window (a tensor over the limit spans several), still bit-identical to per-tensor updates",
  () => arenaAdamW(1024),
);

opCase(
  "optimizer arena: clipping sums only this step's gradients across slabs (a stale slot is left out), SGD applies the scale, and release hands the parameters back intact",
  async () => {
    const rt = await initGpu();
    rt.setBindingLimitForTests(1024);
    try {
      const init = ARENA_SIZES.map((n, k) => f32(randomVec(n, rng(k + 1))));
      const ps = init.map((x, k) => Tensor.from(x, [ARENA_SIZES[k]], { requiresGrad: true }));
      const opt = new SGD(ps, { lr: 0.5, weightDecay: 0.01 });
      const clipper = new GradClipper(opt, 0.05);
      const ref = init.map((x) => x.slice());
      for (let t = 1; t <= 2; t++) {
        const grads = ARENA_SIZES.map((n, k) => arenaGrad(k, t, n));
        grads.forEach((g, k) => g && (ps[k].grad = Tensor.from(g, [ARENA_SIZES[k]])));
        clipper.clip();
        opt.step();
        const sumSq = grads.reduce((s, g) => s + (g?.reduce((a, x) => a + x * x, 0) ?? 0), 0);
        const norm = Math.sqrt(sumSq), scale = Math.min(1, 0.05 / (norm + 1e-6));
        const [gotScale, gotNorm] = await clipper.result.read();
        assert.ok(
          Math.abs(gotNorm - norm) / norm < 1e-6,
          `step ${t}: norm ${gotNorm}, want ${norm}`,
        );
        assert.ok(Math.abs(gotScale - scale) / scale < 1e-6, `step ${t}: scale ${gotScale}`);
        grads.forEach((g, k) => g && R.sgdStepRef(ref[k], g.map((x) => x * scale), 0.5, 0.01));
        // zeroGrad leaves tensor 2's step-1 gradient in its slot; step 2 must not sum it.
        opt.zeroGrad();
      }
      clipper.release();
      opt.release();
      for (let k = 0; k < ps.length; k++) {
        assertClose(await ps[k].read(), ref[k], 1e-6, `tensor ${k} after release`);
      }
      // Back in buffers of their own: ops bind them whole again.
      const sum = add(ps[1], ps[1]);
      assertClose(
        await sum.read(),
        ref[1].map((x) => 2 * x),
        1e-6,
        "an op on a released-arena tensor",
      );
      endStep();
      ps.forEach((p) => p.release());
    } finally {
      rt.setBindingLimitForTests(null);
    }
  },
);

opCase("schedule: linear warmup then linear decay to zero, as transformers", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((s) => linearWarmupDecay(s, 2, 10)), [
    0,
    0.5,
    1,
    0.875,
    0.75,
    0.625,
    0.5,
    0.375,
    0.25,
    0.125,
    0,
  ]);
});

// A small residual block, linear → gelu → linear → + x → LayerNorm, with frozen weights.
function block(x: Tensor, w1: Tensor, w2: Tensor, g: Tensor, b: Tensor): Tensor {
  return layerNorm(add(linear(gelu(linear(x, w1, null)), w2, null), x), g, b, 1e-5);
}

opCase(
  "tidy: a block with nothing to backpropagate keeps only its result; with a trainable input it frees what no backward reads and the gradient is unchanged",
  async () => {
    const rt = await initGpu();
    const [R, C, F] = [6, 8, 12];
    const w1 = Tensor.from(f32(vec(F * C)), [F, C]), w2 = Tensor.from(f32(vec(C * F)), [C, F]);
    const g = Tensor.from(f32(vec(C)), [C]), b = Tensor.from(f32(vec(C)), [C]);
    const xData = f32(vec(R * C)), dOutData = f32(vec(R * C));

    const frozen = Tensor.from(xData, [R, C]);
    const before = rt.pool.live;
    const y = tidy(() => block(frozen, w1, w2, g, b));
    assert.equal(rt.pool.live - before, 1, "only the result is live after a frozen block");
    const yFrozen = await y.read();
    endStep();

    const run = async (scoped: boolean) => {
      const x = Tensor.from(xData, [R, C], { requiresGrad: true });
      const start = gpu().pool.live;
      const out = scoped ? tidy(() => block(x, w1, w2, g, b)) : block(x, w1, w2, g, b);
      const live = gpu().pool.live - start;
      const yv = await out.read();
      backward(out, Tensor.from(dOutData, [R, C]));
      const dX = await x.grad!.read();
      endStep();
      x.release();
      return { live, yv, dX };
    };
    const plain = await run(false), scoped = await run(true);
    assert.ok(scoped.live < plain.live, `live buffers ${scoped.live} (tidy) vs ${plain.live}`);
    assert.deepEqual(scoped.yv, plain.yv);
    assert.deepEqual(scoped.yv, yFrozen);
    assert.deepEqual(scoped.dX, plain.dX, "dX identical with and without tidy");
    [w1, w2, g, b, frozen].forEach((t) => t.release());
  },
);

opCase(
  "backward: GELU's output is dropped by tidy and recomputed for the next linear's dW, what tidy kept for the backwards is freed after its last reader, and the gradients are unchanged",
  async () => {
    const rt = await initGpu();
    const [R, C, F] = [6, 8, 12];
    const w1 = Tensor.from(f32(vec(F * C)), [F, C]);
    const g = Tensor.from(f32(vec(C)), [C]), b = Tensor.from(f32(vec(C)), [C]);
    const xData = f32(vec(R * C)), w2Data = f32(vec(C * F)), dOutData = f32(vec(R * C));
    const run = async (scoped: boolean) => {
      const x = Tensor.from(xData, [R, C], { requiresGrad: true });
      const w2 = Tensor.from(w2Data, [C, F], { requiresGrad: true });
      let hidden!: Tensor;
      const block = () => {
        hidden = gelu(linear(x, w1, null)); // the dW2 matmul reads it
        return layerNorm(add(linear(hidden, w2, null), x), g, b, 1e-5);
      };
      const out = scoped ? tidy(block) : block();
      const dropped = hidden.dataDropped;
      const afterForward = rt.pool.live;
      backward(out, Tensor.from(dOutData, [R, C]));
      const grown = rt.pool.live - afterForward;
      const dX = await x.grad!.read(), dW2 = await w2.grad!.read();
      endStep();
      x.release();
      w2.release();
      return { dropped, grown, dX, dW2 };
    };
    const plain = await run(false), scoped = await run(true);
    assert.ok(!plain.dropped && scoped.dropped, "tidy drops GELU's output");
    assert.ok(
      scoped.grown < plain.grown,
      `live buffers grew by ${scoped.grown} over backward (tidy) vs ${plain.grown}`,
    );
    assert.deepEqual(scoped.dX, plain.dX, "dX identical");
    assert.deepEqual(scoped.dW2, plain.dW2, "dW2 identical with GELU's output recomputed");
    [w1, g, b].forEach((t) => t.release());
  },
);

opCase(
  "dispose: a block's input is freed at once when no backward saved it, else after its last reader in backward; gradients unchanged",
  async () => {
    const rt = await initGpu();
    const [R, C] = [5, 7];
    const w1 = Tensor.from(f32(vec(C * C)), [C, C]);
    const xData = f32(vec(R * C)), w2Data = f32(vec(C * C)), dOutData = f32(vec(R * C));

    const frozen = Tensor.from(xData, [R, C]);
    const h0 = linear(frozen, w1, null);
    const y0 = tidy(() => gelu(h0));
    const before = rt.pool.live;
    dispose(h0);
    assert.equal(rt.pool.live, before - 1, "an input no backward saved is freed at once");
    await y0.read();
    endStep();
    frozen.release();

    const run = async (disposed: boolean) => {
      const x = Tensor.from(xData, [R, C], { requiresGrad: true });
      const w2 = Tensor.from(w2Data, [C, C], { requiresGrad: true });
      const h = linear(x, w1, null); // saved by the next linear (dW2 reads it)
      const y = tidy(() => linear(h, w2, null));
      const live = rt.pool.live;
      if (disposed) dispose(h);
      assert.equal(rt.pool.live, live, "a saved input stays until backward");
      backward(y, Tensor.from(dOutData, [R, C]));
      const after = rt.pool.live;
      const dX = await x.grad!.read(), dW2 = await w2.grad!.read();
      endStep();
      x.release();
      w2.release();
      return { after, dX, dW2 };
    };
    const kept = await run(false), disposed = await run(true);
    assert.ok(disposed.after < kept.after, "backward frees the disposed input after its reader");
    assert.deepEqual(disposed.dX, kept.dX);
    assert.deepEqual(disposed.dW2, kept.dW2);
    w1.release();
  },
);

opCase(
  "readTensors: tensors read together in windows smaller than their total come back whole, in order",
  async () => {
    await initGpu();
    // 40, 80, 120 (over the window on its own), 0 and 12 bytes against a 100-byte window: the
    // windows are [40], [80], [120], [0, 12].
    const data = [10, 20, 30, 0, 3].map((n) => Float32Array.from(vec(n)));
    const ts = data.map((d) => Tensor.from(d, [d.length]));
    const got = await readTensors(ts, 100);
    assert.equal(got.length, data.length);
    got.forEach((g, i) => assert.deepEqual(g, data[i], `tensor ${i}`));
    assert.deepEqual(await readTensors(ts), got, "the default window (all at once)");
    assert.deepEqual(await readTensors([]), []);
    ts.forEach((t) => t.release());
  },
);
