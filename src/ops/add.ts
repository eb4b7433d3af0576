// add: y = a + b elementwise (the residual connection); gradients pass through unchanged.
import { Tensor } from "../tensor.ts";
import { gpu, grid1d } from "../gpu/kernel.ts";
import { accumulateGrad, record } from "../autograd/tape.ts";
import { copyOf } from "./bias_add.ts";

export function add(a: Tensor, b: Tensor): Tensor {
  if (a.size !== b.size) throw new Error(`add: shapes differ: [${a.shape}] and [${b.shape}]`);
  const y = Tensor.empty(a.shape);
  gpu().dispatch(
    { shader: "add.wgsl", entry: "add_forward" },
    [a.buffer, b.buffer, y.buffer],
    [a.size],
    [],
    grid1d(a.size, 256),
  );
  return record(y, [a, b], (dOut) => {
    // The last taker gets dOut's buffer itself (the tape releases dOut after this backward).
    if (a.requiresGrad) {
      accumulateGrad(a, b.requiresGrad || !dOut.movable ? copyOf(dOut) : dOut.moveTo(a.shape));
    }
    if (b.requiresGrad) accumulateGrad(b, dOut.movable ? dOut.moveTo(b.shape) : copyOf(dOut));
  }, []);
}
