// Which evaluation is best, and when to stop: transformers' metric_for_best_model (strictly better
// replaces the best; greater is better unless the metric is a loss) and EarlyStoppingCallback
// (stop after `patience` evaluations in a row without improvement, threshold 0).
import { UserError } from "../errors.ts";

/**
 * Every selectable metric by name: the top-level numbers (accuracy, f1, auroc, logLoss, …) and the
 * averages as `macro_f1`, `weighted_recall`, … (scikit-learn's average="macro" | "weighted");
 * `log_loss` and `loss` name logLoss.
 */
function metricTable(metrics: object): Map<string, number | null> {
  const out = new Map<string, number | null>();
  for (const [k, v] of Object.entries(metrics)) {
    if (k === "n" || k === "numLabels") continue;
    if (typeof v === "number" || v === null) out.set(k, v);
    else if ((k === "macro" || k === "weighted") && v && typeof v === "object") {
      for (const [sub, x] of Object.entries(v)) {
        if (typeof x === "number" || x === null) out.set(`${k}_${sub}`, x);
      }
    }
  }
  // scikit-learn's spelling, and transformers' "loss" (eval_loss: the mean cross-entropy).
  if (out.has("logLoss")) out.set("log_loss", out.get("logLoss")!).set("loss", out.get("logLoss")!);
  return out;
}

/** The value of metric `key` (null when undefined, e.g. AUROC of a one-class set). */
export function metricValue(metrics: object, key: string): number | null {
  const table = metricTable(metrics);
  if (table.has(key)) return table.get(key)!;
  throw new UserError(
    `--metric-for-best ${key}: no such metric; the metrics are ${[...table.keys()].join(", ")}`,
  );
}

export const greaterIsBetter = (key: string) => !/loss$/i.test(key);

/** Whether `value` beats `best` (null never beats anything; anything beats no best yet). */
export function improves(value: number | null, best: number | null | undefined, key: string) {
  if (value === null || Number.isNaN(value)) return false;
  if (best === null || best === undefined) return true;
  return greaterIsBetter(key) ? value > best : value < best;
}

/** The best evaluation so far, as named in metrics.json. */
export interface BestCheckpoint {
  metric: string;
  value: number;
  step: number;
  epoch: number;
}
