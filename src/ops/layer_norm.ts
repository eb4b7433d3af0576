// layerNorm over the last dimension with learned weight and bias. Two kernel shapes (see
// src/ops/variants.ts): a workgroup per row, or a thread per row with vec4 loads when C % 4 = 0.
import { Tensor } from "../tensor.ts";
import { gpu, grid1d } from "../gpu/kernel.ts";
import { rowGrid, rowReductionLayout } from "./variants.ts";
import { accumulateGrad, record, temporary } from "../autograd/tape.ts";

export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps: number): Tensor {
  const cols = x.shape[x.shape.length - 1];
  const rows = x.size / cols;
  if (weight.size !== cols || bias.size !== cols) {
    throw new Error(`layerNorm: weight [${weight.shape}] / bias [${bias.shape}] vs x [${x.shape}]`);
  }
  const rt = gpu();
  const vec4 = cols % 4 === 0;
  const perThread = vec4 && rowReductionLayout() === "thread";
  const rowEntry = (name: string) => perThread ? `${name}_rows4` : name;
  const rowLaunch = perThread ? grid1d(rows, 64) : rowGrid(rows);
  const y = Tensor.empty(x.shape);
  const mean = temporary(Tensor.empty([rows]));
  const rstd = temporary(Tensor.empty([rows]));
  rt.dispatch(
    { shader: "layer_norm.wgsl", entry: rowEntry("layer_norm_forward") },
    [x.buffer, weight.buffer, bias.buffer, y.buffer, mean.buffer, rstd.buffer],
    [rows, cols],
    [eps],
    rowLaunch,
  );
  return record(y, [x, weight, bias], (dOut) => {
    if (x.requiresGrad) {
      const dX = Tensor.empty(x.shape);
      rt.dispatch(
        { shader: "layer_norm.wgsl", entry: rowEntry("layer_norm_backward") },
        [x.buffer, weight.buffer, dOut.buffer, mean.buffer, rstd.buffer, dX.buffer],
        [rows, cols],
        [eps],
        rowLaunch,
      );
      accumulateGrad(x, dX);
    }
    if (weight.requiresGrad || bias.requiresGrad) {
      const dWeight = Tensor.empty([cols]);
      const dBias = Tensor.empty([cols]);
      rt.dispatch(
        {
          shader: "layer_norm.wgsl",
          entry: vec4 ? "layer_norm_backward_params4" : "layer_norm_backward_params",
        },
        [x.buffer, dOut.buffer, mean.buffer, rstd.buffer, dWeight.buffer, dBias.buffer],
        [rows, cols],
        [eps],
        [Math.ceil((vec4 ? cols / 4 : cols) / 64)],
      );
      if (weight.requiresGrad) accumulateGrad(weight, dWeight);
      else dWeight.release();
      if (bias.requiresGrad) accumulateGrad(bias, dBias);
      else dBias.release();
    }
  }, [x, weight, mean, rstd]);
}
