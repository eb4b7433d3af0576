// A batch on the GPU: token ids, token types, positions, attention mask, [CLS] rows and labels,
// for the rows the encoder computes: every position (padded), or, packed, the real tokens alone.
import { Tensor } from "../tensor.ts";
import { temporary } from "../autograd/tape.ts";
import type { PackedRows } from "../nn/attention.ts";

/** Packed row counts are multiples of this (capped at B·T), so a run sees few buffer sizes. */
export const PACK_BUCKET = 32;

let packing = true;

/**
 * Whether batches are packed (the default): the encoder then computes only the positions it
 * needs, every real token's, not the padding's, and gives the same logits and gradients (tests
 * compare the two). Off: every position of the padded (B, T) layout.
 */
export function setPacking(on: boolean): void {
  packing = on;
}

export interface Encoding {
  inputIds: number[];
  attentionMask: number[];
  /** 0 for the first text, 1 for the second of a pair; absent (all 0) for single texts. */
  tokenTypeIds?: number[];
}

export interface Batch {
  size: number;
  seqLen: number;
  /** R: the rows the encoder computes, B·T unless packed. */
  rows: number;
  ids: Tensor; // (R) u32
  typeIds: Tensor; // (R) u32
  positions: Tensor; // (R) u32
  mask: Tensor; // (B, T) f32, 1 for tokens, 0 for padding
  clsRows: Tensor; // (B) u32: the row of each sequence's [CLS] (position b·T) in the hidden states
  /** The tables of packed rows (null: all B·T rows, in order). */
  packed: PackedRows | null;
  labels: Tensor | null; // (B) u32
  /** The largest token type id in the batch (1 with a sentence pair), checked by the model. */
  maxTypeId: number;
}

/**
 * The positions b·T + t a packed batch computes, in order: every one with mask 1 and every [CLS]
 * position b·T (all T of a sequence with no mask-1 position, whose attention is over all of them
 * alike), then mask-0 positions, lowest first, up to a multiple of PACK_BUCKET (capped at B·T).
 * Attention ignores a mask-0 key (weight exactly 0), so no computed row depends on the others.
 */
export function packedRows(mask: ArrayLike<number>, B: number, T: number): number[] {
  const need = new Uint8Array(B * T);
  for (let b = 0; b < B; b++) {
    let any = false;
    for (let t = 0; t < T; t++) any ||= mask[b * T + t] !== 0;
    for (let t = 0; t < T; t++) {
      need[b * T + t] = !any || t === 0 || mask[b * T + t] !== 0 ? 1 : 0;
    }
  }
  let n = need.reduce((a, v) => a + v, 0);
  const R = Math.min(B * T, Math.ceil(n / PACK_BUCKET) * PACK_BUCKET);
  for (let i = 0; i < B * T && n < R; i++) if (!need[i]) need[i] = 1, n++;
  const rows: number[] = [];
  need.forEach((v, i) => v && rows.push(i));
  return rows;
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
  const batch = (
    rows: number,
    pick: (a: Uint32Array) => Uint32Array,
    cls: number[],
    packed: PackedRows | null,
  ) => ({
    size: B,
    seqLen: T,
    rows,
    ids: u32(pick(ids), [rows]),
    typeIds: u32(pick(types), [rows]),
    positions: u32(pick(pos), [rows]),
    mask: temporary(Tensor.from(mask, [B, T])),
    clsRows: u32(cls, [B]),
    packed,
    labels: labels ? u32(labels, [B]) : null,
    maxTypeId,
  });
  const rowOf = packing ? packedRows(mask, B, T) : [];
  if (!packing || rowOf.length === B * T) {
    return batch(B * T, (a) => a, Array.from({ length: B }, (_, b) => b * T), null);
  }
  const t = packedTables(mask, rowOf, B, T);
  return batch(rowOf.length, (a) => Uint32Array.from(rowOf, (i) => a[i]), t.cls, {
    keys: u32(t.keys, [B * T]),
    padded: u32(t.padded, [B * T]),
    rowOf: u32(rowOf, [rowOf.length]),
  });
}

/**
 * The tables of the packed layout that computes positions `rowOf` (ascending) of a (B, T) batch
 * with attention mask `mask`, on the CPU (see PackedRows): `keys` attention.wgsl's key table,
 * `padded` each position's packed row (0 for one not computed), `cls` the packed row of each
 * sequence's position b·T.
 */
export function packedTables(
  mask: ArrayLike<number>,
  rowOf: number[],
  B: number,
  T: number,
): { keys: Uint32Array; padded: Uint32Array; cls: number[] } {
  const NONE = 0x7fffffff, MASKED = 0x80000000;
  const slot = new Uint32Array(B * T).fill(NONE);
  rowOf.forEach((i, r) => (slot[i] = r));
  return {
    keys: slot.map((r, i) => r === NONE || mask[i] === 0 ? (r | MASKED) >>> 0 : r),
    padded: slot.map((r) => (r === NONE ? 0 : r)),
    cls: Array.from({ length: B }, (_, b) => slot[b * T]),
  };
}
