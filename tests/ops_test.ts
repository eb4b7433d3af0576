// Every op: GPU vs float64 reference (forward and input gradients) and reference vs finite
// differences, on odd shapes that are no multiple of any tile size.
import {
  assertClose,
  checkLinear,
  checkLoraLinear,
  checkMatmul,
  checkOp,
  randomVec,
  rng,
} from "./helpers.ts";
import * as R from "./reference/ops_ref.ts";
import { loraLinear } from "../src/ops/linear.ts";
import { biasAdd } from "../src/ops/bias_add.ts";
import { add } from "../src/ops/add.ts";
import { gelu, tanh } from "../src/ops/activation.ts";
import { layerNorm } from "../src/ops/layer_norm.ts";
import { maskedSoftmax } from "../src/ops/softmax.ts";
import { transpose12 } from "../src/ops/transpose.ts";
import { reshape } from "../src/ops/reshape.ts";
import {
  type AttentionDropout,
  type AttentionShape,
  composedAttention,
  selfAttention,
} from "../src/nn/attention.ts";
import { attention } from "../src/ops/attention.ts";
import { dropout } from "../src/ops/dropout.ts";
import { initGpu } from "../src/gpu/kernel.ts";
import { Tensor } from "../src/tensor.ts";
import { backward, endStep } from "../src/autograd/tape.ts";
import assert from "node:assert/strict";
import { setMatmulTile, setRowReductionLayout } from "../src/ops/variants.ts";
import { caseRegistry, type TestCase } from "./cases.ts";

/** These cases, for the browser test page (tests/browser/ops_page.ts). */
export const OPS_CASES: TestCase[] = [];
const opCase = caseRegistry(OPS_CASES);

const rand = rng(42);
const vec = (n: number, scale = 1) => randomVec(n, rand, scale);

for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]]) {
  for (const [batch, M, K, N] of [[1, 37, 29, 71], [3, 67, 13, 131], [2, 5, 1, 3]]) {
    opCase(
      `matmul ${transA ? "Aᵀ" : "A"}·${
        transB ? "Bᵀ" : "B"
      } batch ${batch} ${M}x${K}x${N}: forward, dA, dB`,
      () => checkMatmul(transA, transB, [batch, M, K, N], rand),
    );
  }
}

opCase(
  "linear 19x33 -> 45 with bias: forward, dX, dWeight, dBias",
  () => checkLinear(19, 33, 45, rand),
);

opCase(
  "loraLinear 23x37 -> 41 rank 3 scale 2.5, W and b trainable: forward, dX, dW, dA, dB, dBias",
  () => checkLoraLinear(23, 37, 41, 3, 2.5, true, rand),
);

opCase(
  "loraLinear 17x29 -> 11 rank 8, frozen W and b: forward, dX, dA, dB",
  () => checkLoraLinear(17, 29, 11, 8, 2, false, rand),
);

// The workgroup-shared tile (shaders/matmul_shared.wgsl), a tuner candidate for every matmul, on
// the same checks: shapes past one 32×32 block and its 16-deep panels, with remainders.
async function sharedTile(run: () => Promise<void>): Promise<void> {
  setMatmulTile("workgroup");
  try {
    await run();
  } finally {
    setMatmulTile(null);
  }
}

for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]]) {
  for (const [batch, M, K, N] of [[1, 37, 29, 71], [3, 67, 13, 33], [2, 5, 1, 3]]) {
    opCase(
      `matmul, workgroup-shared tile, ${transA ? "Aᵀ" : "A"}·${
        transB ? "Bᵀ" : "B"
      } batch ${batch} ${M}x${K}x${N}: forward, dA, dB`,
      () => sharedTile(() => checkMatmul(transA, transB, [batch, M, K, N], rand)),
    );
  }
}

opCase(
  "linear, workgroup-shared tile, 35x33 -> 45 with bias: forward, dX, dWeight, dBias",
  () => sharedTile(() => checkLinear(35, 33, 45, rand)),
);

opCase(
  "loraLinear, workgroup-shared tile, 23x37 -> 41 rank 3 scale 2.5, W and b trainable: forward, dX, dW, dA, dB, dBias",
  () => sharedTile(() => checkLoraLinear(23, 37, 41, 3, 2.5, true, rand)),
);

opCase(
  "loraLinear, workgroup-shared tile, 40x36 -> 12 rank 8, frozen W and b: forward, dX, dA, dB",
  () => sharedTile(() => checkLoraLinear(40, 36, 12, 8, 2, false, rand)),
);

opCase("biasAdd 13x27: forward, dX, dBias", () =>
  checkOp({
    inputs: [{ data: vec(13 * 27), shape: [13, 27], grad: true }, {
      data: vec(27),
      shape: [27],
      grad: true,
    }],
    gpu: ([x, b]) => biasAdd(x, b),
    forward: ([x, b]) => x.map((v, i) => v + b[i % 27]),
    backward: (_xs, d) => [
      d.slice(),
      Float64Array.from({ length: 27 }, (_, c) => {
        let s = 0;
        for (let r = 0; r < 13; r++) s += d[r * 27 + c];
        return s;
      }),
    ],
  }));

opCase("add (residual) 1031: forward, dA, dB", () =>
  checkOp({
    inputs: [{ data: vec(1031), shape: [1031], grad: true }, {
      data: vec(1031),
      shape: [1031],
      grad: true,
    }],
    gpu: ([a, b]) => add(a, b),
    forward: ([a, b]) => a.map((v, i) => v + b[i]),
    backward: (_xs, d) => [d.slice(), d.slice()],
  }));

opCase("gelu (exact erf) 1001 values in [-6, 6]: forward, dX", () =>
  checkOp({
    inputs: [{ data: vec(1001, 6), shape: [7, 143], grad: true }],
    gpu: ([x]) => gelu(x),
    forward: ([x]) => R.geluForwardRef(x),
    backward: ([x], d) => [R.geluBackwardRef(x, d)],
  }));

opCase("gelu (exact erf) 1032 values in [-8, 8], the vec4 kernels: forward, dX", () =>
  checkOp({
    inputs: [{ data: vec(1032, 8), shape: [8, 129], grad: true }],
    gpu: ([x]) => gelu(x),
    forward: ([x]) => R.geluForwardRef(x),
    backward: ([x], d) => [R.geluBackwardRef(x, d)],
  }));

// Element by element, not norm-wise: the erf fit (A&S 7.1.26, |error| < 1.5e-7) keeps every
// value within float32 rounding of the float64 exact-erf GELU, on both kernel paths.
opCase(
  "gelu: each value within 3e-7·(1 + |x|) of exact-erf GELU, scalar and vec4 paths",
  async () => {
    await initGpu();
    for (const n of [1001, 1032]) {
      const xs = Float64Array.from(
        Float32Array.from({ length: n }, (_, i) => -9 + 18 * i / (n - 1)),
      );
      const x = Tensor.from(xs, [n], { requiresGrad: true });
      const y = gelu(x);
      const ones = Tensor.from(new Float32Array(n).fill(1), [n]);
      backward(y, ones);
      const [got, dGot] = [await y.read(), await x.grad!.read()];
      const want = R.geluForwardRef(xs), dWant = R.geluBackwardRef(xs, new Float64Array(n).fill(1));
      for (let i = 0; i < n; i++) {
        const bound = 3e-7 * (1 + Math.abs(xs[i]));
        assert.ok(
          Math.abs(got[i] - want[i]) <= bound,
          `n ${n}: gelu(${xs[i]}) = ${got[i]}, want ${want[i]}`,
        );
        assert.ok(
          Math.abs(dGot[i] - dWant[i]) <= bound,
          `n ${n}: gelu'(${xs[i]}) = ${dGot[i]}, want ${dWant[i]}`,
        );
      }
      endStep();
      [x, ones].forEach((t) => t.release());
    }
  },
);

opCase("tanh 997 values in [-5, 5]: forward, dX", () =>
  checkOp({
    inputs: [{ data: vec(997, 5), shape: [997], grad: true }],
    gpu: ([x]) => tanh(x),
    forward: ([x]) => R.tanhForwardRef(x),
    backward: ([x], d) => [R.tanhBackwardRef(x, d)],
  }));

// Both kernel shapes (src/ops/variants.ts) on both paths: C = 67 scalar, C = 68 vec4.
for (const layout of ["thread", "workgroup"] as const) {
  for (const cols of [67, 68]) {
    opCase(
      `layerNorm 21x${cols} eps 1e-12, row per ${layout}: forward, dX, dWeight, dBias`,
      async () => {
        const [rows, eps] = [21, 1e-12];
        setRowReductionLayout(layout);
        try {
          await checkOp({
            inputs: [
              {
                data: vec(rows * cols, 3).map((v, i) => v + (i % 5)),
                shape: [rows, cols],
                grad: true,
              },
              { data: vec(cols).map((v) => 1 + 0.5 * v), shape: [cols], grad: true },
              { data: vec(cols), shape: [cols], grad: true },
            ],
            gpu: ([x, w, b]) => layerNorm(x, w, b, eps),
            forward: ([x, w, b]) => R.layerNormForwardRef(x, w, b, rows, cols, eps),
            backward: ([x, w], d) => R.layerNormBackwardRef(x, w, d, rows, cols, eps),
          });
        } finally {
          setRowReductionLayout(null);
        }
      },
    );
  }
}

// Both kernel shapes: T = 7 scalar, T = 8 and 32 vec4 (row per thread, in registers up to 32),
// T = 70 (more keys than 64 lanes).
for (const layout of ["thread", "workgroup"] as const) {
  for (const T of [7, 8, 32, 70]) {
    opCase(
      `maskedSoftmax (B 3, H 2, T ${T}, masked keys) scale 0.35, row per ${layout}: forward, dScores`,
      async () => {
        const [B, H, scale] = [3, 2, 0.35];
        setRowReductionLayout(layout);
        const mask = Float64Array.from(
          { length: B * T },
          (_, i) => (i % T) < T - (i / T | 0) * 2 ? 1 : 0,
        );
        try {
          await checkOp({
            inputs: [{ data: vec(B * H * T * T, 4), shape: [B, H, T, T], grad: true }, {
              data: mask,
              shape: [B, T],
            }],
            gpu: ([s, m]) => maskedSoftmax(s, m, scale),
            forward: ([s, m]) => R.maskedSoftmaxForwardRef(s, m, B, H, T, T, scale),
            backward: ([s, m], d) => [
              R.maskedSoftmaxBackwardRef(
                R.maskedSoftmaxForwardRef(s, m, B, H, T, T, scale),
                d,
                B * H * T,
                T,
                scale,
              ),
              null,
            ],
          });
        } finally {
          setRowReductionLayout(null);
        }
      },
    );
  }
}

opCase("transpose12 (3, 5, 7, 9) -> (3, 7, 5, 9): forward, dX", () =>
  checkOp({
    inputs: [{ data: vec(3 * 5 * 7 * 9), shape: [3, 5, 7, 9], grad: true }],
    gpu: ([x]) => transpose12(x),
    forward: ([x]) => R.transpose12Ref(x, 3, 5, 7, 9),
    backward: (_xs, d) => [R.transpose12Ref(d, 3, 7, 5, 9)],
  }));

opCase("reshape (6, 35) -> (3, 70) feeding gelu: forward, dX", () =>
  checkOp({
    inputs: [{ data: vec(210), shape: [6, 35], grad: true }],
    gpu: ([x]) => gelu(reshape(x, [3, 70])),
    forward: ([x]) => R.geluForwardRef(x),
    backward: ([x], d) => [R.geluBackwardRef(x, d)],
  }));

opCase(
  "loraLinear with a separate LoRA input (lora_dropout path) 13x19 -> 7 rank 2: forward, dX, dLoraInput, dA, dB",
  () => {
    const [rows, inF, outF, r, s] = [13, 19, 7, 2, 4];
    return checkOp({
      inputs: [
        { data: vec(rows * inF), shape: [rows, inF], grad: true },
        { data: vec(outF * inF), shape: [outF, inF] },
        { data: vec(outF), shape: [outF] },
        { data: vec(r * inF), shape: [r, inF], grad: true },
        { data: vec(outF * r), shape: [outF, r], grad: true },
        { data: vec(rows * inF), shape: [rows, inF], grad: true },
      ],
      gpu: ([x, w, b, a, bb, xl]) => loraLinear(x, w, b, a, bb, s, xl),
      forward: ([x, w, b, a, bb, xl]) => {
        const base = R.loraLinearForwardRef(x, w, b, null, null, rows, inF, outF, 0, 0);
        const low = R.loraLinearForwardRef(
          xl,
          new Float64Array(outF * inF),
          null,
          a,
          bb,
          rows,
          inF,
          outF,
          r,
          s,
        );
        return base.map((v, i) => v + low[i]);
      },
      backward: ([x, w, _b, a, bb, xl], d) => {
        const g = R.loraLinearBackwardRef(x, w, null, null, d, rows, inF, outF, 0, 0);
        const l = R.loraLinearBackwardRef(
          xl,
          new Float64Array(outF * inF),
          a,
          bb,
          d,
          rows,
          inF,
          outF,
          r,
          s,
        );
        return [g.dX, null, null, l.dA, l.dB, l.dX];
      },
    });
  },
);

// Attention on odd shapes (T no multiple of 4, 3 heads) with padded keys: the fused kernel (heads
// of 8: it reads heads as vec4s) and the composed path (heads of 5), each with and without
// dropout, against the float64 reference.
const ATT = { batch: 3, seqLen: 7, heads: 3 };
const attMask = (B: number, T: number) =>
  Float64Array.from({ length: B * T }, (_, i) => (i % T < T - (i / T | 0) * 2 ? 1 : 0));

/** Dropout's factor keep/(1 - prob) on (B, heads, T, T) probabilities: the dropout op on ones. */
async function dropFactors(shape: AttentionShape, drop: AttentionDropout): Promise<Float64Array> {
  await initGpu();
  const n = shape.batch * shape.heads * shape.seqLen ** 2;
  const ones = Tensor.from(new Float32Array(n).fill(1), [n]);
  const f = Float64Array.from(await dropout(ones, drop.prob, drop.seed, drop.stream).read());
  endStep();
  ones.release();
  return f;
}

for (
  const [name, attend, D] of [
    ["attention (fused)", attention, 8],
    ["composedAttention", composedAttention, 5],
  ] as const
) {
  for (const drop of [null, { prob: 0.3, seed: 11, stream: 4 }]) {
    const what = drop ? `dropout p ${drop.prob}` : "no dropout";
    opCase(
      `${name} (B 3, T 7, 3 heads of ${D}, padded keys, ${what}): forward, dQ, dK, dV`,
      async () => {
        const { batch: B, seqLen: T, heads } = ATT, H = heads * D;
        const f = drop ? await dropFactors(ATT, drop) : undefined;
        return checkOp({
          inputs: [
            { data: vec(B * T * H, 2), shape: [B * T, H], grad: true },
            { data: vec(B * T * H, 2), shape: [B * T, H], grad: true },
            { data: vec(B * T * H), shape: [B * T, H], grad: true },
            { data: attMask(B, T), shape: [B, T] },
          ],
          gpu: ([q, k, v, m]) => attend(q, k, v, m, ATT, drop),
          forward: ([q, k, v, m]) => R.attentionForwardRef(q, k, v, m, B, T, heads, f),
          backward: ([q, k, v, m], d) => [
            ...R.attentionBackwardRef(q, k, v, m, B, T, heads, d, f),
            null,
          ],
        });
      },
    );
  }
}

opCase(
  "attention: fused and composed drop the same probabilities (T 13, p 0.4, same seed)",
  async () => {
    await initGpu();
    const shape = { batch: 2, seqLen: 13, heads: 3 }, H = 24, n = 2 * 13 * H;
    const drop = { prob: 0.4, seed: 1234, stream: 7 };
    const data = [vec(n, 2), vec(n, 2), vec(n)];
    const mask = Tensor.from(attMask(2, 13), [2, 13]);
    const run = async (attend: typeof attention) => {
      const [q, k, v] = data.map((d) => Tensor.from(d, [26, H], { requiresGrad: true }));
      const out = attend(q, k, v, mask, shape, drop);
      backward(out, Tensor.from(data[2], [26, H]));
      const got = [await out.read(), ...await Promise.all([q, k, v].map((t) => t.grad!.read()))];
      endStep();
      [q, k, v].forEach((t) => t.release());
      return got;
    };
    const fused = await run(attention), composed = await run(composedAttention);
    // Same mask, different summation order: f32 rounding only. A different mask would differ by
    // the size of the values themselves.
    ["output", "dQ", "dK", "dV"].forEach((w, i) => assertClose(fused[i], composed[i], 1e-5, w));
    mask.release();
  },
);

opCase(
  "selfAttention: the fused kernel (1 dispatch forward, 2 backward) up to T 128, D 128",
  async () => {
    const rt = await initGpu();
    const count = (T: number, D: number) => {
      const [q, k, v] = [0, 1, 2].map(() =>
        Tensor.from(vec(T * D), [T, D], { requiresGrad: true })
      );
      const mask = Tensor.from(new Float32Array(T).fill(1), [1, T]);
      const before = rt.dispatchCount;
      const out = selfAttention(q, k, v, mask, { batch: 1, seqLen: T, heads: 1 });
      const forward = rt.dispatchCount - before;
      backward(out, Tensor.from(new Float32Array(T * D), [T, D]));
      const total = rt.dispatchCount - before;
      endStep();
      [q, k, v, mask].forEach((t) => t.release());
      return [forward, total - forward];
    };
    assert.deepEqual(count(128, 4), [1, 2]);
    assert.deepEqual(count(3, 128), [1, 2]);
    assert.ok(count(129, 4)[0] > 1, "T 129 runs the composed path");
    assert.ok(count(3, 6)[0] > 1, "D 6 (no multiple of 4) runs the composed path");
    assert.ok(count(3, 132)[0] > 1, "D 132 runs the composed path");
  },
);
