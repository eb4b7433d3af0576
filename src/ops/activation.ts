// gelu (exact, erf) and tanh: elementwise, forward beside backward in shaders/activation.wgsl;
// gelu loads vec4 when the size allows.
import { Tensor } from "../tensor.ts";
import { gpu, grid1d } from "../gpu/kernel.ts";
import { accumulateGrad, recomputable, record } from "../autograd/tape.ts";

/** `vec4`: the entry is the `4` one, n % 4 = 0, a vec4 per thread. */
function elementwise(
  entry: string,
  inputs: Tensor[],
  n: number,
  shape: readonly number[],
  out = Tensor.empty(shape),
  vec4 = false,
): Tensor {
  const threads = vec4 ? n / 4 : n;
  gpu().dispatch(
    { shader: "activation.wgsl", entry: vec4 ? `${entry}4` : entry },
    [...inputs.map((t) => t.buffer), out.buffer],
    [threads],
    [],
    grid1d(threads, 256),
  );
  return out;
}

/**
 * The output is recomputable (one elementwise pass from x, which the backward keeps anyway): the
 * next linear's backward reads it (dW, LoRA's dA), and BERT-base's (512, 3072) FFN activation is
 * 6 MiB a layer not kept twice.
 */
export function gelu(x: Tensor): Tensor {
  const v4 = x.size % 4 === 0;
  const y = elementwise("gelu_forward", [x], x.size, x.shape, undefined, v4);
  recomputable(y, [x], () => elementwise("gelu_forward", [x], x.size, x.shape, y, v4));
  return record(y, [x], (dOut) => {
    accumulateGrad(x, elementwise("gelu_backward", [x, dOut], x.size, x.shape, undefined, v4));
  }, [x]);
}

/** The backward reads the saved output: d tanh(x) = 1 - tanh(x)². */
export function tanh(x: Tensor): Tensor {
  const y = elementwise("tanh_forward", [x], x.size, x.shape);
  return record(y, [x], (dOut) => {
    accumulateGrad(x, elementwise("tanh_backward", [y, dOut], x.size, x.shape));
  }, [y]);
}
