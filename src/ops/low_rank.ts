// lowRankMatmul: C (M, N) = alpha · op(A) · op(B) [+ into] when N or M is a LoRA rank (≤ MAX_RANK),
// on shaders/low_rank.wgsl: one invocation per row of the long side (or a register tile of 8 or 16
// rows, lowRankTile) holding all its rank-side columns, which reads op(A) or op(B) in either
// layout, so LoRA's Aᵀ·B products (dB = s·dYᵀ·xa, dA = dXaᵀ·x) need no transpose pass; and
// loraDyProducts, dXa and dB in one dispatch. Raw kernels (no autograd) for loraLinear's record and
// backward; any other shape runs matmulRaw.
import { Tensor } from "../tensor.ts";
import { gpu } from "../gpu/kernel.ts";
import { accumulateGrad } from "../autograd/tape.ts";
import { type MatmulArgs, matmulRaw } from "./matmul.ts";
import { isCpuAdapter } from "./variants.ts";

/** The widest rank side the kernel takes (eight 8-column blocks); wider runs the matmul. */
export const MAX_RANK = 64;

let kernelOn = true;

/** false routes every product to matmulRaw (timing one against the other); null restores it. */
export function setLowRankKernel(on: boolean | null): void {
  kernelOn = on ?? true;
}

/**
 * "single": one row of C per invocation (four with cols4), workgroups of 64; "tiled": register
 * tiles of 8 or 16 rows (rows4x8, cols8, cols16), so every lane reuses each loaded Y vec4 over
 * them, in workgroups of 8 on a CPU rasteriser (its threads take whole workgroups; a tile of fewer,
 * fatter invocations must still spread over its cores), and loraDyProducts in one dispatch.
 */
export type LowRankTile = "single" | "tiled";

let tileChoice: LowRankTile | null = null;

/** The register-tiled kernels on CPU rasterisers (load-bound there), one row per lane elsewhere. */
export function lowRankTile(): LowRankTile {
  return tileChoice ?? (isCpuAdapter() ? "tiled" : "single");
}

/** Forces a tile (null: back to the adapter's default). */
export function setLowRankTile(tile: LowRankTile | null): void {
  tileChoice = tile;
}

export type LowRankArgs = Pick<MatmulArgs, "a" | "b" | "transA" | "transB" | "alpha" | "into">;

/**
 * The product as the kernel reads it: C' (P, r) = X (P, K) · Y (K, r), written as C' or as C'ᵀ.
 * N small: X = op(A), Y = op(B). M small: C = (op(B)ᵀ · op(A)ᵀ)ᵀ, X = op(B)ᵀ, Y = op(A)ᵀ.
 */
function plan(M: number, N: number, transA: boolean, transB: boolean) {
  if (N <= MAX_RANK) return { P: M, r: N, xCols: transA, yCols: transB, cCols: false };
  return { P: N, r: M, xCols: !transB, yCols: !transA, cCols: true };
}

/**
 * C (M, N) = alpha · op(A) · op(B), A (M, K) or stored (K, M) with transA, likewise B (K, N) or
 * (N, K); C += the product when `into` (M, N) is given. 2-D only; a batched product, or one with
 * neither M nor N at most MAX_RANK, runs matmulRaw. Throws on mismatched shapes as matmulRaw does.
 */
export function lowRankMatmul(args: LowRankArgs): Tensor {
  const { a, b, transA = false, transB = false, alpha = 1, into } = args;
  if (!kernelOn || a.shape.length !== 2 || b.shape.length !== 2) return matmulRaw(args);
  const [M, K] = transA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [Kb, N] = transB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  if (K !== Kb || Math.min(M, N) > MAX_RANK || M === 0 || N === 0) return matmulRaw(args);
  if (into && into.size !== M * N) {
    throw new Error(`lowRankMatmul: accumulating a [${M}, ${N}] product into [${into.shape}]`);
  }
  const out = into ?? Tensor.empty([M, N]);
  const { P, r, xCols, yCols, cCols } = plan(M, N, transA, transB);
  // vec4 loads along the dimension each layout walks: K for row-major X (and column-major Y),
  // P for column-major X; r for a row-major Y.
  const rows4 = !xCols && K % 4 === 0 && (yCols || r % 4 === 0);
  const cols4 = xCols && !yCols && P % 4 === 0 && r % 4 === 0;
  const tiled = lowRankTile() === "tiled" && (rows4 || cols4);
  const wg = tiled && isCpuAdapter() ? 8 : 64;
  // Rows of C per invocation: cols16 where it still makes 4 workgroups (bert-base's 3072-wide
  // dB and dA: ~20% less CPU time than cols8), else cols8, so that small products still spread.
  const perLane = !tiled ? (cols4 ? 4 : 1) : cols4 && P >= 16 * wg * 4 ? 16 : 8;
  const entry = rows4
    ? (tiled ? "low_rank_rows4x8" : "low_rank_rows4")
    : cols4
    ? (tiled ? `low_rank_cols${perLane}` : "low_rank_cols4")
    : "low_rank_forward";
  const x = N <= MAX_RANK ? a : b, y = N <= MAX_RANK ? b : a;
  gpu().dispatch(
    {
      shader: "low_rank.wgsl",
      entry,
      constants: {
        X_COLS: xCols ? 1 : 0,
        Y_COLS: yCols ? 1 : 0,
        C_COLS: cCols ? 1 : 0,
        ACCUMULATE: into ? 1 : 0,
        ...(tiled ? { WG: wg } : {}),
      },
    },
    [x.buffer, y.buffer, out.buffer, loopEnd(K)],
    [P, K, r],
    [alpha],
    [Math.ceil(P / perLane / wg), Math.ceil(r / 8), 1],
  );
  return out;
}

/**
 * The loop ends as the kernel reads them, a storage buffer per runtime and values (low_rank.wgsl
 * says why): [K], or low_rank_dy's [K, P].
 */
const loopEnds = new WeakMap<object, Map<string, GPUBuffer>>();

function loopEnd(...ends: number[]): GPUBuffer {
  const rt = gpu();
  let byEnds = loopEnds.get(rt);
  if (!byEnds) loopEnds.set(rt, byEnds = new Map());
  const key = ends.join(",");
  let buf = byEnds.get(key);
  if (!buf) {
    buf = rt.device.createBuffer({
      size: 16,
      usage: GPUBufferUsage.STORAGE,
      mappedAtCreation: true,
    });
    new Uint32Array(buf.getMappedRange()).set(ends);
    buf.unmap();
    byEnds.set(key, buf);
  }
  return buf;
}

let dyFused = true;

/** false runs loraDyProducts as its two products (timing one against the other); null restores. */
export function setLowRankDyFused(on: boolean | null): void {
  dyFused = on ?? true;
}

/**
 * LoRA's two backward products that read dY (R, out), B (out, r) and xa (R, r): returns
 * dXa = alpha·dY·B (R, r) and accumulates alpha·dYᵀ·xa into B's gradient. With the register tiles
 * (lowRankTile "tiled"), out and r multiples of 4 and r ≤ MAX_RANK, both in one dispatch
 * (low_rank_dy); otherwise as lowRankMatmul and accumulateLowRank would. Throws on mismatched
 * shapes.
 */
export function loraDyProducts(dY: Tensor, B: Tensor, xa: Tensor, alpha: number): Tensor {
  const [R, out] = dY.shape, r = B.shape[1];
  if (
    dY.shape.length !== 2 || B.shape.length !== 2 || xa.shape.length !== 2 ||
    B.shape[0] !== out || xa.shape[0] !== R || xa.shape[1] !== r
  ) {
    throw new Error(`loraDyProducts: dY [${dY.shape}], B [${B.shape}], xa [${xa.shape}]`);
  }
  if (
    !kernelOn || !dyFused || lowRankTile() !== "tiled" || out % 4 !== 0 || r % 4 !== 0 ||
    r > MAX_RANK || R === 0
  ) {
    accumulateLowRank(B, { a: dY, b: xa, transA: true, alpha });
    return lowRankMatmul({ a: dY, b: B, alpha });
  }
  const dXa = Tensor.empty([R, r]);
  const dB = B.grad ?? Tensor.empty([out, r]);
  const wg = isCpuAdapter() ? 8 : 64;
  gpu().dispatch(
    {
      shader: "low_rank.wgsl",
      entry: "low_rank_dy",
      constants: {
        X_COLS: 0,
        Y_COLS: 0,
        C_COLS: 0,
        ACCUMULATE: 0,
        ACCUMULATE_DB: B.grad ? 1 : 0,
        WG: wg,
      },
    },
    [dY.buffer, B.buffer, dXa.buffer, loopEnd(out, R), xa.buffer, dB.buffer],
    [R, out, r],
    [alpha],
    [Math.ceil(R / 8 / wg) + Math.ceil(out / 16 / wg), Math.ceil(r / 8), 1],
  );
  if (!B.grad) accumulateGrad(B, dB);
  return dXa;
}

/** t's gradient += the product (in the kernel when t has one already), as accumulateMatmul. */
export function accumulateLowRank(t: Tensor, args: LowRankArgs): void {
  if (t.grad) lowRankMatmul({ ...args, into: t.grad });
  else accumulateGrad(t, lowRankMatmul(args));
}
