// The training-loop charts of the report: smoothing, ROC and precision-recall points, per-class
// scores, each against its definition; and the sections for two and for N labels.
import assert from "node:assert/strict";
import { prCurve, rocCurve } from "../src/train/curves.ts";
import { auroc } from "../src/train/metrics.ts";
import { renderReport } from "../src/train/html_report.ts";
import { perClassScores, smoothLosses } from "../src/train/report_charts.ts";
import type { ModeResult } from "../src/train/trainer.ts";
import { rng } from "./helpers.ts";

// Scores with ties (rounded to one decimal) and both classes.
const rand = rng(11);
const SCORES = Array.from({ length: 41 }, () => Math.round((rand() + 1) * 5) / 10);
const LABELS = SCORES.map((s) => (rand() + 1) / 2 < s ? 1 : 0);

Deno.test("rocCurve: one point per distinct threshold (predict 1 when score ≥ t); its trapezoid area is the rank-sum AUROC", () => {
  const roc = rocCurve(SCORES, LABELS);
  const P = LABELS.filter((l) => l === 1).length, N = LABELS.length - P;
  const thresholds = [...new Set(SCORES)].sort((a, b) => b - a);
  const want = [
    [0, 0],
    ...thresholds.map((t) => {
      const pred = SCORES.map((s) => s >= t);
      const tp = pred.filter((p, i) => p && LABELS[i] === 1).length;
      const fp = pred.filter((p, i) => p && LABELS[i] === 0).length;
      return [fp / N, tp / P];
    }),
  ];
  assert.deepEqual(roc, want);
  let area = 0;
  for (let i = 1; i < roc.length; i++) {
    area += (roc[i][0] - roc[i - 1][0]) * (roc[i][1] + roc[i - 1][1]) / 2;
  }
  assert.ok(Math.abs(area - auroc(SCORES, LABELS)!) < 1e-12, `${area} vs ${auroc(SCORES, LABELS)}`);
  assert.deepEqual(rocCurve([0.1, 0.2], [1, 1]), [], "one class: no curve");
});

Deno.test("prCurve: (recall, precision) per distinct threshold from (0, 1), ending at recall 1", () => {
  const pr = prCurve(SCORES, LABELS);
  const P = LABELS.filter((l) => l === 1).length;
  const thresholds = [...new Set(SCORES)].sort((a, b) => b - a);
  const want = [
    [0, 1],
    ...thresholds.map((t) => {
      const tp = SCORES.filter((s, i) => s >= t && LABELS[i] === 1).length;
      const predicted = SCORES.filter((s) => s >= t).length;
      return [tp / P, tp / predicted];
    }),
  ];
  assert.deepEqual(pr, want);
  assert.equal(pr.at(-1)![0], 1);
});

Deno.test("smoothLosses: TensorBoard's debiased EMA, s_n = Σ w^(n-k)(1-w)x_k / (1 - w^n)", () => {
  const xs = Array.from({ length: 30 }, (_, i) => 1 / (i + 1) + 0.1 * rand());
  const got = smoothLosses(xs, 0.8);
  xs.forEach((_, n) => {
    let num = 0;
    for (let k = 0; k <= n; k++) num += Math.pow(0.8, n - k) * 0.2 * xs[k];
    const want = num / (1 - Math.pow(0.8, n + 1));
    assert.ok(Math.abs(got[n] - want) < 1e-12, `${n}: ${got[n]} vs ${want}`);
  });
  assert.equal(got[0], xs[0], "the first value is itself");
});

Deno.test("perClassScores: precision, recall, F1 of each class from an N×N confusion matrix, absent classes 0", () => {
  // Rows true, columns predicted; class 2 never occurs and is never predicted.
  const c = [[5, 1, 0, 2], [3, 4, 0, 0], [0, 0, 0, 0], [1, 0, 0, 6]];
  const got = perClassScores(c);
  const want = [
    { p: 5 / 9, r: 5 / 8 },
    { p: 4 / 5, r: 4 / 7 },
    { p: 0, r: 0 },
    { p: 6 / 8, r: 6 / 7 },
  ];
  want.forEach(({ p, r }, k) => {
    assert.ok(
      Math.abs(got[k].precision - p) < 1e-15 && Math.abs(got[k].recall - r) < 1e-15,
      `${k}`,
    );
    const f1 = p + r ? 2 * p * r / (p + r) : 0;
    assert.ok(Math.abs(got[k].f1 - f1) < 1e-15, `f1 ${k}`);
  });
});

function result(confusion: number[][], curves: boolean): ModeResult {
  const metrics = {
    n: 10,
    accuracy: 0.5,
    precision: 0.4,
    recall: 0.3,
    f1: 0.2,
    auroc: 0.6,
    logLoss: 0.7,
    confusion,
  };
  // deno-lint-ignore no-explicit-any
  const m = metrics as any;
  return {
    mode: "full",
    trainableParams: 10,
    epochs: [{
      epoch: 1,
      steps: 4,
      trainLoss: 0.5,
      metrics: m,
      trainSeconds: 1,
      evalSeconds: 1,
      tokensPerSecond: 1,
      peakBytes: 1,
    }],
    losses: [0.9, 0.8, 0.7, 0.6],
    evaluations: [
      { step: 2, epoch: 0.5, trainLoss: 0.8, metrics: { ...m, f1: 0.1 }, evalSeconds: 1 },
      { step: 4, epoch: 1, trainLoss: 0.6, metrics: m, evalSeconds: 1 },
    ],
    best: { metric: "f1", value: 0.2, step: 4, epoch: 1 },
    stoppedEarlyAtStep: null,
    curves: curves ? { roc: [[0, 0], [0.5, 1], [1, 1]], pr: [[0, 1], [1, 0.5]] } : null,
  };
}

Deno.test("renderReport: metrics per evaluation as lines; ROC and PR for two labels; an N×N heat map with per-class bars", () => {
  const meta = { adapter: "a", model: "m", command: "c" };
  const two = renderReport([result([[3, 1], [2, 4]], true)], { ...meta, labels: ["ham", "spam"] });
  assert.match(two, /Validation metrics per evaluation/);
  assert.match(two, /<title>f1<\/title><\/polyline>/);
  // Log loss is unbounded: never a line on the 0..1 axis (else it shows only while below 1).
  assert.doesNotMatch(two, /<title>logLoss<\/title>/);
  assert.match(two, /best f1 0\.2000 at step 4/);
  assert.match(two, /aria-label="ROC curve"/);
  assert.match(two, /aria-label="precision-recall curve"/);
  const three = renderReport(
    [result([[3, 1, 0], [2, 4, 1], [0, 0, 5]], false)],
    { ...meta, labels: ["a", "b", "c"] },
  );
  assert.doesNotMatch(three, /ROC curve/, "no ROC for three labels");
  const heat = three.match(/<title>true \w, predicted \w: \d+<\/title>/g) ?? [];
  assert.equal(heat.length, 9, "3×3 cells");
  assert.match(three, /<title>true b, predicted c: 1<\/title>/);
  assert.match(three, /<title>c recall 1\.0000<\/title>/);
  assert.doesNotMatch(three, /predicted ham/, "the 2×2 table is not drawn for three labels");
  assert.doesNotMatch(three, /Confusion matrices/, "no empty heading for three labels");
  assert.match(three, /<th>macro precision<\/th><th>macro recall<\/th><th>macro F1<\/th>/);
  assert.match(two, /<th>precision<\/th><th>recall<\/th><th>F1<\/th>/);
  const named = renderReport([result([[3, 1], [2, 4]], true)], { ...meta, labels: ["neg", "pos"] });
  assert.match(named, /<th>predicted neg<\/th><th>predicted pos<\/th>/, "the model's label names");
  assert.doesNotMatch(named, /ham|spam/);
  // The heat map's title lies inside its box (at 11 px, about 6 px a character).
  const svg = named.match(
    /<svg[^>]*width="(\d+)"[^>]*confusion matrix">\n<text x="([\d.]+)"[^>]*text-anchor="(\w+)">([^<]*)</,
  );
  assert.ok(svg, "heat map with its title");
  const [w, x, anchor, len] = [Number(svg[1]), Number(svg[2]), svg[3], 6 * svg[4].length];
  const [left, right] = anchor === "middle" ? [x - len / 2, x + len / 2] : [x, x + len];
  assert.ok(left >= 0 && right <= w, `title "${svg[4]}" spans ${left}..${right} in width ${w}`);
});
