// The line train prints at each --eval-steps evaluation says what its numbers are.
import assert from "node:assert/strict";
import { evalLine } from "../src/train/trainer.ts";
import { computeMetrics } from "../src/train/metrics.ts";

Deno.test("evalLine: macro averages and log loss named for N labels, as the epoch line", () => {
  const three = computeMetrics([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]], [0, 1, 1]);
  const line = evalLine("full", {
    step: 3,
    epoch: 0.5,
    trainLoss: 1,
    metrics: three,
    evalSeconds: 0,
  });
  // log loss from its definition: the mean of -ln p(true class)
  const ll = -(Math.log(0.7) + Math.log(0.8) + Math.log(0.2)) / 3;
  assert.match(line, /val acc 0\.6667 macro precision /);
  assert.match(line, new RegExp(`log loss ${ll.toFixed(4)} \\|`));
  const two = computeMetrics([[0.7, 0.3], [0.2, 0.8]], [0, 1]);
  const bin = evalLine("full", { step: 3, epoch: 0.5, trainLoss: 1, metrics: two, evalSeconds: 0 });
  assert.match(bin, /val acc 1\.0000 precision 1\.0000 /);
  assert.doesNotMatch(bin, /macro|log loss/);
});
