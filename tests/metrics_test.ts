// Metrics against hand-computed cases.
import assert from "node:assert/strict";
import { auroc, computeMetrics } from "../src/train/metrics.ts";
import { fmtTime } from "../src/train/progress.ts";

Deno.test("metrics: accuracy, precision, recall, F1 and confusion matrix by hand", () => {
  // truth 1 1 1 0 0 0 0 ; predicted 1 1 0 1 0 0 0 → tp 2, fn 1, fp 1, tn 3
  const m = computeMetrics([0.9, 0.8, 0.3, 0.6, 0.1, 0.2, 0.4], [1, 1, 1, 0, 0, 0, 0]);
  assert.deepEqual(m.confusion, [[3, 1], [1, 2]]);
  assert.equal(m.accuracy, 5 / 7);
  assert.equal(m.precision, 2 / 3);
  assert.equal(m.recall, 2 / 3);
  assert.ok(Math.abs(m.f1 - 2 / 3) < 1e-15);
  // positives 0.9, 0.8, 0.3 vs negatives 0.6, 0.1, 0.2, 0.4: pairs won 4+4+2 = 10 of 12
  assert.equal(m.auroc, 10 / 12);
});

Deno.test("metrics: AUROC counts ties as half", () => {
  // pos {0.5, 0.7}, neg {0.5, 0.2}: (0.5 vs 0.5) ½ + (0.5 vs 0.2) 1 + (0.7 vs both) 2 = 3.5 of 4
  assert.equal(auroc([0.5, 0.7, 0.5, 0.2], [1, 1, 0, 0]), 3.5 / 4);
  assert.equal(auroc([0.3, 0.3, 0.3, 0.3], [1, 0, 1, 0]), 0.5);
  assert.equal(auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
  assert.equal(auroc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0);
});

Deno.test("metrics: a single-class validation set reports AUROC as undefined (null), nothing crashes", () => {
  const m = computeMetrics([0.2, 0.7, 0.1], [0, 0, 0]);
  assert.equal(m.auroc, null);
  assert.equal(m.precision, 0);
  assert.equal(m.recall, 0);
  assert.equal(m.accuracy, 2 / 3);
  assert.equal(computeMetrics([0.9], [1]).auroc, null);
});

Deno.test("progress: times format as minutes and seconds without a 60", () => {
  assert.equal(fmtTime(59.6), "1m00s");
  assert.equal(fmtTime(7739.6), "129m00s");
  assert.equal(fmtTime(42.2), "42s");
  assert.equal(fmtTime(Infinity), "?");
});
