// A batch on the GPU: token ids, token types, positions, attention mask, [CLS] rows and labels.
import { Tensor } from "../tensor.ts";
import { temporary } from "../autograd/tape.ts";

export interface Encoding {
  inputIds: number[];
  attentionMask: number[];
  /** 0 for the first text, 1 for the second of a pair; absent (all 0) for single texts. */
  tokenTypeIds?: number[];
}

export interface Batch {
  size: number;
  seqLen: number;
  ids: Tensor; // (B·T) u32
  typeIds: Tensor; // (B·T) u32
  positions: Tensor; // (B·T) u32
  mask: Tensor; // (B, T) f32, 1 for tokens, 0 for padding
  clsRows: Tensor; // (B) u32: row b·T of the hidden states
  labels: Tensor | null; // (B) u32
  /** The largest token type id in the batch (1 with a sentence pair), checked by the model. */
  maxTypeId: number;
}

/** Uploads a batch whose tensors live until the step ends (endStep releases them). */
export function makeBatch(
  encodings: Encoding[],
  labels: number[] | null,
  vocabSize: number,
): Batch {
  const B = encodings.length, T = encodings[0].inputIds.length;
  const ids = new Uint32Array(B * T), mask = new Float32Array(B * T), pos = new Uint32Array(B * T);
  const types = new Uint32Array(B * T);
  let maxTypeId = 0;
  encodings.forEach((e, b) => {
    if (e.inputIds.length !== T) {
      throw new Error(`batch: sequence ${b} has length ${e.inputIds.length}, not ${T}`);
    }
    e.inputIds.forEach((id, t) => {
      if (id < 0 || id >= vocabSize) {
        throw new Error(`batch: token id ${id} is outside the vocabulary (${vocabSize})`);
      }
      ids[b * T + t] = id;
      mask[b * T + t] = e.attentionMask[t];
      pos[b * T + t] = t;
      types[b * T + t] = e.tokenTypeIds?.[t] ?? 0;
      maxTypeId = Math.max(maxTypeId, types[b * T + t]);
    });
  });
  const u32 = (data: ArrayLike<number>, shape: number[]) =>
    temporary(Tensor.from(data, shape, { dtype: "u32" }));
  return {
    size: B,
    seqLen: T,
    ids: u32(ids, [B * T]),
    typeIds: u32(types, [B * T]),
    positions: u32(pos, [B * T]),
    mask: temporary(Tensor.from(mask, [B, T])),
    clsRows: u32(Array.from({ length: B }, (_, b) => b * T), [B]),
    labels: labels ? u32(labels, [B]) : null,
    maxTypeId,
  };
}
