// dropout with a counter-based RNG: (seed, stream) names the mask; backward regenerates it.
import { Tensor } from "../tensor.ts";
import { gpu, grid1d } from "../gpu/kernel.ts";
import { accumulateGrad, record } from "../autograd/tape.ts";

function dropoutRaw(
  entry: string,
  x: Tensor,
  prob: number,
  seed: number,
  stream: number,
  rowStride: number,
  rowTable: Tensor | null,
): Tensor {
  const y = Tensor.empty(x.shape);
  const rt = gpu();
  rt.dispatch(
    { shader: "dropout.wgsl", entry },
    [x.buffer, y.buffer, rowTable?.buffer ?? rt.dummy],
    [x.size, seed >>> 0, stream >>> 0, x.shape.at(-1) ?? 1, rowStride, rowTable ? 1 : 0],
    [prob],
    grid1d(x.size, 256),
  );
  return y;
}

/**
 * Where the rows of x (R, C) are in the tensor the mask is drawn over: a stride s (row r is row
 * r·s: the [CLS] rows b·T of a batch, s = T), or a u32 table (R) of each row's place (the packed
 * rows of a batch, Batch.rowOf).
 */
export type RowPlaces = number | Tensor;

/**
 * `rows` as a kernel takes it: a stride (1 with a table) and the table or null. Throws unless the
 * stride is a positive integer or the table is one u32 per row of the `count` rows; `op` names the
 * caller in the message.
 */
export function rowPlaces(
  rows: RowPlaces,
  count: number,
  op: string,
): { rowStride: number; table: Tensor | null } {
  const table = typeof rows === "number" ? null : rows;
  const rowStride = typeof rows === "number" ? rows : 1;
  if (!(Number.isInteger(rowStride) && rowStride >= 1)) {
    throw new Error(`${op}: row stride must be a positive integer, got ${rowStride}`);
  }
  if (table && (table.dtype !== "u32" || table.size !== count)) {
    throw new Error(
      `${op}: a row table must be (${count}) u32, got ${table.dtype} [${table.shape}]`,
    );
  }
  return { rowStride, table };
}

/**
 * Identity when prob is 0 (evaluation, or a config without dropout). With `rows` other than 1,
 * x (R, C) holds some rows of a larger tensor (see RowPlaces), and each element is dropped as it
 * would be at its place there, so computing only those rows changes nothing.
 */
export function dropout(
  x: Tensor,
  prob: number,
  seed: number,
  stream: number,
  rows: RowPlaces = 1,
): Tensor {
  if (prob <= 0) return x;
  if (prob >= 1) throw new Error(`dropout: probability must be below 1, got ${prob}`);
  const { rowStride, table } = rowPlaces(rows, x.size / (x.shape.at(-1) ?? 1), "dropout");
  const y = dropoutRaw("dropout_forward", x, prob, seed, stream, rowStride, table);
  return record(y, [x], (dOut) => {
    accumulateGrad(x, dropoutRaw("dropout_backward", dOut, prob, seed, stream, rowStride, table));
  }, []);
}
