// crossEntropy: mean over rows of -log softmax(logits)[label], as torch's F.cross_entropy.
import { Tensor } from "../tensor.ts";
import { gpu } from "../gpu/kernel.ts";
import { accumulateGrad, record } from "../autograd/tape.ts";

export function crossEntropy(logits: Tensor, labels: Tensor): Tensor {
  const [rows, classes] = logits.shape;
  if (logits.shape.length !== 2 || labels.size !== rows || labels.dtype !== "u32") {
    throw new Error(
      `crossEntropy: logits [${logits.shape}] and labels [${labels.shape}] (${labels.dtype})`,
    );
  }
  const rt = gpu();
  const loss = Tensor.empty([1]);
  rt.dispatch(
    { shader: "cross_entropy.wgsl", entry: "cross_entropy_forward" },
    [logits.buffer, labels.buffer, loss.buffer],
    [rows, classes],
    [],
    [1],
  );
  return record(loss, [logits], (dLoss) => {
    const dLogits = Tensor.empty(logits.shape);
    rt.dispatch(
      { shader: "cross_entropy.wgsl", entry: "cross_entropy_backward" },
      [logits.buffer, labels.buffer, dLoss.buffer, dLogits.buffer],
      [rows, classes],
      [],
      [Math.ceil(rows / 64)],
    );
    accumulateGrad(logits, dLogits);
  }, [logits, labels]);
}
