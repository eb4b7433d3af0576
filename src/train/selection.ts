// Which evaluation is best, and when to stop: transformers' metric_for_best_model (strictly better
// replaces the best; greater is better unless the metric is a loss) and EarlyStoppingCallback
// (stop after `patience` evaluations in a row without improvement, threshold 0).
import { UserError } from "../errors.ts";

/** The value of metric `key` (null when undefined, e.g. AUROC of a one-class set). */
export function metricValue(metrics: object, key: string): number | null {
  const v = (metrics as Record<string, unknown>)[key];
  if (typeof v === "number" || v === null) return v;
  const keys = Object.entries(metrics).filter(([, x]) => typeof x === "number" || x === null)
    .map(([k]) => k);
  throw new UserError(
    `--metric-for-best ${key}: no such metric; the metrics are ${keys.join(", ")}`,
  );
}

export const greaterIsBetter = (key: string) => !/loss$/.test(key);

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
