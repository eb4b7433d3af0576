// Text tables at the end of a run: each mode's epochs against the previous one, then the modes.
import type { ModeResult } from "./trainer.ts";
import { mib } from "./trainer.ts";

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

export function epochTable(r: ModeResult): string {
  return table(
    [
      "epoch",
      "train loss",
      "Δ loss",
      "accuracy",
      "Δ acc",
      "precision",
      "recall",
      "f1",
      "auroc",
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
      "precision",
      "recall",
      "f1",
      "auroc",
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
