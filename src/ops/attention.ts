// Fused self-attention (shaders/attention.wgsl): scores, mask, softmax, dropout and ·V in one
// dispatch on Q, K, V in their (B·T, hidden) layout; backward in two. The composed path
// (src/nn/attention.ts) takes over where this one does not fit (fusedAttentionFits).
import { Tensor } from "../tensor.ts";
import { gpu } from "../gpu/kernel.ts";
import { rowGrid } from "./variants.ts";
import { accumulateGrad, record, temporary } from "../autograd/tape.ts";

export interface AttentionShape {
  batch: number;
  seqLen: number;
  heads: number;
  /**
   * Q and the output hold only each sequence's first ([CLS]) row, (B, hidden): its attention over
   * all T keys, all a classifier reads of a last layer. Dropout drops those probabilities as it
   * would in the full (B, heads, T, T) tensor. Default false: every position's query.
   */
  clsOnly?: boolean;
}

/** Query rows per sequence: 1 ([CLS] alone) or T. */
export const queryRows = (s: AttentionShape): number => s.clsOnly ? 1 : s.seqLen;

/** Dropout on the attention probabilities: the mask of dropout(probs, prob, seed, stream). */
export interface AttentionDropout {
  prob: number;
  seed: number;
  stream: number;
}

/** attention.wgsl's MAX_D4 · 4: a lane holds several of a head's rows in registers, as vec4s. */
const MAX_HEAD_DIM = 128;
/**
 * A lane walks every key of its query row in turn, so its work grows with T where the composed
 * path's tiled matmuls spread it over more threads: the fused kernel is for short sequences
 * (timed here at T 32 only), and a workgroup has at most 128 lanes, one per row.
 */
const MAX_FUSED_SEQ = 128;

/** Whether the fused kernel takes sequences of `seqLen` with heads of `headDim` (vec4s). */
export function fusedAttentionFits(seqLen: number, headDim: number): boolean {
  return seqLen <= MAX_FUSED_SEQ && headDim % 4 === 0 && headDim <= MAX_HEAD_DIM;
}

function checkShapes(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  mask: Tensor,
  s: AttentionShape,
  table: Tensor | null,
): number {
  const [rows, hidden] = q.shape;
  const D = hidden / s.heads;
  // Packed: K and V hold the computed rows alone, and so does Q unless it holds the [CLS] rows.
  const keys = table ? k.shape[0] : s.batch * s.seqLen;
  const wantQ = table && !s.clsOnly ? keys : s.batch * queryRows(s);
  const same = (t: Tensor) => t.shape.length === 2 && t.shape[0] === keys && t.shape[1] === hidden;
  if (q.shape.length !== 2 || rows !== wantQ || !Number.isInteger(D)) {
    throw new Error(
      `attention: Q [${q.shape}] is not (${wantQ} rows, ${s.heads} heads × D)`,
    );
  }
  if (table && (table.dtype !== "u32" || table.size !== s.batch * s.seqLen)) {
    throw new Error(`attention: key table [${table.shape}] is not (B·T) u32`);
  }
  if (!same(k) || !same(v)) {
    throw new Error(`attention: Q [${q.shape}], K [${k.shape}] and V [${v.shape}] differ`);
  }
  if (mask.size !== s.batch * s.seqLen) {
    throw new Error(`attention: mask [${mask.shape}] is not (B, T)`);
  }
  if (!fusedAttentionFits(s.seqLen, D)) {
    throw new Error(
      `attention: T ${s.seqLen} > ${MAX_FUSED_SEQ}, or D ${D} not a multiple of 4 up to ` +
        `${MAX_HEAD_DIM}: the fused kernel does not take it (selfAttention falls back)`,
    );
  }
  return D;
}

/**
 * softmax(Q·Kᵀ/√D + (1 - mask)·f32::MIN)·V per head, with dropout on the probabilities when
 * `drop` is given. Q (B·T, hidden), or (B, hidden) with shape.clsOnly; K, V (B·T, hidden), mask
 * (B, T) of 1/0; returns the merged context, Q's shape. Saves Q, K, V and each row's softmax max
 * and 1/Σ; backward recomputes P.
 * `keyTable` (packed rows, Batch.packed.keys: (B·T) u32, each position's row or none, and its mask):
 * K, V, and Q unless clsOnly, hold only the computed rows (R, hidden), in the table's order; the
 * result is the padded layout's at those rows, and the table stands in for the mask.
 */
export function attention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  mask: Tensor,
  shape: AttentionShape,
  drop: AttentionDropout | null = null,
  keyTable: Tensor | null = null,
): Tensor {
  const D = checkShapes(q, k, v, mask, shape, keyTable);
  const { batch: B, seqLen: T, heads } = shape, Q = queryRows(shape);
  if (drop && !(drop.prob >= 0 && drop.prob < 1)) {
    throw new Error(`attention: dropout probability must be in [0, 1), got ${drop.prob}`);
  }
  const rt = gpu();
  const ints = [
    B,
    T,
    heads,
    (drop?.seed ?? 0) >>> 0,
    (drop?.stream ?? 0) >>> 0,
    Q,
    keyTable ? 1 : 0,
  ];
  const keys = keyTable ?? mask; // binding 4: the key table, or the mask read as bits
  const floats = [1 / Math.sqrt(D), drop?.prob ?? 0];
  // A workgroup per (batch, head), of a power of two lanes from 8 up, each taking `rows` query (or
  // key) rows: the forward kernel takes two, the backward kernels one (attention.wgsl says why).
  const launch = rowGrid(B * heads);
  const kernel = (entry: string, n: number, rows: 1 | 2) => ({
    shader: "attention.wgsl",
    entry,
    constants: { WG: Math.max(8, 2 ** Math.ceil(Math.log2(n / rows))), D4: D / 4 },
  });
  const out = Tensor.empty(q.shape);
  const stats = temporary(Tensor.empty([B, heads, Q, 3])); // freed by tidy() when unsaved
  rt.dispatch(
    kernel("attention_forward", Q, 2),
    [q.buffer, k.buffer, v.buffer, keys.buffer, out.buffer, stats.buffer],
    ints,
    floats,
    launch,
  );
  return record(out, [q, k, v], (dOut) => {
    const scratch = Tensor.empty([B, heads, Q, T, 2]); // P and dP
    const dQ = Tensor.empty(q.shape), dK = Tensor.empty(k.shape), dV = Tensor.empty(v.shape);
    rt.dispatch(
      kernel("attention_backward_query", Q, 1),
      [q, k, v, keys, stats, dOut, dQ, scratch].map((t) => t.buffer),
      ints,
      floats,
      launch,
    );
    if (k.requiresGrad || v.requiresGrad) { // e.g. LoRA on query alone: nothing for K, V
      rt.dispatch(
        kernel("attention_backward_key", T, 1),
        [q, null, null, keys, stats, scratch, dOut, dK, dV].map((t) => t?.buffer ?? null),
        ints,
        floats,
        launch,
      );
    }
    scratch.release();
    stats.release();
    for (const [t, g] of [[q, dQ], [k, dK], [v, dV]] as const) {
      if (t.requiresGrad) accumulateGrad(t, g);
      else g.release();
    }
  }, [q, k, v, stats]);
}
