// maskedSoftmax over attention scores (B, H, Tq, Tk) with a (B, Tk) 1/0 attention mask.
import { Tensor } from "../tensor.ts";
import { gpu, grid1d } from "../gpu/kernel.ts";
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
  const probs = Tensor.empty(scores.shape);
  rt.dispatch(
    { shader: "softmax.wgsl", entry: "masked_softmax_forward" },
    [scores.buffer, mask.buffer, probs.buffer],
    [rows, tk, heads * tq],
    [scale],
    grid1d(rows, 64),
  );
  return record(probs, [scores], (dProbs) => {
    const dScores = Tensor.empty(scores.shape);
    rt.dispatch(
      { shader: "softmax.wgsl", entry: "masked_softmax_backward" },
      [probs.buffer, dProbs.buffer, dScores.buffer],
      [rows, tk, heads * tq],
      [scale],
      grid1d(rows, 64),
    );
    accumulateGrad(scores, dScores);
  });
}
