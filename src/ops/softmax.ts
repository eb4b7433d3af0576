// maskedSoftmax over attention scores (B, H, Tq, Tk) with a (B, Tk) 1/0 attention mask. Two
// kernel shapes (src/ops/variants.ts): a workgroup per row, or a thread per row with vec4 loads.
import { Tensor } from "../tensor.ts";
import { gpu, grid1d } from "../gpu/kernel.ts";
import { rowGrid, rowReductionLayout } from "./variants.ts";
import { accumulateGrad, record } from "../autograd/tape.ts";

export function maskedSoftmax(scores: Tensor, mask: Tensor, scale: number): Tensor {
  if (scores.shape.length !== 4) {
    throw new Error(`maskedSoftmax: scores must be 4-D, got [${scores.shape}]`);
  }
  const [batch, heads, tq, tk] = scores.shape;
  if (mask.size !== batch * tk) {
    throw new Error(`maskedSoftmax: mask [${mask.shape}] does not match scores [${scores.shape}]`);
  }
  const rows = batch * heads * tq;
  const rt = gpu();
  const perThread = tk % 4 === 0 && rowReductionLayout() === "thread";
  // Lanes per row: a power of two from 32 (a warp) to 256, about one key per lane.
  const lanes = Math.min(256, Math.max(32, 2 ** Math.ceil(Math.log2(tk))));
  const kernel = (name: string) => ({
    shader: "softmax.wgsl",
    entry: perThread ? `${name}_rows4` : name,
    constants: perThread ? undefined : { WG: lanes },
  });
  const launch = perThread ? grid1d(rows, 64) : rowGrid(rows);
  const probs = Tensor.empty(scores.shape);
  // Rows of at most 32 keys stay in registers (the _short entry).
  const forward = kernel("masked_softmax_forward");
  if (perThread && tk <= 32) forward.entry = "masked_softmax_forward_rows4_short";
  rt.dispatch(
    forward,
    [scores.buffer, mask.buffer, probs.buffer],
    [rows, tk, heads * tq],
    [scale],
    launch,
  );
  return record(probs, [scores], (dProbs) => {
    const dScores = Tensor.empty(scores.shape);
    rt.dispatch(
      kernel("masked_softmax_backward"),
      [probs.buffer, dProbs.buffer, dScores.buffer],
      [rows, tk, heads * tq],
      [scale],
      launch,
    );
    accumulateGrad(scores, dScores);
  }, [probs]);
}
