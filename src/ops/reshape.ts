// reshape: a view of the same contiguous data; the gradient is reshaped back.
import { Tensor } from "../tensor.ts";
import { accumulateGrad, record } from "../autograd/tape.ts";
import { copyOf } from "./bias_add.ts";

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const y = x.view(shape);
  return record(y, [x], (dOut) => accumulateGrad(x, copyOf(dOut, x.shape)), []);
}
