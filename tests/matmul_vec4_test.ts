// The vec4 matmul fast path, both tiles, on shapes it takes (multiples of 4, not of either tile), and the
// generated shader in sync with its generator. The cases also run in Chromium (tests/browser/).
import assert from "node:assert/strict";
import {
  assertClose,
  checkLinear,
  checkLoraLinear,
  checkMatmul,
  f32,
  randomVec,
  rng,
} from "./helpers.ts";
import { matmulRaw, usesVec4, vec4Tile } from "../src/ops/matmul.ts";
import { Tensor } from "../src/tensor.ts";
import { initGpu } from "../src/gpu/kernel.ts";
import { generate, type Tile, TILES } from "../tools/gen_matmul_vec4.ts";
import { setMatmulTile } from "../src/ops/variants.ts";
import { caseRegistry, type TestCase } from "./cases.ts";

const deno = (globalThis as { Deno?: typeof Deno }).Deno;

/** These cases, for the browser test page (tests/browser/ops_page.ts). */
export const VEC4_CASES: TestCase[] = [];
const opCase = caseRegistry(VEC4_CASES);

const rand = rng(77);

// Reads the repository's files: Deno only.
deno?.test(
  "matmul_vec4.wgsl equals the output of tools/gen_matmul_vec4.ts",
  async () => {
    assert.equal(
      await Deno.readTextFile(new URL("../shaders/matmul_vec4.wgsl", import.meta.url)),
      generate(),
    );
  },
);

/** Runs `fn` with the vec4 path's large tile ("register": 16×16, "register-tall": lavapipe's). */
async function underTile(tile: "register" | "register-tall", fn: () => Promise<void>) {
  setMatmulTile(tile);
  try {
    await fn();
  } finally {
    setMatmulTile(null);
  }
}

const TALL = { "register": false, "register-tall": true } as const;
/** Tall-tile cases stay out of the browser page: only lavapipe runs that tile. */
const caseFor = (reg: keyof typeof TALL) =>
  reg === "register-tall"
    ? (name: string, fn: () => Promise<void>) => deno?.test(name, fn)
    : opCase;
const tileName = (t: Tile) => t === TILES.small ? "small" : t === TILES.tall ? "tall" : "large";

for (const reg of ["register", "register-tall"] as const) {
  for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]]) {
    for (
      const [batch, M, K, N] of [
        [1, 36, 20, 140],
        [3, 68, 12, 4],
        [2, 4, 4, 8],
        [1, 132, 12, 140],
        [
          2,
          140,
          8,
          132,
        ],
      ]
    ) {
      const tile = vec4Tile(M, N, TALL[reg]);
      if (reg === "register-tall" && tile === TILES.small) continue; // run once already
      caseFor(reg)(
        `matmul vec4 ${tileName(tile)} tile ${transA ? "Aᵀ" : "A"}·${
          transB ? "Bᵀ" : "B"
        } batch ${batch} ${M}x${K}x${N}: forward, dA, dB`,
        () =>
          underTile(reg, () => {
            assert.ok(usesVec4(M, N, K, transA, transB), "shape takes the vec4 path");
            return checkMatmul(transA, transB, [batch, M, K, N], rand);
          }),
      );
    }
  }
}

opCase(
  "linear on the vec4 path (fused bias) 36x20 -> 52: forward, dX, dWeight, dBias",
  () => underTile("register", () => checkLinear(36, 20, 52, rand)),
);

for (const reg of ["register", "register-tall"] as const) {
  caseFor(reg)(
    `linear on the vec4 ${
      tileName(vec4Tile(132, 132, TALL[reg]))
    } tile (fused bias) 132x20 -> 132: forward, dX, dWeight, dBias`,
    () => underTile(reg, () => checkLinear(132, 20, 132, rand)),
  );
}

// ACCUMULATE (C += alpha·op(A)·op(B) [+ bias], a gradient summed in place) on both large tiles;
// M and N not multiples of the tile, so edge threads must not write. The 16×16 tile takes both
// op(B) layouts with a bias; the tall tile, whose every pipeline variant takes lavapipe 10-25 s to
// compile cold, the variant training runs (dX summed into a gradient: A·B, no bias), since the
// epilogue (store_c) is one code path for both tiles.
for (
  const [reg, transB, withBias] of [
    ["register", false, true],
    ["register", true, true],
    ["register-tall", false, false],
  ] as const
) {
  {
    const [M, K, N] = [130, 12, 140];
    caseFor(reg)(
      `matmul vec4 ${tileName(vec4Tile(M, N, TALL[reg]))} tile into C (ACCUMULATE) A·${
        transB ? "Bᵀ" : "B"
      } ${M}x${K}x${N}, alpha 0.5${withBias ? ", bias" : ""}`,
      () =>
        underTile(reg, async () => {
          await initGpu();
          assert.notEqual(vec4Tile(M, N, TALL[reg]), TILES.small);
          const a = f32(randomVec(M * K, rand)), b = f32(randomVec(K * N, rand));
          const bias = f32(randomVec(N, rand)), c0 = f32(randomVec(M * N, rand));
          const [ta, tb, tbias, tc] = [
            Tensor.from(Float32Array.from(a), [M, K]),
            Tensor.from(Float32Array.from(b), transB ? [N, K] : [K, N]),
            Tensor.from(Float32Array.from(bias), [N]),
            Tensor.from(Float32Array.from(c0), [M, N]),
          ];
          matmulRaw({ a: ta, b: tb, transB, alpha: 0.5, bias: withBias ? tbias : null, into: tc });
          const want = c0.map((v, i) => {
            const m = Math.floor(i / N), n = i % N;
            let s = 0;
            for (let k = 0; k < K; k++) s += a[m * K + k] * b[transB ? n * K + k : k * N + n];
            return v + 0.5 * s + (withBias ? bias[n] : 0);
          });
          assertClose(await tc.read(), want, 1e-5, `C + 0.5·A·B${withBias ? " + bias" : ""}`);
          [ta, tb, tbias, tc].forEach((t) => t.release());
        }),
    );
  }
}

// The low-rank term as extra k-steps: forward reads B as (N, R) rows, dX reads A as (R, N) columns.
for (
  const [rows, inF, outF, r, reg] of [
    [36, 20, 52, 4, "register"],
    [132, 20, 136, 8, "register"],
    [132, 20, 136, 8, "register-tall"],
    [140, 132, 12, 8, "register"],
  ] as const
) {
  caseFor(reg)(
    `loraLinear on the vec4 path, ${
      tileName(vec4Tile(rows, outF, TALL[reg]))
    } tile, ${rows}x${inF} -> ${outF} rank ${r}: forward, dX, dW, dBias, dA, dB`,
    () =>
      underTile(reg, () => {
        assert.ok(usesVec4(rows, outF, inF, false, true) && r % 4 === 0);
        return checkLoraLinear(rows, inF, outF, r, 16 / r, true, rand);
      }),
  );
}
