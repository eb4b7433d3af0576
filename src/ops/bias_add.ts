// biasAdd: y (R, C) = x (R, C) + bias (C); and the column sum that is every bias's gradient.
import { Tensor } from "../tensor.ts";
import { gpu, grid1d } from "../gpu/kernel.ts";
import { accumulateGrad, record } from "../autograd/tape.ts";

/** dBias (C) = Σ over rows of dOut (R, C). */
export function biasGrad(dOut: Tensor): Tensor {
  const cols = dOut.shape[dOut.shape.length - 1];
  const rows = dOut.size / cols;
  const dBias = Tensor.empty([cols]);
  const vec4 = cols % 4 === 0;
  gpu().dispatch(
    { shader: "bias.wgsl", entry: vec4 ? "bias_add_backward4" : "bias_add_backward" },
    [dOut.buffer, dBias.buffer],
    [rows, cols],
    [],
    [Math.ceil((vec4 ? cols / 4 : cols) / 64)],
  );
  return dBias;
}

/**
 * dBias (C) = Σ over rows of dOut (R, C), and dOutᵀ (C, R) from the same pass: for a weight
 * gradient dOutᵀ·x computed from a materialized transpose, the bias costs no pass of its own.
 */
export function biasGradTransposed(dOut: Tensor): { dBias: Tensor; dOutT: Tensor } {
  const [rows, cols] = dOut.shape;
  if (dOut.shape.length !== 2) throw new Error(`biasGradTransposed: [${dOut.shape}] is not 2-D`);
  const dBias = Tensor.empty([cols]), dOutT = Tensor.empty([cols, rows]);
  gpu().dispatch(
    { shader: "bias.wgsl", entry: "bias_grad_transpose" },
    [dOut.buffer, dBias.buffer, dOutT.buffer],
    [rows, cols],
    [],
    [Math.ceil(cols / 64)],
  );
  return { dBias, dOutT };
}

export function biasAdd(x: Tensor, bias: Tensor): Tensor {
  const cols = x.shape[x.shape.length - 1];
  if (bias.shape.length !== 1 || bias.shape[0] !== cols) {
    throw new Error(`biasAdd: bias [${bias.shape}] does not match x [${x.shape}]`);
  }
  const y = Tensor.empty(x.shape);
  gpu().dispatch(
    { shader: "bias.wgsl", entry: "bias_add_forward" },
    [x.buffer, bias.buffer, y.buffer],
    [x.size / cols, cols],
    [],
    grid1d(x.size, 256),
  );
  return record(y, [x, bias], (dOut) => {
    if (bias.requiresGrad) accumulateGrad(bias, biasGrad(dOut));
    if (x.requiresGrad) accumulateGrad(x, dOut.movable ? dOut.moveTo(x.shape) : copyOf(dOut));
  }, []);
}

/** A fresh tensor with t's contents (gradients handed to two inputs must not share a buffer). */
export function copyOf(t: Tensor, shape: readonly number[] = t.shape): Tensor {
  const c = Tensor.empty(shape);
  gpu().copy(t.buffer, c.buffer, t.bytes);
  return c;
}
