// Scaled dot-product self-attention over heads, as BERT computes it:
// softmax(Q·Kᵀ/√d + (1 - mask)·f32::MIN)·V per head, with dropout on the probabilities.
// Q, K, V and the output are (B·T, hidden); heads are split and merged with transpose12, so the
// backward is the composition of the matmul, masked-softmax and transpose backwards.
import type { Tensor } from "../tensor.ts";
import { matmul } from "../ops/matmul.ts";
import { maskedSoftmax } from "../ops/softmax.ts";
import { transpose12 } from "../ops/transpose.ts";
import { reshape } from "../ops/reshape.ts";

export interface AttentionShape {
  batch: number;
  seqLen: number;
  heads: number;
}

export function selfAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  mask: Tensor, // (B, T) of 1/0
  { batch: B, seqLen: T, heads }: AttentionShape,
  dropProbs: (probs: Tensor) => Tensor = (p) => p,
): Tensor {
  const H = q.shape[1], D = H / heads;
  const toHeads = (x: Tensor) =>
    reshape(transpose12(reshape(x, [B, T, heads, D])), [B * heads, T, D]);
  const scores = reshape(matmul(toHeads(q), toHeads(k), false, true), [B, heads, T, T]);
  const probs = dropProbs(maskedSoftmax(scores, mask, 1 / Math.sqrt(D)));
  const ctx = matmul(reshape(probs, [B * heads, T, T]), toHeads(v)); // (B·heads, T, D)
  return reshape(transpose12(reshape(ctx, [B, heads, T, D])), [B * T, H]);
}
