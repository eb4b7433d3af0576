// embedding: out (R, C) = table (V, C)[ids (R)]; backward scatter-adds into the table's gradient.
import { Tensor } from "../tensor.ts";
import { gpu, grid1d } from "../gpu/kernel.ts";
import { record } from "../autograd/tape.ts";

export function embedding(table: Tensor, ids: Tensor): Tensor {
  if (table.shape.length !== 2 || ids.dtype !== "u32") {
    throw new Error(
      `embedding: expected a 2-D table and u32 ids, got [${table.shape}], ${ids.dtype}`,
    );
  }
  const cols = table.shape[1];
  const rows = ids.size;
  const rt = gpu();
  const out = Tensor.empty([rows, cols]);
  rt.dispatch(
    { shader: "embedding.wgsl", entry: "embedding_forward" },
    [table.buffer, ids.buffer, out.buffer],
    [rows, cols],
    [],
    grid1d(rows * cols, 256),
  );
  return record(out, [table], (dOut) => {
    // Scatter straight into the (zeroed) gradient: a repeated id adds, never overwrites.
    table.grad ??= Tensor.zeros(table.shape);
    rt.dispatch(
      { shader: "embedding.wgsl", entry: "embedding_backward" },
      [dOut.buffer, ids.buffer, table.grad.buffer],
      [rows, cols],
      [],
      [Math.ceil(cols / 64)],
    );
  });
}
