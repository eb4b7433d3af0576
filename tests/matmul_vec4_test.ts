// The vec4 matmul fast path, both tiles, on shapes it takes (multiples of 4, not of either tile), and the
// generated shader in sync with its generator.
import assert from "node:assert/strict";
import { checkLinear, checkLoraLinear, checkMatmul, rng } from "./helpers.ts";
import { usesVec4, vec4Tile } from "../src/ops/matmul.ts";
import { generate, TILES } from "../tools/gen_matmul_vec4.ts";

const rand = rng(77);

Deno.test("matmul_vec4.wgsl equals the output of tools/gen_matmul_vec4.ts", async () => {
  assert.equal(
    await Deno.readTextFile(new URL("../shaders/matmul_vec4.wgsl", import.meta.url)),
    generate(),
  );
});

for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]]) {
  for (
    const [batch, M, K, N] of [[1, 36, 20, 140], [3, 68, 12, 4], [2, 4, 4, 8], [1, 132, 12, 140], [
      2,
      140,
      8,
      132,
    ]]
  ) {
    const tile = vec4Tile(M, N) === TILES.large ? "large" : "small";
    Deno.test(`matmul vec4 ${tile} tile ${transA ? "Aᵀ" : "A"}·${transB ? "Bᵀ" : "B"} batch ${batch} ${M}x${K}x${N}: forward, dA, dB`, () => {
      assert.ok(usesVec4(M, N, K, transA, transB), "shape takes the vec4 path");
      return checkMatmul(transA, transB, [batch, M, K, N], rand);
    });
  }
}

Deno.test("linear on the vec4 path (fused bias) 36x20 -> 52: forward, dX, dWeight, dBias", () =>
  checkLinear(36, 20, 52, rand));

// The low-rank term as extra k-steps: forward reads B as (N, R) rows, dX reads A as (R, N) columns.
for (
  const [rows, inF, outF, r, tile] of [[36, 20, 52, 4, "small"], [132, 20, 136, 8, "large"], [
    140,
    132,
    12,
    8,
    "small",
  ]] as const
) {
  Deno.test(`loraLinear on the vec4 path, ${tile} tile, ${rows}x${inF} -> ${outF} rank ${r}: forward, dX, dW, dBias, dA, dB`, () => {
    assert.ok(usesVec4(rows, outF, inF, false, true) && r % 4 === 0);
    return checkLoraLinear(rows, inF, outF, r, 16 / r, true, rand);
  });
}
