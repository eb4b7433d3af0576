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

// N-class references written from the definitions (counting and pairs, not the code's tables).
function reference(probs: number[][], y: number[]) {
  const N = probs[0].length;
  const pred = probs.map((p) => p.indexOf(Math.max(...p))); // first maximum, as numpy.argmax
  const count = (f: (i: number) => boolean) => y.filter((_, i) => f(i)).length;
  const per = Array.from({ length: N }, (_, k) => {
    const tp = count((i) => y[i] === k && pred[i] === k);
    const predicted = count((i) => pred[i] === k), support = count((i) => y[i] === k);
    const p = predicted ? tp / predicted : 0, r = support ? tp / support : 0;
    return { p, r, f: p + r ? 2 * p * r / (p + r) : 0, support, predicted };
  });
  // scikit-learn labels=None: classes seen in y_true or y_pred.
  const used = per.filter((c) => c.support + c.predicted > 0);
  const mean = (g: (c: typeof per[0]) => number) =>
    used.reduce((s, c) => s + g(c), 0) / used.length;
  const wmean = (g: (c: typeof per[0]) => number) =>
    used.reduce((s, c) => s + c.support * g(c), 0) / y.length;
  const pairAuc = (k: number) => {
    let won = 0, pairs = 0;
    y.forEach((yi, i) =>
      y.forEach((yj, j) => {
        if (yi !== k || yj === k) return;
        pairs++;
        won += probs[i][k] > probs[j][k] ? 1 : probs[i][k] === probs[j][k] ? 0.5 : 0;
      })
    );
    return pairs ? won / pairs : null;
  };
  const aucs = per.map((_, k) => pairAuc(k));
  return {
    accuracy: count((i) => y[i] === pred[i]) / y.length,
    macro: [mean((c) => c.p), mean((c) => c.r), mean((c) => c.f)],
    weighted: [wmean((c) => c.p), wmean((c) => c.r), wmean((c) => c.f)],
    per,
    auroc: aucs.includes(null) ? null : aucs.reduce((s, a) => s! + a!, 0)! / N,
    logLoss: -y.reduce((s, k, i) => s + Math.log(probs[i][k]), 0) / y.length,
    confusion: Array.from(
      { length: N },
      (_, t) => Array.from({ length: N }, (_, q) => count((i) => y[i] === t && pred[i] === q)),
    ),
  };
}

function assertClose(a: number | null, b: number | null, what: string) {
  if (a === null || b === null) return assert.equal(a, b, what);
  assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);
}

function checkAgainstReference(probs: number[][], y: number[]) {
  const m = computeMetrics(probs, y), r = reference(probs, y);
  assert.equal(m.numLabels, probs[0].length);
  assert.deepEqual(m.confusion, r.confusion);
  assertClose(m.accuracy, r.accuracy, "accuracy");
  ["precision", "recall", "f1"].forEach((k, i) => {
    assertClose(m.macro[k as "f1"], r.macro[i], `macro ${k}`);
    assertClose(m.weighted[k as "f1"], r.weighted[i], `weighted ${k}`);
  });
  r.per.forEach((c, k) => {
    assertClose(m.perClass[k].precision, c.p, `precision ${k}`);
    assertClose(m.perClass[k].recall, c.r, `recall ${k}`);
    assertClose(m.perClass[k].f1, c.f, `f1 ${k}`);
    assert.equal(m.perClass[k].support, c.support);
  });
  assertClose(m.f1, r.macro[2], "top-level f1 is macro");
  assertClose(m.auroc, r.auroc, "ovr macro auroc");
  assertClose(m.logLoss, r.logLoss, "log loss");
  return m;
}

Deno.test("metrics: three classes with tied scores match the definitions (macro, weighted, OvR AUROC, log loss)", () => {
  const probs = [
    [0.5, 0.3, 0.2],
    [0.4, 0.4, 0.2], // a tie between classes 0 and 1: argmax takes 0
    [0.2, 0.5, 0.3],
    [0.2, 0.5, 0.3], // the same scores as the row above, another class
    [0.1, 0.2, 0.7],
    [0.3, 0.3, 0.4],
    [0.6, 0.1, 0.3],
    [0.2, 0.2, 0.6],
  ];
  const y = [0, 1, 1, 2, 2, 0, 0, 2];
  const m = checkAgainstReference(probs, y);
  assert.notEqual(m.auroc, null);
  // one value by hand: class 0 is predicted for rows 0, 1, 6 of which 0 and 6 are right → 2/3.
  assert.equal(m.perClass[0].precision, 2 / 3);
});

Deno.test("metrics: classes absent from the set: AUROC undefined, macro over the classes seen as scikit-learn", () => {
  // Four labels; class 3 never occurs (true or predicted), class 2 is predicted but never true.
  const probs = [
    [0.7, 0.1, 0.1, 0.1],
    [0.1, 0.6, 0.2, 0.1],
    [0.2, 0.2, 0.5, 0.1],
    [0.25, 0.25, 0.25, 0.25],
    [0.1, 0.7, 0.1, 0.1],
  ];
  const y = [0, 1, 0, 1, 1];
  const m = checkAgainstReference(probs, y);
  assert.equal(m.auroc, null);
  assert.equal(m.perClass[3].support, 0);
  assert.equal(m.perClass[2].precision, 0);
  // macro over classes 0, 1, 2 only: class 3 (absent everywhere) does not pull it down.
  const f = m.perClass.slice(0, 3).reduce((s, c) => s + c.f1, 0) / 3;
  assertClose(m.macro.f1, f, "macro f1 over seen classes");
});

Deno.test("metrics: probabilities of two classes give the binary metrics of label 1", () => {
  const p1 = [0.9, 0.8, 0.3, 0.6, 0.1, 0.2, 0.4], y = [1, 1, 1, 0, 0, 0, 0];
  const a = computeMetrics(p1, y), b = computeMetrics(p1.map((p) => [1 - p, p]), y);
  assert.deepEqual(a, b);
  assert.equal(a.numLabels, 2);
  assertClose(a.logLoss, -y.reduce((s, k, i) => s + Math.log(k ? p1[i] : 1 - p1[i]), 0) / 7, "ll");
});
