// gelu (exact, erf) and tanh: elementwise, forward beside backward in shaders/activation.wgsl.
import { Tensor } from "../tensor.ts";
import { gpu, grid1d } from "../gpu/kernel.ts";
import { accumulateGrad, record } from "../autograd/tape.ts";

function elementwise(entry: string, inputs: Tensor[], n: number, shape: readonly number[]): Tensor {
  const out = Tensor.empty(shape);
  gpu().dispatch(
    { shader: "activation.wgsl", entry },
    [...inputs.map((t) => t.buffer), out.buffer],
    [n],
    [],
    grid1d(n, 256),
  );
  return out;
}

export function gelu(x: Tensor): Tensor {
  const y = elementwise("gelu_forward", [x], x.size, x.shape);
  return record(y, [x], (dOut) => {
    accumulateGrad(x, elementwise("gelu_backward", [x, dOut], x.size, x.shape));
  }, [x]);
}

/** The backward reads the saved output: d tanh(x) = 1 - tanh(x)². */
export function tanh(x: Tensor): Tensor {
  const y = elementwise("tanh_forward", [x], x.size, x.shape);
  return record(y, [x], (dOut) => {
    accumulateGrad(x, elementwise("tanh_backward", [y, dOut], x.size, x.shape));
  }, [y]);
}
