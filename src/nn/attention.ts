// Scaled dot-product self-attention over heads, as BERT computes it:
// softmax(Q·Kᵀ/√d + (1 - mask)·f32::MIN)·V per head, with dropout on the probabilities.
// Q, K, V and the output are (B·T, hidden), or Q and the output (B, hidden) when only the [CLS]
// queries are wanted (AttentionShape.clsOnly). Short sequences run the fused kernel
// (src/ops/attention.ts: one dispatch forward, two backward); longer ones the composed path,
// whose heads are split and merged with transpose12 and whose backward is the composition of the
// matmul, masked-softmax, dropout and transpose backwards. Both drop the same probabilities.
import type { Tensor } from "../tensor.ts";
import { matmul } from "../ops/matmul.ts";
import { maskedSoftmax } from "../ops/softmax.ts";
import { transpose12 } from "../ops/transpose.ts";
import { reshape } from "../ops/reshape.ts";
import { dropout } from "../ops/dropout.ts";
import { embedding } from "../ops/embedding.ts";
import {
  attention,
  type AttentionDropout,
  type AttentionShape,
  fusedAttentionFits,
  queryRows,
} from "../ops/attention.ts";

export type { AttentionDropout, AttentionShape };

/** A batch's packed rows (src/data/batches.ts, Batch.packed): the tables attention needs. */
export interface PackedRows {
  /** (B·T) u32: each position's packed row and mask bit (attention.wgsl's key table). */
  keys: Tensor;
  /** (B·T) u32: each position's packed row, 0 for one not computed (a gather to the padded layout). */
  padded: Tensor;
  /** (R) u32: each packed row's position b·T + t. */
  rowOf: Tensor;
}

let forcedPath: "fused" | "composed" | null = null;

/**
 * Forces one path (tests compare the two through a whole model); null: the fused kernel where it
 * fits. Forcing "fused" on a shape it does not take throws.
 */
export function setAttentionPath(path: "fused" | "composed" | null): void {
  forcedPath = path;
}

/**
 * Q (B·T, hidden; (B, hidden) with shape.clsOnly), K, V (B·T, hidden) → the merged context, Q's
 * shape: the fused kernel where it fits
 * (fusedAttentionFits), else the composed path; `drop` names the probabilities' dropout mask.
 * With `packed`, Q (unless clsOnly), K, V and the result hold the batch's packed rows (R, hidden)
 * alone: the fused kernel reads them through the key table; the composed path gathers them into
 * the padded layout (a position not computed takes row 0: a masked key, whose weight is exactly
 * 0, and a query whose output is dropped) and the result back out.
 */
export function selfAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  mask: Tensor, // (B, T) of 1/0
  shape: AttentionShape,
  drop: AttentionDropout | null = null,
  packed: PackedRows | null = null,
): Tensor {
  const fused = forcedPath ? forcedPath === "fused" : fusedAttentionFits(
    shape.seqLen,
    q.shape[1] / shape.heads,
  );
  if (fused) return attention(q, k, v, mask, shape, drop, packed?.keys ?? null);
  if (!packed) return composedAttention(q, k, v, mask, shape, drop);
  const spread = (x: Tensor) => embedding(x, packed.padded);
  const out = composedAttention(
    shape.clsOnly ? q : spread(q),
    spread(k),
    spread(v),
    mask,
    shape,
    drop,
  );
  return shape.clsOnly ? out : embedding(out, packed.rowOf);
}

/**
 * The unfused path, for shapes the fused kernel does not take: 7–8 dispatches forward and 11–12
 * backward on lavapipe (head split and merge transposes, QKᵀ, masked softmax, dropout, ·V).
 */
export function composedAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  mask: Tensor,
  shape: AttentionShape,
  drop: AttentionDropout | null = null,
): Tensor {
  const { batch: B, seqLen: T, heads } = shape, Q = queryRows(shape);
  const H = q.shape[1], D = H / heads;
  const toHeads = (x: Tensor, rows: number) =>
    reshape(transpose12(reshape(x, [B, rows, heads, D])), [B * heads, rows, D]);
  const scores = reshape(matmul(toHeads(q, Q), toHeads(k, T), false, true), [B, heads, Q, T]);
  const softmaxed = maskedSoftmax(scores, mask, 1 / Math.sqrt(D));
  // [CLS] queries alone: row b·heads + h of the probabilities is row (b·heads + h)·T of the full
  // (B·heads·T, T) ones, and takes that row's mask.
  const probs = drop ? dropout(softmaxed, drop.prob, drop.seed, drop.stream, T / Q) : softmaxed;
  const ctx = matmul(reshape(probs, [B * heads, Q, T]), toHeads(v, T)); // (B·heads, Q, D)
  return reshape(transpose12(reshape(ctx, [B, heads, Q, D])), [B * Q, H]);
}
