// Validation metrics over the whole set (never averaged per batch); spam (label 1) is positive.

export interface Metrics {
  n: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  /** From the spam probability; null (undefined) when the set holds a single class. */
  auroc: number | null;
  /** [[tn, fp], [fn, tp]]: rows are the true label, columns the prediction. */
  confusion: [[number, number], [number, number]];
}

/** Area under the ROC curve by the rank-sum (Mann–Whitney U) form; tied scores share mean ranks. */
export function auroc(scores: number[], labels: number[]): number | null {
  const pos = labels.filter((l) => l === 1).length, neg = labels.length - pos;
  if (pos === 0 || neg === 0) return null;
  const order = scores.map((s, i) => [s, i] as const).sort((a, b) => a[0] - b[0]);
  let rankSumPos = 0;
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
    const meanRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (labels[order[k][1]] === 1) rankSumPos += meanRank;
    i = j + 1;
  }
  return (rankSumPos - pos * (pos + 1) / 2) / (pos * neg);
}

/** Predictions are argmax (spam when p_spam > 0.5); precision is 0 when nothing is predicted spam. */
export function computeMetrics(spamProbs: number[], labels: number[]): Metrics {
  let tp = 0, fp = 0, tn = 0, fn = 0;
  spamProbs.forEach((p, i) => {
    const pred = p > 0.5 ? 1 : 0;
    if (pred === 1 && labels[i] === 1) tp++;
    else if (pred === 1) fp++;
    else if (labels[i] === 1) fn++;
    else tn++;
  });
  const n = labels.length;
  const precision = tp + fp ? tp / (tp + fp) : 0;
  const recall = tp + fn ? tp / (tp + fn) : 0;
  return {
    n,
    accuracy: n ? (tp + tn) / n : 0,
    precision,
    recall,
    f1: precision + recall ? 2 * precision * recall / (precision + recall) : 0,
    auroc: auroc(spamProbs, labels),
    confusion: [[tn, fp], [fn, tp]],
  };
}
