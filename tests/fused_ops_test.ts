// Fused kernels that fold several ops into one: each against a float64 reference with finite
// differences on odd shapes, and against the unfused composition it replaces (same mask, same
// values up to float32 rounding).
import assert from "node:assert/strict";
import { assertClose, checkOp, f32, randomVec, rng } from "./helpers.ts";
import * as R from "./reference/ops_ref.ts";
import { initGpu } from "../src/gpu/kernel.ts";
import { Tensor } from "../src/tensor.ts";
import { residualLayerNorm } from "../src/ops/residual_layer_norm.ts";
import { layerNorm } from "../src/ops/layer_norm.ts";
import { dropout } from "../src/ops/dropout.ts";
import { biasAdd } from "../src/ops/bias_add.ts";
import { add } from "../src/ops/add.ts";
import { backward, endStep } from "../src/autograd/tape.ts";
import { setMatmulTile, setRowReductionLayout, setTransposedALayout } from "../src/ops/variants.ts";
import { linear } from "../src/ops/linear.ts";
import { caseRegistry, type TestCase } from "./cases.ts";

/** These cases, for the browser test page (tests/browser/ops_page.ts). */
export const FUSED_CASES: TestCase[] = [];
const opCase = caseRegistry(FUSED_CASES);

const rand = rng(11);
const vec = (n: number, scale = 1) => randomVec(n, rand, scale);

async function underLayout(layout: "thread" | "workgroup", run: () => Promise<void>) {
  setRowReductionLayout(layout);
  try {
    await run();
  } finally {
    setRowReductionLayout(null);
  }
}

// Both kernel shapes on both paths (C = 67 scalar, C = 68 vec4), with and without dropout.
for (const layout of ["thread", "workgroup"] as const) {
  for (const [cols, prob] of [[67, 0.3], [68, 0.3], [68, 0]]) {
    opCase(
      `residualLayerNorm 21x${cols} dropout ${prob}, row per ${layout}: forward, dBranch, ` +
        `dBranchBias, dResidual, dWeight, dBias`,
      () =>
        underLayout(layout, async () => {
          const [rows, eps, seed, stream] = [21, 1e-12, 9, 4];
          const n = rows * cols;
          // dropout()'s mask from its float64 reference (1/(1 - prob) where kept, else 0).
          const mask = R.dropoutForwardRef(new Float64Array(n).fill(1), prob, seed, stream);
          const z = (br: Float64Array, bb: Float64Array, res: Float64Array) =>
            br.map((v, i) => (v + bb[i % cols]) * mask[i] + res[i]);
          await checkOp({
            inputs: [
              { data: vec(n, 3), shape: [rows, cols], grad: true },
              { data: vec(cols), shape: [cols], grad: true },
              { data: vec(n, 2).map((v, i) => v + (i % 5)), shape: [rows, cols], grad: true },
              { data: vec(cols).map((v) => 1 + 0.5 * v), shape: [cols], grad: true },
              { data: vec(cols), shape: [cols], grad: true },
            ],
            gpu: ([br, bb, res, w, b]) =>
              residualLayerNorm(br, bb, res, w, b, eps, { prob, seed, stream }),
            forward: ([br, bb, res, w, b]) =>
              R.layerNormForwardRef(z(br, bb, res), w, b, rows, cols, eps),
            backward: ([br, bb, res, w], d) => {
              const [dz, dW, dB] = R.layerNormBackwardRef(z(br, bb, res), w, d, rows, cols, eps);
              const dBranch = dz.map((v, i) => v * mask[i]);
              const dBranchBias = new Float64Array(cols);
              dBranch.forEach((v, i) => (dBranchBias[i % cols] += v));
              return [dBranch, dBranchBias, dz, dW, dB];
            },
          });
        }),
    );
  }
}

// BERT's embeddings: no branch bias, no dropout (absent outputs must not share a buffer: Chromium
// refuses one buffer bound to two writable bindings of a dispatch).
opCase(
  "residualLayerNorm 9x12 without a branch bias: forward, dBranch, dResidual, dWeight, dBias",
  () =>
    checkOp({
      inputs: [
        { data: vec(9 * 12, 3), shape: [9, 12], grad: true },
        { data: vec(9 * 12), shape: [9, 12], grad: true },
        { data: vec(12).map((v) => 1 + 0.5 * v), shape: [12], grad: true },
        { data: vec(12), shape: [12], grad: true },
      ],
      gpu: ([br, res, w, b]) => residualLayerNorm(br, null, res, w, b, 1e-12),
      forward: ([br, res, w, b]) =>
        R.layerNormForwardRef(br.map((v, i) => v + res[i]), w, b, 9, 12, 1e-12),
      backward: ([br, res, w], d) => {
        const [dz, dW, dB] = R.layerNormBackwardRef(
          br.map((v, i) => v + res[i]),
          w,
          d,
          9,
          12,
          1e-12,
        );
        return [dz, dz.slice(), dW, dB];
      },
    }),
);

// The fused op must be a drop-in for the composition BERT used: same mask and stream, same
// numbers; and a residual whose gradient another consumer already started accumulates in place.
for (const layout of ["thread", "workgroup"] as const) {
  opCase(
    `residualLayerNorm 19x36 = layerNorm(add(dropout(biasAdd(branch, b)), residual)), row per ` +
      `${layout}: forward and every gradient, residual gradient accumulated`,
    () =>
      underLayout(layout, async () => {
        await initGpu();
        const [rows, cols, prob, seed, stream, eps] = [19, 36, 0.25, 123, 7, 1e-5];
        const data = [rows * cols, cols, rows * cols, cols, cols].map((k) => f32(vec(k)));
        const dOut = f32(vec(rows * cols));
        const run = async (fused: boolean) => {
          const [br, bb, res, w, b] = data.map((d) =>
            Tensor.from(d, d.length === cols ? [cols] : [rows, cols], { requiresGrad: true })
          );
          // The residual also feeds a second consumer, whose gradient reaches it first.
          res.grad = Tensor.from(dOut.map((v) => 0.5 * v), [rows, cols]);
          const y = fused
            ? residualLayerNorm(br, bb, res, w, b, eps, { prob, seed, stream })
            : layerNorm(add(dropout(biasAdd(br, bb), prob, seed, stream), res), w, b, eps);
          const out = [await y.read()];
          backward(y, Tensor.from(dOut, [rows, cols]));
          for (const t of [br, bb, res, w, b]) out.push(await t.grad!.read());
          endStep();
          [br, bb, res, w, b].forEach((t) => t.release());
          return out;
        };
        const want = await run(false), got = await run(true);
        const names = ["y", "dBranch", "dBranchBias", "dResidual", "dWeight", "dBias"];
        got.forEach((g, k) => assertClose(g, want[k], 1e-6, names[k]));
      }),
  );
}

opCase(
  "residualLayerNorm: mismatched shapes and a dropout probability of 1 are refused",
  async () => {
    await initGpu();
    const t = (shape: number[]) => Tensor.from(new Float32Array(shape[0] * (shape[1] ?? 1)), shape);
    const [br, res, w, b] = [t([3, 4]), t([3, 4]), t([4]), t([4])];
    assert.throws(() => residualLayerNorm(br, null, t([4, 3]), w, b, 1e-5), /residual \[4,3\]/);
    assert.throws(() => residualLayerNorm(br, t([3]), res, w, b, 1e-5), /branch bias \[3\]/);
    assert.throws(
      () => residualLayerNorm(br, null, res, w, b, 1e-5, { prob: 1, seed: 0, stream: 0 }),
      /must be in \[0, 1\)/,
    );
    endStep();
  },
);

// A tensor with several consumers (BERT's hidden state feeds Q, K, V and the residual) and a
// shared weight get their gradients summed in the matmul epilogue (C += A·B), on the scalar and
// the vec4 kernel and both ways of computing dW = dYᵀ·x: right sums and no separate add pass.
for (const [R_, K, N] of [[13, 7, 9], [12, 8, 16]]) {
  for (
    const [layout, tile] of [
      ["in-kernel", "register"],
      ["materialize", "register"],
      ["in-kernel", "workgroup"],
    ] as const
  ) {
    opCase(
      `linear ${R_}x${K} -> ${N}: x into two linears, x2 and x sharing a weight; dW by Aᵀ ` +
        `${layout}, ${tile} tile: gradients accumulated in the matmul, no add pass`,
      async () => {
        const rt = await initGpu();
        setTransposedALayout(layout);
        setMatmulTile(tile);
        const before = rt.dispatchesByKernel.get("add.wgsl:accumulate") ?? 0;
        try {
          const matmulRef = (a: Float64Array, b: Float64Array, m: number, k: number, n: number) =>
            Float64Array.from({ length: m * n }, (_, i) => {
              let s = 0;
              for (let j = 0; j < k; j++) s += a[(i / n | 0) * k + j] * b[j * n + i % n];
              return s;
            });
          const tr = (a: Float64Array, rows: number, cols: number) =>
            Float64Array.from(
              { length: a.length },
              (_, i) => a[(i % rows) * cols + (i / rows | 0)],
            );
          const sum = (a: Float64Array, b: Float64Array) => a.map((v, i) => v + b[i]);
          await checkOp({
            inputs: [
              { data: vec(R_ * K), shape: [R_, K], grad: true },
              { data: vec(R_ * K), shape: [R_, K], grad: true },
              { data: vec(N * K), shape: [N, K], grad: true },
              { data: vec(N * K), shape: [N, K], grad: true },
            ],
            gpu: ([x, x2, w1, w2]) =>
              add(add(linear(x, w1, null), linear(x, w2, null)), linear(x2, w1, null)),
            forward: ([x, x2, w1, w2]) =>
              matmulRef(sum(x, x2), tr(w1, N, K), R_, K, N).map((v, i) =>
                v + matmulRef(x, tr(w2, N, K), R_, K, N)[i]
              ),
            backward: ([x, x2, w1, w2], d) => {
              const dT = tr(d, R_, N);
              return [
                matmulRef(d, sum(w1, w2), R_, N, K),
                matmulRef(d, w1, R_, N, K),
                matmulRef(dT, sum(x, x2), N, R_, K),
                matmulRef(dT, x, N, R_, K),
              ];
            },
          });
        } finally {
          setTransposedALayout(null);
          setMatmulTile(null);
        }
        assert.equal(rt.dispatchesByKernel.get("add.wgsl:accumulate") ?? 0, before);
      },
    );
  }
}

opCase("biasAdd 11x28 (four columns per thread): forward, dX, dBias", () =>
  checkOp({
    inputs: [
      { data: vec(11 * 28), shape: [11, 28], grad: true },
      { data: vec(28), shape: [28], grad: true },
    ],
    gpu: ([x, b]) => biasAdd(x, b),
    forward: ([x, b]) => x.map((v, i) => v + b[i % 28]),
    backward: (_xs, d) => {
      const dB = new Float64Array(28);
      d.forEach((v, i) => (dB[i % 28] += v));
      return [d.slice(), dB];
    },
  }));

// BERT's sublayer output: linear without its bias, then residualLayerNorm with that bias; where
// dW materializes dYᵀ, the column-sum pass writes dBranchᵀ and the linear uses it (no transpose).
for (const [rows, inF, cols] of [[13, 7, 20], [11, 9, 15]]) {
  for (const layout of ["in-kernel", "materialize"] as const) {
    opCase(
      `linear ${rows}x${inF} -> ${cols} into residualLayerNorm with its bias, dropout 0.2, dW by ` +
        `Aᵀ ${layout}: forward, dX, dW, dBias, dResidual, dWeight, dBias`,
      async () => {
        const rt = await initGpu();
        setTransposedALayout(layout);
        const transposes = () =>
          rt.dispatchesByKernel.get("transpose.wgsl:transpose12_forward") ?? 0;
        const before = transposes();
        const [eps, prob, seed, stream] = [1e-5, 0.2, 3, 1];
        const n = rows * cols;
        const mask = R.dropoutForwardRef(new Float64Array(n).fill(1), prob, seed, stream);
        const dense = (x: Float64Array, w: Float64Array, bb: Float64Array) =>
          Float64Array.from({ length: n }, (_, i) => {
            const [r, c] = [i / cols | 0, i % cols];
            let s = bb[c];
            for (let k = 0; k < inF; k++) s += x[r * inF + k] * w[c * inF + k];
            return s;
          });
        const z = (x: Float64Array, w: Float64Array, bb: Float64Array, res: Float64Array) =>
          dense(x, w, bb).map((v, i) => v * mask[i] + res[i]);
        try {
          await checkOp({
            inputs: [
              { data: vec(rows * inF), shape: [rows, inF], grad: true },
              { data: vec(cols * inF), shape: [cols, inF], grad: true },
              { data: vec(cols), shape: [cols], grad: true },
              { data: vec(n, 2), shape: [rows, cols], grad: true },
              { data: vec(cols).map((v) => 1 + 0.5 * v), shape: [cols], grad: true },
              { data: vec(cols), shape: [cols], grad: true },
            ],
            gpu: ([x, w, bb, res, g, b]) =>
              residualLayerNorm(
                linear(x, w, null),
                bb,
                res,
                g,
                b,
                eps,
                { prob, seed, stream },
                true,
              ),
            forward: ([x, w, bb, res, g, b]) =>
              R.layerNormForwardRef(z(x, w, bb, res), g, b, rows, cols, eps),
            backward: ([x, w, bb, res, g], d) => {
              const [dz, dG, dB] = R.layerNormBackwardRef(z(x, w, bb, res), g, d, rows, cols, eps);
              const dBr = dz.map((v, i) => v * mask[i]);
              const dX = new Float64Array(rows * inF), dW = new Float64Array(cols * inF);
              const dBb = new Float64Array(cols);
              dBr.forEach((v, i) => {
                const [r, c] = [i / cols | 0, i % cols];
                dBb[c] += v;
                for (let k = 0; k < inF; k++) {
                  dX[r * inF + k] += v * w[c * inF + k];
                  dW[c * inF + k] += v * x[r * inF + k];
                }
              });
              return [dX, dW, dBb, dz, dG, dB];
            },
          });
        } finally {
          setTransposedALayout(null);
        }
        assert.equal(transposes(), before, "no transpose pass for dW");
      },
    );
  }
}
