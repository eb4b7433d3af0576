// lowRankMatmul (shaders/low_rank.wgsl): every layout of op(A)·op(B) with the rank on either side,
// on odd shapes (the scalar kernel) and multiples of 4 (the vec4 kernels), written or accumulated
// into a gradient, against the float64 matmul reference. The kernels have no backward of their
// own: loraLinear's gradient checks (tests/ops_test.ts) run them, with finite differences.
import assert from "node:assert/strict";
import { assertClose, checkOp, f32, randomVec, rng } from "./helpers.ts";
import * as R from "./reference/ops_ref.ts";
import { gpu, initGpu } from "../src/gpu/kernel.ts";
import { Tensor } from "../src/tensor.ts";
import {
  loraDyProducts,
  lowRankMatmul,
  type LowRankTile,
  MAX_RANK,
  setLowRankDyFused,
  setLowRankKernel,
  setLowRankTile,
} from "../src/ops/low_rank.ts";
import { loraLinear } from "../src/ops/linear.ts";
import { setTransposedALayout } from "../src/ops/variants.ts";
import { backward, endStep } from "../src/autograd/tape.ts";
import { caseRegistry, type TestCase } from "./cases.ts";

/** These cases, for the browser test page (tests/browser/ops_page.ts). */
export const LOW_RANK_CASES: TestCase[] = [];
const opCase = caseRegistry(LOW_RANK_CASES);

const rand = rng(17);

/**
 * C = alpha · op(A) · op(B) [+ C0] for all four transpositions, written or accumulated, on both
 * tiles (one row per lane, and the register tiles of 8 rows, whose last tile is partial here).
 */
async function checkLowRank([M, K, N]: number[], alpha: number): Promise<void> {
  for (const tile of ["single", "tiled"] as LowRankTile[]) {
    setLowRankTile(tile);
    try {
      await checkLayouts([M, K, N], alpha, tile);
    } finally {
      setLowRankTile(null);
    }
  }
}

async function checkLayouts([M, K, N]: number[], alpha: number, tile: string): Promise<void> {
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      for (const accumulate of [false, true]) {
        const what = `${tile}, transA ${transA}, transB ${transB}, accumulate ${accumulate}`;
        await checkOp({
          inputs: [
            { data: randomVec(M * K, rand), shape: transA ? [K, M] : [M, K] },
            { data: randomVec(K * N, rand), shape: transB ? [N, K] : [K, N] },
            { data: randomVec(M * N, rand), shape: [M, N] },
          ],
          gpu: ([a, b, c0]) =>
            accumulate
              ? lowRankMatmul({ a, b, transA, transB, alpha, into: c0 })
              : lowRankMatmul({ a, b, transA, transB, alpha }),
          forward: ([a, b, c0]) =>
            R.matmulForwardRef(a, b, 1, M, K, N, transA, transB)
              .map((v, i) => alpha * v + (accumulate ? c0[i] : 0)),
          backward: () => [null, null, null],
        }).catch((e) => {
          throw new Error(`${what}: ${e.message}`);
        });
      }
    }
  }
}

// Odd shapes (the word-at-a-time kernel), a rank that leaves a partial block of 8 columns, and
// ranks of two blocks; multiples of 4 take the vec4 kernels; a rank of 1; ranks of 5 blocks and
// of MAX_RANK itself (all eight blocks); 516 rows, where the widest tile (16 rows a lane) runs with
// a partial last workgroup. The long side is over MAX_RANK, so the rank on the left
// is where the kernel looks for it (C written transposed).
for (
  const [P, K, r] of [
    [67, 37, 5],
    [68, 36, 8],
    [72, 44, 12],
    [65, 16, 4],
    [69, 7, 1],
    [68, 40, 20],
    [76, 12, 36],
    [71, 9, MAX_RANK],
    [516, 12, 8],
  ]
) {
  opCase(
    `lowRankMatmul ${P}x${K} · ${K}x${r} (rank ${r}), every layout: C, C +=`,
    () => checkLowRank([P, K, r], 1.5),
  );
  opCase(
    `lowRankMatmul ${r}x${K} · ${K}x${P} (rank ${r} on the left), every layout: C, C +=`,
    () => checkLowRank([r, K, P], 1),
  );
}

/**
 * loraDyProducts: dXa = s·dY·B and B.grad (+)= s·dYᵀ·xa against float64 products of the same f32
 * inputs, on both tiles (the fused low_rank_dy dispatch and the two separate products), with B's
 * gradient absent (written) or present (accumulated).
 */
async function checkDy([rows, out, r]: number[]): Promise<void> {
  await initGpu();
  const s = 1.75;
  const [dY, B, xa, g0] = [rows * out, out * r, rows * r, out * r].map((n) =>
    f32(randomVec(n, rand))
  );
  const dXaRef = new Float64Array(rows * r);
  const dBRef = new Float64Array(out * r);
  for (let p = 0; p < rows; p++) {
    for (let k = 0; k < out; k++) {
      for (let j = 0; j < r; j++) {
        dXaRef[p * r + j] += s * dY[p * out + k] * B[k * r + j];
        dBRef[k * r + j] += s * dY[p * out + k] * xa[p * r + j];
      }
    }
  }
  for (const tile of ["single", "tiled"] as LowRankTile[]) {
    for (const accumulate of [false, true]) {
      setLowRankTile(tile);
      try {
        const what = `${rows}x${out} rank ${r}, ${tile}, accumulate ${accumulate}`;
        const t = (v: Float64Array, shape: number[]) => Tensor.from(Float32Array.from(v), shape);
        const [tdY, txa] = [t(dY, [rows, out]), t(xa, [rows, r])];
        const tB = Tensor.from(Float32Array.from(B), [out, r], { requiresGrad: true });
        if (accumulate) tB.grad = t(g0, [out, r]);
        const dXa = loraDyProducts(tdY, tB, txa, s);
        assertClose(await dXa.read(), dXaRef, 1e-5, `${what}: dXa`);
        const want = accumulate ? dBRef.map((v, i) => v + g0[i]) : dBRef;
        assertClose(await tB.grad!.read(), want, 1e-5, `${what}: dB`);
        [tdY, txa, dXa, tB.grad!, tB].forEach((v) => v.release());
      } finally {
        setLowRankTile(null);
      }
    }
  }
}

// Row counts that leave partial tiles of 8 (and one row), dB tiles of 16 rows with a partial last
// workgroup (out 132, 516), ranks of one to eight blocks of columns.
for (const [rows, out, r] of [[67, 36, 8], [9, 132, 12], [1, 4, 4], [33, 516, 20], [20, 40, 64]]) {
  opCase(
    `loraDyProducts ${rows}x${out}, rank ${r}: dXa and dB (one dispatch when tiled)`,
    () => checkDy([rows, out, r]),
  );
}

opCase("loraDyProducts unfused (A/B timing) and on an odd width run the two products", async () => {
  await initGpu();
  const rt = gpu();
  const fusedRuns = () => rt.dispatchesByKernel.get("low_rank.wgsl:low_rank_dy") ?? 0;
  const before = fusedRuns();
  setLowRankDyFused(false);
  try {
    await checkDy([12, 8, 4]);
  } finally {
    setLowRankDyFused(null);
  }
  await checkDy([12, 10, 4]);
  assert.equal(fusedRuns(), before);
});

const ENTRIES = [
  "low_rank_forward",
  "low_rank_rows4",
  "low_rank_cols4",
  "low_rank_rows4x8",
  "low_rank_cols8",
  "low_rank_cols16",
  "low_rank_dy",
];

opCase("lowRankMatmul: the cases above ran each of its kernels", async () => {
  await initGpu();
  for (const entry of ENTRIES) {
    assert.ok(gpu().dispatchesByKernel.get(`low_rank.wgsl:${entry}`), `${entry} never ran`);
  }
});

opCase(`lowRankMatmul above MAX_RANK runs the matmul: 70x9 · 9x${MAX_RANK + 2}`, async () => {
  await initGpu();
  const rt = gpu();
  const before = rt.dispatchesByKernel.get("low_rank.wgsl:low_rank_forward") ?? 0;
  await checkOp({
    inputs: [
      { data: randomVec(70 * 9, rand), shape: [70, 9] },
      { data: randomVec(9 * (MAX_RANK + 2), rand), shape: [9, MAX_RANK + 2] },
    ],
    gpu: ([a, b]) => lowRankMatmul({ a, b }),
    forward: ([a, b]) => R.matmulForwardRef(a, b, 1, 70, 9, MAX_RANK + 2, false, false),
    backward: () => [null, null],
  });
  assert.equal(rt.dispatchesByKernel.get("low_rank.wgsl:low_rank_forward") ?? 0, before);
});

opCase(
  "lowRankMatmul with the kernel turned off (A/B timing) runs the matmul: 20x36 · 36x8",
  async () => {
    await initGpu();
    const rt = gpu();
    const count = () =>
      ENTRIES.reduce((s, e) => s + (rt.dispatchesByKernel.get(`low_rank.wgsl:${e}`) ?? 0), 0);
    const before = count();
    setLowRankKernel(false);
    try {
      await checkOp({
        inputs: [
          { data: randomVec(20 * 36, rand), shape: [20, 36] },
          { data: randomVec(36 * 8, rand), shape: [36, 8] },
        ],
        gpu: ([a, b]) => lowRankMatmul({ a, b, alpha: 2 }),
        forward: ([a, b]) => R.matmulForwardRef(a, b, 1, 20, 36, 8, false, false).map((v) => 2 * v),
        backward: () => [null, null],
      });
    } finally {
      setLowRankKernel(null);
    }
    assert.equal(count(), before);
  },
);

opCase("loraLinear's step runs no transpose pass, even where Aᵀ·B is materialized", async () => {
  await initGpu();
  const rt = gpu();
  setTransposedALayout("materialize");
  try {
    const [rows, inF, outF, r] = [12, 16, 20, 8];
    const t = (shape: number[], grad: boolean) =>
      Tensor.from(randomVec(shape.reduce((p, q) => p * q), rand), shape, { requiresGrad: grad });
    const [x, w, b, a, bb] = [
      t([rows, inF], false),
      t([outF, inF], false),
      t([outF], false),
      t([r, inF], true),
      t([outF, r], true),
    ];
    const count = () => rt.dispatchesByKernel.get("transpose.wgsl:transpose12_forward") ?? 0;
    const before = count();
    const y = loraLinear(x, w, b, a, bb, 2);
    backward(y, Tensor.from(randomVec(rows * outF, rand), [rows, outF]));
    assert.equal(count(), before, "transpose12 dispatches in a LoRA step");
    assert.ok(a.grad && bb.grad);
    endStep();
    [x, w, b, a, bb].forEach((v) => v.release());
  } finally {
    setTransposedALayout(null);
  }
});
