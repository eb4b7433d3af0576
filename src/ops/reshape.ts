// reshape: a view of the same contiguous data; the gradient is reshaped back.
import { Tensor } from "../tensor.ts";
import { accumulateGrad, record } from "../autograd/tape.ts";
import { copyOf } from "./bias_add.ts";

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const y = x.view(shape);
  // dOut is the tape's to release after this backward: its buffer moves on instead of a copy.
  return record(
    y,
    [x],
    (dOut) => accumulateGrad(x, dOut.movable ? dOut.moveTo(x.shape) : copyOf(dOut, x.shape)),
    [],
  );
}
