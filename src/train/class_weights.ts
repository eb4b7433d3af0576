// Class weights for an imbalanced training set, as scikit-learn's
// compute_class_weight("balanced", classes=range(numLabels), y=labels).
import { UserError } from "../errors.ts";

/** w_c = n_samples / (n_classes · count_c); every class must occur (scikit-learn raises too). */
export function balancedClassWeights(
  labels: number[],
  numLabels: number,
  names?: string[],
): number[] {
  const counts = new Array(numLabels).fill(0);
  for (const y of labels) counts[y]++;
  const absent = counts.flatMap((n, c) => (n === 0 ? [names?.[c] ?? String(c)] : []));
  if (absent.length) {
    throw new UserError(
      `--class-weights balanced: the training data has no example of ${absent.join(", ")}`,
    );
  }
  return counts.map((n) => labels.length / (numLabels * n));
}
