// ROC and precision-recall curves of a binary classifier's positive-class scores, one point per
// distinct threshold (scikit-learn's roc_curve with drop_intermediate=False, and
// precision_recall_curve), for the report.

/** Points (fpr, tpr) from (0, 0) to (1, 1); empty when a class is absent. */
export function rocCurve(scores: number[], labels: number[]): [number, number][] {
  const steps = sweep(scores, labels);
  const P = labels.filter((l) => l === 1).length, N = labels.length - P;
  if (P === 0 || N === 0) return [];
  return [[0, 0], ...steps.map(([tp, fp]) => [fp / N, tp / P] as [number, number])];
}

/** Points (recall, precision) by falling threshold, ending at recall 1; starts at (0, 1). */
export function prCurve(scores: number[], labels: number[]): [number, number][] {
  const P = labels.filter((l) => l === 1).length;
  if (P === 0) return [];
  return [
    [0, 1],
    ...sweep(scores, labels).map(([tp, fp]) => [tp / P, tp / (tp + fp)] as [number, number]),
  ];
}

/** Cumulative (tp, fp) when predicting positive for score ≥ each distinct score, high to low. */
function sweep(scores: number[], labels: number[]): [number, number][] {
  const order = scores.map((s, i) => [s, labels[i]] as const).sort((a, b) => b[0] - a[0]);
  const out: [number, number][] = [];
  let tp = 0, fp = 0;
  order.forEach(([s, l], i) => {
    if (l === 1) tp++;
    else fp++;
    if (i === order.length - 1 || order[i + 1][0] !== s) out.push([tp, fp]);
  });
  return out;
}
