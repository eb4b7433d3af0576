// The vec4 matmul fast path, both tiles, on shapes it takes (multiples of 4, not of either tile), and the
// generated shader in sync with its generator.
import assert from "node:assert/strict";
import { checkOp, randomVec, rng } from "./helpers.ts";
import * as R from "./reference/ops_ref.ts";
import { matmul, usesVec4, vec4Tile } from "../src/ops/matmul.ts";
import { TILES } from "../tools/gen_matmul_vec4.ts";
import { linear } from "../src/ops/linear.ts";
import { generate } from "../tools/gen_matmul_vec4.ts";

const rand = rng(77);
const vec = (n: number) => randomVec(n, rand);

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
      return checkOp({
        inputs: [
          {
            data: vec(batch * M * K),
            shape: batch > 1
              ? [batch, transA ? K : M, transA ? M : K]
              : [transA ? K : M, transA ? M : K],
            grad: true,
          },
          {
            data: vec(batch * K * N),
            shape: batch > 1
              ? [batch, transB ? N : K, transB ? K : N]
              : [transB ? N : K, transB ? K : N],
            grad: true,
          },
        ],
        gpu: ([a, b]) => matmul(a, b, transA, transB),
        forward: ([a, b]) => R.matmulForwardRef(a, b, batch, M, K, N, transA, transB),
        backward: ([a, b], d) => R.matmulBackwardRef(a, b, d, batch, M, K, N, transA, transB),
      });
    });
  }
}

Deno.test("linear on the vec4 path (fused bias) 36x20 -> 52: forward, dX, dWeight, dBias", () => {
  const [rows, inF, outF] = [36, 20, 52];
  return checkOp({
    inputs: [
      { data: vec(rows * inF), shape: [rows, inF], grad: true },
      { data: vec(outF * inF), shape: [outF, inF], grad: true },
      { data: vec(outF), shape: [outF], grad: true },
    ],
    gpu: ([x, w, b]) => linear(x, w, b),
    forward: ([x, w, b]) => R.loraLinearForwardRef(x, w, b, null, null, rows, inF, outF, 0, 0),
    backward: ([x, w], d) => {
      const g = R.loraLinearBackwardRef(x, w, null, null, d, rows, inF, outF, 0, 0);
      return [g.dX, g.dW, g.dBias];
    },
  });
});
