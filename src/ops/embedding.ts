// embedding: out (R, C) = table (V, C)[ids (R)]; backward scatter-adds into the table's gradient.
// A table larger than one storage binding is gathered and scattered window by window (whole rows
// per window, src/gpu/windows.ts): one dispatch per window, each handling the ids inside it.
import { Tensor } from "../tensor.ts";
import { gpu, grid1d } from "../gpu/kernel.ts";
import { bindingWindows } from "../gpu/windows.ts";
import { record, zeroedGrad } from "../autograd/tape.ts";

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
  for (const w of bindingWindows(table.buffer, table.bytes, cols * 4)) {
    rt.dispatch(
      { shader: "embedding.wgsl", entry: "embedding_forward" },
      [w, ids.buffer, out.buffer],
      [rows, cols, w.first, w.first + w.count],
      [],
      grid1d(rows * cols, 256),
    );
  }
  return record(out, [table], (dOut) => {
    // Scatter straight into the (zeroed) gradient: a repeated id adds, never overwrites.
    const grad = zeroedGrad(table);
    for (const w of bindingWindows(grad.buffer, table.bytes, cols * 4)) {
      rt.dispatch(
        { shader: "embedding.wgsl", entry: "embedding_backward" },
        [dOut.buffer, ids.buffer, w],
        [rows, cols, w.first, w.first + w.count],
        [],
        [Math.ceil(cols / 64)],
      );
    }
  }, [ids]);
}
