// transpose12: (A, B, C, D) → (A, C, B, D); the head split and merge of attention.
import { Tensor } from "../tensor.ts";
import { gpu, grid1d } from "../gpu/kernel.ts";
import { accumulateGrad, record } from "../autograd/tape.ts";

export function transpose12Raw(x: Tensor, [a, b, c, d]: readonly number[]): Tensor {
  const y = Tensor.empty([a, c, b, d]);
  gpu().dispatch(
    { shader: "transpose.wgsl", entry: "transpose12_forward" },
    [x.buffer, y.buffer],
    [a, b, c, d],
    [],
    grid1d(x.size, 256),
  );
  return y;
}

export function transpose12(x: Tensor): Tensor {
  if (x.shape.length !== 4) throw new Error(`transpose12: expected 4-D, got [${x.shape}]`);
  const y = transpose12Raw(x, x.shape);
  return record(y, [x], (dOut) => accumulateGrad(x, transpose12Raw(dOut, dOut.shape)), []);
}
