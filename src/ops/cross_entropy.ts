// crossEntropy: mean over rows of -log softmax(logits)[label], as torch's F.cross_entropy; with
// per-class weights (C), the weighted mean Σ w[y]·loss / Σ w[y] of F.cross_entropy(weight=w).
import { Tensor } from "../tensor.ts";
import { gpu } from "../gpu/kernel.ts";
import { accumulateGrad, record, temporary } from "../autograd/tape.ts";

/** logits (N, C), labels (N) u32, classWeights (C) or none → loss (1). */
export function crossEntropy(logits: Tensor, labels: Tensor, classWeights?: Tensor): Tensor {
  const [rows, classes] = logits.shape;
  if (logits.shape.length !== 2 || labels.size !== rows || labels.dtype !== "u32") {
    throw new Error(
      `crossEntropy: logits [${logits.shape}] and labels [${labels.shape}] (${labels.dtype})`,
    );
  }
  if (classWeights && classWeights.size !== classes) {
    throw new Error(`crossEntropy: ${classes} classes but weights [${classWeights.shape}]`);
  }
  const rt = gpu();
  const loss = Tensor.empty([1]);
  const weighted = classWeights ? "weighted_" : "";
  // Σ_n w[y_n], made by the weighted forward and read by its backward.
  const weightSum = classWeights ? temporary(Tensor.empty([1])) : null;
  const w = classWeights ? [null, classWeights.buffer, weightSum!.buffer] : [];
  rt.dispatch(
    { shader: "cross_entropy.wgsl", entry: `cross_entropy_${weighted}forward` },
    [logits.buffer, labels.buffer, loss.buffer, ...w],
    [rows, classes],
    [],
    [1],
  );
  return record(loss, [logits], (dLoss) => {
    const dLogits = Tensor.empty(logits.shape);
    rt.dispatch(
      { shader: "cross_entropy.wgsl", entry: `cross_entropy_${weighted}backward` },
      [
        logits.buffer,
        labels.buffer,
        dLoss.buffer,
        dLogits.buffer,
        ...(classWeights ? [classWeights.buffer, weightSum!.buffer] : []),
      ],
      [rows, classes],
      [],
      [Math.ceil(rows / 64)],
    );
    accumulateGrad(logits, dLogits);
  }, [logits, labels, ...(weightSum ? [weightSum] : [])]);
}
