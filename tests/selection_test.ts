// --metric-for-best names: the metrics' keys, the averages, and log loss in its usual spellings.
import assert from "node:assert/strict";
import { greaterIsBetter, improves, metricValue } from "../src/train/selection.ts";

Deno.test("metricValue: macro_f1, and log loss as logLoss, log_loss (scikit-learn) or loss (transformers), lower is better", () => {
  const m = {
    n: 4,
    accuracy: 0.75,
    f1: 0.5,
    logLoss: 0.3,
    macro: { f1: 0.6 },
    weighted: { f1: 0.7 },
  };
  assert.equal(metricValue(m, "macro_f1"), 0.6);
  assert.equal(metricValue(m, "weighted_f1"), 0.7);
  for (const key of ["logLoss", "log_loss", "loss"]) {
    assert.equal(metricValue(m, key), 0.3);
    assert.equal(greaterIsBetter(key), false, key);
    assert.ok(improves(0.2, 0.3, key) && !improves(0.4, 0.3, key), key);
  }
  assert.throws(() => metricValue(m, "bogus"), /no such metric; .*log_loss, loss/);
});
