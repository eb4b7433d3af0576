// Validation metrics over the whole set (never averaged per batch), with scikit-learn's
// definitions. Two labels: label 1 (spam) is the positive class, as precision_score(y, ŷ) and
// roc_auc_score(y, p₁). N labels: accuracy; precision, recall and F1 per class and their macro and
// support-weighted means (average="macro" / "weighted", zero_division=0, over the labels present
// in y_true or y_pred as labels=None does); one-vs-rest macro AUROC (multi_class="ovr"); log loss.

export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  /** Messages of this class in the set. */
  support: number;
}

export interface Averages {
  precision: number;
  recall: number;
  f1: number;
}

export interface Metrics {
  n: number;
  numLabels: number;
  accuracy: number;
  /** Two labels: of label 1 (spam). More: the macro mean. */
  precision: number;
  recall: number;
  f1: number;
  /**
   * Two labels: from p(label 1). More: the one-vs-rest macro mean. null (undefined, as scikit-learn
   * refuses it) when a class has no messages in the set, or the set holds one class.
   */
  auroc: number | null;
  /** N×N, rows are the true label, columns the prediction ([[tn, fp], [fn, tp]] for two). */
  confusion: number[][];
  perClass: ClassMetrics[];
  macro: Averages;
  weighted: Averages;
  /** Mean −ln p(true label), p clipped to [ε, 1−ε] with ε the float64 epsilon (log_loss). */
  logLoss: number;
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

/** argmax with the first index on ties (numpy). */
export function argmax(p: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < p.length; k++) if (p[k] > p[best]) best = k;
  return best;
}

const EPS = 2 ** -52;

/**
 * `probs`: per message the class probabilities, or (two labels, as before) the probability of
 * label 1 alone. Two labels predict label 1 when p₁ > 0.5; more predict the argmax.
 */
export function computeMetrics(probs: number[][] | number[], labels: number[]): Metrics {
  const P: number[][] = probs.map((p) => (typeof p === "number" ? [1 - p, p] : p));
  const N = Math.max(2, P[0]?.length ?? 2, ...labels.map((l) => l + 1));
  const n = labels.length;
  const pred = P.map((p) => (N === 2 ? (p[1] > 0.5 ? 1 : 0) : argmax(p)));
  const confusion = Array.from({ length: N }, () => new Array<number>(N).fill(0));
  labels.forEach((y, i) => confusion[y][pred[i]]++);
  const div = (a: number, b: number) => (b ? a / b : 0);
  const perClass: ClassMetrics[] = confusion.map((row, k) => {
    const tp = row[k];
    const support = row.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((s, r) => s + r[k], 0);
    return {
      precision: div(tp, predicted),
      recall: div(tp, support),
      f1: tp ? 2 * (tp / predicted) * (tp / support) / (tp / predicted + tp / support) : 0,
      support,
    };
  });
  // labels=None: the classes that occur among the true labels or the predictions.
  const present = perClass.map((_, k) => k).filter((k) =>
    perClass[k].support > 0 || confusion.some((r) => r[k] > 0)
  );
  const avg = (w: (k: number) => number): Averages => {
    const total = present.reduce((s, k) => s + w(k), 0);
    const mean = (f: (c: ClassMetrics) => number) =>
      div(present.reduce((s, k) => s + w(k) * f(perClass[k]), 0), total);
    return {
      precision: mean((c) => c.precision),
      recall: mean((c) => c.recall),
      f1: mean((c) => c.f1),
    };
  };
  const macro = avg(() => 1), weighted = avg((k) => perClass[k].support);
  let auc: number | null;
  if (N === 2) auc = auroc(P.map((p) => p[1]), labels);
  else {
    const each = perClass.map((_, k) => auroc(P.map((p) => p[k]), labels.map((y) => +(y === k))));
    auc = each.some((a) => a === null) ? null : (each as number[]).reduce((s, a) => s + a, 0) / N;
  }
  const logLoss = div(
    labels.reduce((s, y, i) => s - Math.log(Math.min(1 - EPS, Math.max(EPS, P[i][y]))), 0),
    n,
  );
  const top = N === 2 ? perClass[1] : macro;
  return {
    n,
    numLabels: N,
    accuracy: div(labels.filter((y, i) => y === pred[i]).length, n),
    precision: top.precision,
    recall: top.recall,
    f1: top.f1,
    auroc: auc,
    confusion,
    perClass,
    macro,
    weighted,
    logLoss,
  };
}
