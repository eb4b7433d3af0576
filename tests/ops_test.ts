// Every op: GPU vs float64 reference (forward and input gradients) and reference vs finite
// differences, on odd shapes that are no multiple of any tile size.
import { checkLinear, checkLoraLinear, checkMatmul, checkOp, randomVec, rng } from "./helpers.ts";
import * as R from "./reference/ops_ref.ts";
import { loraLinear } from "../src/ops/linear.ts";
import { biasAdd } from "../src/ops/bias_add.ts";
import { add } from "../src/ops/add.ts";
import { gelu, tanh } from "../src/ops/activation.ts";
import { layerNorm } from "../src/ops/layer_norm.ts";
import { maskedSoftmax } from "../src/ops/softmax.ts";
import { transpose12 } from "../src/ops/transpose.ts";
import { reshape } from "../src/ops/reshape.ts";
import { selfAttention } from "../src/nn/attention.ts";
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

// Both kernel shapes: T = 7 scalar, T = 8 vec4 (row per thread), T = 70 (more keys than 64 lanes).
for (const layout of ["thread", "workgroup"] as const) {
  for (const T of [7, 8, 70]) {
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

opCase("selfAttention (B 3, T 7, 3 heads of 5, padded keys): forward, dQ, dK, dV", () => {
  const [B, T, heads, H] = [3, 7, 3, 15];
  const mask = Float64Array.from(
    { length: B * T },
    (_, i) => (i % T < T - (i / T | 0) * 2 ? 1 : 0),
  );
  return checkOp({
    inputs: [
      { data: vec(B * T * H, 2), shape: [B * T, H], grad: true },
      { data: vec(B * T * H, 2), shape: [B * T, H], grad: true },
      { data: vec(B * T * H), shape: [B * T, H], grad: true },
      { data: mask, shape: [B, T] },
    ],
    gpu: ([q, k, v, m]) => selfAttention(q, k, v, m, { batch: B, seqLen: T, heads }),
    forward: ([q, k, v, m]) => R.attentionForwardRef(q, k, v, m, B, T, heads),
    backward: ([q, k, v, m], d) => [...R.attentionBackwardRef(q, k, v, m, B, T, heads, d), null],
  });
});
