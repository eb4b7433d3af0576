// Text tables at the end of a run: each mode's epochs against the previous one, then the modes.
import type { ModeResult } from "./trainer.ts";
import { mib } from "./trainer.ts";
import type { Metrics } from "./metrics.ts";

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) =>
    cells.map((s, c) => (c === 0 ? s.padEnd(w[c]) : s.padStart(w[c]))).join("  ");
  return [line(head), w.map((n) => "-".repeat(n)).join("  "), ...rows.map(line)].join("\n");
}

const f = (v: number | null, d = 4) => (v === null ? "undefined" : v.toFixed(d));
const delta = (
  a: number | null,
  b: number | null,
) => (a === null || b === null ? "" : `${a >= b ? "+" : ""}${(a - b).toFixed(4)}`);

/** Column names of the headline metrics: of label 1 for two labels, macro means for more. */
function heads(r: ModeResult[]): string[] {
  const multi = r.some((x) => (x.epochs[0]?.metrics.numLabels ?? 2) > 2);
  return ["precision", "recall", "f1", "auroc"].map((h) => (multi ? `macro ${h}` : h));
}

export function epochTable(r: ModeResult): string {
  return table(
    [
      "epoch",
      "train loss",
      "Δ loss",
      "accuracy",
      "Δ acc",
      ...heads([r]),
      "Δ auroc",
      "train s",
      "eval s",
    ],
    r.epochs.map((e, i) => {
      const p = r.epochs[i - 1];
      return [
        String(e.epoch),
        f(e.trainLoss),
        p ? delta(e.trainLoss, p.trainLoss) : "",
        f(e.metrics.accuracy),
        p ? delta(e.metrics.accuracy, p.metrics.accuracy) : "",
        f(e.metrics.precision),
        f(e.metrics.recall),
        f(e.metrics.f1),
        f(e.metrics.auroc),
        p ? delta(e.metrics.auroc, p.metrics.auroc) : "",
        e.trainSeconds.toFixed(1),
        e.evalSeconds.toFixed(1),
      ];
    }),
  );
}

export function modeTable(results: ModeResult[]): string {
  return table(
    [
      "mode",
      "trainable params",
      "accuracy",
      ...heads(results),
      "s/epoch (train)",
      "eval s",
      "tokens/s",
      "peak memory",
    ],
    results.map((r) => {
      const last = r.epochs[r.epochs.length - 1];
      const perEpoch = r.epochs.reduce((s, e) => s + e.trainSeconds, 0) /
        Math.max(1, r.epochs.length);
      return [
        r.mode,
        r.trainableParams.toLocaleString("en-US"),
        f(last?.metrics.accuracy ?? null),
        f(last?.metrics.precision ?? null),
        f(last?.metrics.recall ?? null),
        f(last?.metrics.f1 ?? null),
        f(last?.metrics.auroc ?? null),
        perEpoch.toFixed(1),
        (last?.evalSeconds ?? 0).toFixed(1),
        (last?.tokensPerSecond ?? 0).toFixed(0),
        mib(Math.max(0, ...r.epochs.map((e) => e.peakBytes))),
      ];
    }),
  );
}

/**
 * The metrics of one set as text: the headline line, a per-class table (precision, recall, F1,
 * support; macro and weighted means) and the confusion matrix (rows true, columns predicted).
 */
export function metricsReport(m: Metrics, labels: string[]): string {
  const name = (k: number) => labels[k] ?? String(k);
  const head = m.numLabels > 2
    ? `accuracy ${f(m.accuracy)}  macro precision ${f(m.macro.precision)}  macro recall ${
      f(m.macro.recall)
    }  macro f1 ${f(m.macro.f1)}  auroc (one-vs-rest macro) ${f(m.auroc)}  log loss ${
      f(m.logLoss)
    }  (${m.n} messages)`
    : `accuracy ${f(m.accuracy)}  precision ${f(m.precision)}  recall ${f(m.recall)}  f1 ${
      f(m.f1)
    }  auroc ${f(m.auroc)}  log loss ${f(m.logLoss)}  (${m.n} messages; positive: ${name(1)})`;
  const avgRow = (label: string, a: { precision: number; recall: number; f1: number }) => [
    label,
    f(a.precision),
    f(a.recall),
    f(a.f1),
    String(m.n),
  ];
  const perClass = table(["label", "precision", "recall", "f1", "support"], [
    ...m.perClass.map((c, k) => [name(k), f(c.precision), f(c.recall), f(c.f1), String(c.support)]),
    avgRow("macro avg", m.macro),
    avgRow("weighted avg", m.weighted),
  ]);
  const confusion = table(
    ["true \\ predicted", ...m.confusion.map((_, k) => name(k))],
    m.confusion.map((row, k) => [name(k), ...row.map(String)]),
  );
  return `${head}\n\n${perClass}\n\n${confusion}`;
}
