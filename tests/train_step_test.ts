// The training step bench:browser times in Deno and Chromium (bench/train_step.ts), at a tiny
// batch: it trains (finite loss near ln 2 for a fresh 2-class head) and times every step.
import assert from "node:assert/strict";
import { timeTrainSteps } from "../bench/train_step.ts";
import "./helpers.ts";

Deno.test("bench/train_step: bert-tiny steps at batch 2 × 8 give timings and a finite loss", async () => {
  const t = await timeTrainSteps(2, 2, 8);
  assert.equal(t.stepsMs.length, 2);
  assert.ok(t.stepsMs.every((ms) => ms > 0) && t.warmupMs > 0, `timings ${t.stepsMs}`);
  // A fresh classifier (std 0.02) on a random encoder gives near-uniform probabilities: ln 2.
  assert.ok(Math.abs(t.loss - Math.LN2) < 0.05, `loss ${t.loss}`);
});
