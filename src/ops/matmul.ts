// matmul: C = op(A) · op(B), optionally batched, with the kernel's fused epilogue for linear/LoRA.
import { Tensor } from "../tensor.ts";
import { gpu } from "../gpu/kernel.ts";
import { accumulateGrad, record } from "../autograd/tape.ts";
import { type Tile, TILES } from "../../tools/gen_matmul_vec4.ts";
import { transpose12Raw } from "./transpose.ts";
import { matmulTile, transposedALayout } from "./variants.ts";

export interface MatmulArgs {
  a: Tensor;
  b: Tensor;
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  bias?: Tensor | null;
  /** Adds lowScale · left (M, R) · right(n, r) with right(n, r) at n·strideN + r·strideR. */
  lowRank?: {
    left: Tensor;
    right: Tensor;
    r: number;
    strideN: number;
    strideR: number;
    scale: number;
  };
  /**
   * Accumulate into this tensor (batch?, M, N) in the kernel's epilogue, C += result, instead of
   * writing a new one: a gradient summed where it is made rather than by a separate add pass.
   */
  into?: Tensor;
}

function dims(t: Tensor): [number, number, number] {
  if (t.shape.length === 2) return [1, t.shape[0], t.shape[1]];
  if (t.shape.length === 3) return [t.shape[0], t.shape[1], t.shape[2]];
  throw new Error(`matmul: expected a 2-D or 3-D tensor, got [${t.shape}]`);
}

/** Dispatches the kernel into a new tensor; no autograd. Shapes are (batch?, rows, cols). */
export function matmulRaw(args: MatmulArgs): Tensor {
  const { a, b, transA = false, transB = false, alpha = 1, bias = null, lowRank } = args;
  const [batchA, ra, ca] = dims(a);
  if (transA && transposedALayout() === "materialize") {
    // Aᵀ written out once, then the untransposed kernel (src/ops/variants.ts says why).
    const at = transpose12Raw(a, [batchA, ra, ca, 1]).moveTo(
      a.shape.length === 3 ? [batchA, ca, ra] : [ca, ra],
    );
    const out = matmulRaw({ ...args, a: at, transA: false });
    at.release();
    return out;
  }
  const [batchB, rb, cb] = dims(b);
  const [M, K] = transA ? [ca, ra] : [ra, ca];
  const [Kb, N] = transB ? [cb, rb] : [rb, cb];
  if (K !== Kb) {
    throw new Error(
      `matmul: inner dimensions differ: [${a.shape}]${transA ? "ᵀ" : ""} · [${b.shape}]${
        transB ? "ᵀ" : ""
      }`,
    );
  }
  if (batchA !== batchB) {
    throw new Error(`matmul: batch sizes differ: [${a.shape}] and [${b.shape}]`);
  }
  const batched = a.shape.length === 3;
  const into = args.into;
  if (into && into.size !== batchA * M * N) {
    throw new Error(`matmul: accumulating a [${batchA}, ${M}, ${N}] product into [${into.shape}]`);
  }
  const out = into ?? Tensor.empty(batched ? [batchA, M, N] : [M, N]);
  const rt = gpu();
  const shared = matmulTile() === "workgroup";
  const vec4 = !shared && usesVec4(M, N, K, transA, transB) &&
    (!lowRank || (lowRank.r % 4 === 0 && (lowRank.strideR === 1 || N % 4 === 0)));
  const tile = vec4Tile(M, N, matmulTile() === "register-tall");
  rt.dispatch(
    {
      shader: shared ? "matmul_shared.wgsl" : vec4 ? "matmul_vec4.wgsl" : "matmul.wgsl",
      entry: shared ? "matmul_shared_forward" : vec4 ? ENTRIES.get(tile)! : "matmul_forward",
      constants: {
        TRANS_A: transA ? 1 : 0,
        TRANS_B: transB ? 1 : 0,
        HAS_BIAS: bias ? 1 : 0,
        HAS_LOW_RANK: lowRank ? 1 : 0,
        ACCUMULATE: into ? 1 : 0,
        // The vec4 kernel reads the low-rank right operand as (N, R) rows or (R, N) columns.
        ...(vec4 ? { LOW_RANK_ROWS: !lowRank || lowRank.strideR === 1 ? 1 : 0 } : {}),
      },
    },
    [
      a.buffer,
      b.buffer,
      out.buffer,
      bias?.buffer ?? rt.dummy,
      lowRank?.left.buffer ?? rt.dummy,
      lowRank?.right.buffer ?? rt.dummy,
    ],
    [M, N, K, lowRank?.r ?? 0, M * K, K * N, M * N, lowRank?.strideN ?? 0, lowRank?.strideR ?? 0],
    [alpha, lowRank?.scale ?? 0],
    shared // 32×32 blocks of C per workgroup
      ? [Math.ceil(N / 32), Math.ceil(M / 32), batchA]
      : vec4
      ? [Math.ceil(N / (tile.wx * tile.tn)), Math.ceil(M / (tile.wy * tile.tm)), batchA]
      : [Math.ceil(N / 64), Math.ceil(M / 64), batchA],
  );
  return out;
}

/**
 * t's gradient += the product: accumulated in the matmul's epilogue when t already has one (a
 * tensor with several consumers, or gradient accumulation over micro-batches), else a new tensor.
 */
export function accumulateMatmul(t: Tensor, args: MatmulArgs): void {
  if (t.grad) matmulRaw({ ...args, into: t.grad });
  else accumulateGrad(t, matmulRaw(args));
}

const ENTRIES = new Map<Tile, string>([
  [TILES.large, "matmul_vec4_forward"],
  [TILES.tall, "matmul_vec4_tall_forward"],
  [TILES.small, "matmul_vec4_small_forward"],
]);

/**
 * The large tile (tall: the one lavapipe runs, see tools/gen_matmul_vec4.ts), or the small one for
 * a matrix smaller than a large tile's workgroup (attention's 32×32 blocks), which would leave
 * most threads idle.
 */
export function vec4Tile(M: number, N: number, tall = false): Tile {
  const large = tall ? TILES.tall : TILES.large;
  return M < large.wy * large.tm || N < large.wx * large.tn ? TILES.small : large;
}

/** The vec4 fast path reads K, and M (transposed A) or N (untransposed B), four at a time. */
export function usesVec4(
  M: number,
  N: number,
  K: number,
  transA: boolean,
  transB: boolean,
): boolean {
  return K % 4 === 0 && (!transA || M % 4 === 0) && (transB || N % 4 === 0) && M > 0 && N > 0;
}

/** C = op(A) · op(B); A (batch?, M, K) or stored (batch?, K, M) with transA, likewise B. */
export function matmul(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  const out = matmulRaw({ a, b, transA, transB });
  return record(out, [a, b], (dC) => {
    if (a.requiresGrad) {
      accumulateMatmul(
        a,
        transA ? { a: b, b: dC, transA: transB, transB: true } : { a: dC, b, transB: !transB },
      );
    }
    if (b.requiresGrad) {
      accumulateMatmul(
        b,
        transB ? { a: dC, b: a, transA: true, transB: transA } : { a, b: dC, transA: !transA },
      );
    }
  }, [...(b.requiresGrad ? [a] : []), ...(a.requiresGrad ? [b] : [])]);
}
