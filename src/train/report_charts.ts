// Charts of the training loop for the HTML report (issue 11): the smoothed loss line, validation
// metrics per evaluation, ROC and precision-recall curves (two labels), an N×N confusion heat map
// and per-class bars. Inline SVG, no scripts; colours of a mode come from the report.
import type { ModeResult } from "./trainer.ts";

type Colors = Record<string, string>;
const esc = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
const f = (v: number | null, d = 4) => (v === null ? "undefined" : v.toFixed(d));

/** TensorBoard's smoothing: an exponential moving average debiased for its zero start. */
export function smoothLosses(losses: number[], weight = 0.9): number[] {
  let ema = 0, n = 0;
  return losses.map((v) => {
    if (!Number.isFinite(v)) return v;
    ema = weight * ema + (1 - weight) * v;
    n++;
    return ema / (1 - Math.pow(weight, n));
  });
}

/** One smoothed polyline per mode, drawn over the raw loss lines on the loss chart's axes. */
export function smoothedLines(
  results: ModeResult[],
  x: (i: number) => number,
  y: (v: number) => number,
  colors: Colors,
): string {
  return results.map((r) =>
    `<polyline class="smoothed" fill="none" stroke="${
      colors[r.mode] ?? "#555"
    }" stroke-width="2" points="${
      smoothLosses(r.losses).map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ")
    }"><title>${r.mode} (smoothed, EMA 0.9)</title></polyline>`
  ).join("\n");
}

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"];

interface Series {
  name: string;
  points: [number, number][];
  color: string;
}

/** Lines on axes from 0 to xMax and 0 to 1 (metrics, rates), with a legend. */
function lineChart(
  series: Series[],
  o: {
    xMax: number;
    xLabel: string;
    yLabel: string;
    label: string;
    square?: boolean;
    diagonal?: boolean;
  },
): string {
  const W = o.square ? 320 : 640, H = o.square ? 300 : 240, L = 44, B = 34, T = 10, R = 10;
  const x = (v: number) => L + (v / Math.max(1e-12, o.xMax)) * (W - L - R);
  const y = (v: number) => T + (1 - v) * (H - T - B);
  const line = (s: Series) =>
    `<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${
      s.points.map(([a, b]) => `${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(" ")
    }"><title>${esc(s.name)}</title></polyline>${
      s.points.length === 1
        ? `<circle cx="${x(s.points[0][0])}" cy="${y(s.points[0][1])}" r="2.5" fill="${s.color}"/>`
        : ""
    }`;
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${
    esc(o.label)
  }">
<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${
    H - B
  }" stroke="#999"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#999"/>${
    [0, 0.5, 1].map((t) => `<text x="${L - 6}" y="${y(t) + 4}" text-anchor="end">${t}</text>`)
      .join("")
  }${
    [0, 0.5, 1].map((t) =>
      `<text x="${x(t * o.xMax)}" y="${H - B + 14}" text-anchor="middle">${
        o.xMax === 1 ? t : Math.round(t * o.xMax)
      }</text>`
    ).join("")
  }${
    o.diagonal
      ? `<line x1="${x(0)}" y1="${y(0)}" x2="${x(o.xMax)}" y2="${
        y(1)
      }" stroke="#ccc" stroke-dasharray="4"/>`
      : ""
  }
<text x="${(L + W) / 2}" y="${H - 2}" text-anchor="middle">${esc(o.xLabel)}</text>
<text x="12" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 12 ${
    (T + H - B) / 2
  })">${esc(o.yLabel)}</text>
${series.map(line).join("\n")}
${
    series.map((s, i) =>
      `<text x="${W - R - 4}" y="${T + 12 + 14 * i}" text-anchor="end" style="fill: ${s.color}">■ ${
        esc(s.name)
      }</text>`
    ).join("")
  }
</svg>`;
}

/** Every numeric metric in [0, 1] against the step of each evaluation, one chart per mode. */
function evaluationLines(r: ModeResult): string {
  const evs = r.evaluations ?? [];
  if (!evs.length) return "";
  const keys = Object.keys(evs[0].metrics).filter((k) =>
    evs.some((e) => {
      const v = (e.metrics as unknown as Record<string, unknown>)[k];
      return typeof v === "number" && v >= 0 && v <= 1;
    }) && k !== "n" && k !== "logLoss" // log loss is unbounded: not on the 0..1 axis
  );
  const series = keys.map((k, i) => ({
    name: k,
    color: PALETTE[i % PALETTE.length],
    points: evs.flatMap((e) => {
      const v = (e.metrics as unknown as Record<string, unknown>)[k];
      return typeof v === "number" ? [[e.step, v] as [number, number]] : [];
    }),
  }));
  const best = r.best
    ? `<p>${r.mode}: best ${esc(r.best.metric)} ${f(r.best.value)} at step ${r.best.step} (epoch ${
      r.best.epoch.toFixed(2)
    })${r.stoppedEarlyAtStep ? `; early stopping at step ${r.stoppedEarlyAtStep}` : ""}</p>`
    : "";
  return `<h3>${r.mode}</h3>${
    lineChart(series, {
      xMax: Math.max(1, ...evs.map((e) => e.step)),
      xLabel: "step",
      yLabel: "validation",
      label: `${r.mode}: validation metrics per evaluation`,
    })
  }${best}`;
}

/** Two labels: ROC and precision-recall curves of the last evaluation, modes overlaid. */
function curveCharts(results: ModeResult[], colors: Colors): string {
  const withCurves = results.filter((r) => r.curves && r.curves.roc.length);
  if (!withCurves.length) return "";
  const series = (pick: "roc" | "pr") =>
    withCurves.map((r) => ({
      name: r.mode,
      color: colors[r.mode] ?? "#555",
      points: r.curves![pick],
    }));
  return `<h2>ROC and precision-recall (last evaluation)</h2>${
    lineChart(series("roc"), {
      xMax: 1,
      xLabel: "false positive rate",
      yLabel: "true positive rate",
      label: "ROC curve",
      square: true,
      diagonal: true,
    })
  }${
    lineChart(series("pr"), {
      xMax: 1,
      xLabel: "recall",
      yLabel: "precision",
      label: "precision-recall curve",
      square: true,
    })
  }`;
}

/** Per-class precision, recall and F1 from a confusion matrix (rows true, columns predicted). */
export function perClassScores(c: number[][]): { precision: number; recall: number; f1: number }[] {
  return c.map((row, k) => {
    const tp = row[k], predicted = c.reduce((s, r) => s + r[k], 0);
    const actual = row.reduce((s, v) => s + v, 0);
    const precision = predicted ? tp / predicted : 0, recall = actual ? tp / actual : 0;
    return {
      precision,
      recall,
      f1: precision + recall ? 2 * precision * recall / (precision + recall) : 0,
    };
  });
}

/** N×N heat map of the last evaluation's confusion matrix (rows true, columns predicted). */
function confusionHeatmap(r: ModeResult, labels: string[]): string {
  const c = (r.evaluations?.at(-1)?.metrics ?? r.epochs.at(-1)?.metrics)?.confusion as
    | number[][]
    | undefined;
  if (!c) return "";
  const n = c.length, cell = Math.max(28, Math.min(64, Math.floor(480 / n))), L = 110, T = 70;
  const name = (i: number) => esc(labels[i] ?? String(i));
  const max = Math.max(1, ...c.flat());
  const cells = c.flatMap((row, i) =>
    row.map((v, j) => {
      const a = v / max;
      return `<rect x="${L + j * cell}" y="${
        T + i * cell
      }" width="${cell}" height="${cell}" fill="rgba(31,119,180,${
        (0.05 + 0.9 * a).toFixed(2)
      })"><title>true ${name(i)}, predicted ${name(j)}: ${v}</title></rect><text x="${
        L + j * cell + cell / 2
      }" y="${T + i * cell + cell / 2 + 4}" text-anchor="middle" style="fill: ${
        a > 0.6 ? "#fff" : "#222"
      }">${v}</text>`;
    })
  );
  // Wide enough for the title (11 px text: under 7 px a character) and the last column's slanted
  // label, so that neither is clipped (with two labels the matrix alone is narrower than both).
  const title = `${r.mode}: true (rows) × predicted (columns)`;
  const slant = Math.ceil(name(n - 1).length * 7 * Math.cos(Math.PI * 40 / 180));
  const W = Math.max(L + n * cell + 10, L + (n - 0.5) * cell + slant + 10, 8 + title.length * 7);
  const H = T + n * cell + 10;
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${r.mode}: confusion matrix">
<text x="4" y="14" text-anchor="start">${esc(title)}</text>
${
    c.map((_, j) =>
      `<text x="${L + j * cell + cell / 2}" y="${
        T - 8
      }" text-anchor="start" transform="rotate(-40 ${L + j * cell + cell / 2} ${T - 8})">${
        name(j)
      }</text>`
    ).join("")
  }${
    c.map((_, i) =>
      `<text x="${L - 6}" y="${T + i * cell + cell / 2 + 4}" text-anchor="end">${name(i)}</text>`
    ).join("")
  }
${cells.join("\n")}</svg>`;
}

/** Grouped bars: precision, recall and F1 per class, from the last evaluation. */
function perClassBars(r: ModeResult, labels: string[]): string {
  const c = (r.evaluations?.at(-1)?.metrics ?? r.epochs.at(-1)?.metrics)?.confusion as
    | number[][]
    | undefined;
  if (!c) return "";
  const scores = perClassScores(c), keys = ["precision", "recall", "f1"] as const;
  const W = Math.max(320, 60 + c.length * 90), H = 220, L = 40, B = 40, T = 24;
  const groupW = (W - L - 10) / c.length, barW = groupW / (keys.length + 1);
  const bars = scores.flatMap((s, k) =>
    keys.map((m, i) => {
      const h = s[m] * (H - T - B);
      return `<rect x="${(L + k * groupW + i * barW).toFixed(1)}" y="${
        (H - B - h).toFixed(1)
      }" width="${(barW - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${PALETTE[i]}"><title>${
        esc(labels[k] ?? String(k))
      } ${m} ${f(s[m])}</title></rect>`;
    })
  );
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${r.mode}: per-class scores">
<line x1="${L - 4}" y1="${H - B}" x2="${W}" y2="${H - B}" stroke="#999"/>${
    [0, 0.5, 1].map((t) =>
      `<text x="${L - 8}" y="${H - B - t * (H - T - B) + 4}" text-anchor="end">${t}</text>`
    ).join("")
  }${
    keys.map((m, i) => `<text x="${L + 70 * i}" y="14" style="fill: ${PALETTE[i]}">■ ${m}</text>`)
      .join("")
  }
${bars.join("\n")}${
    c.map((_, k) =>
      `<text x="${L + k * groupW + (keys.length * barW) / 2}" y="${
        H - B + 16
      }" text-anchor="middle">${esc(labels[k] ?? String(k))}</text>`
    ).join("")
  }</svg>`;
}

/** The report's sections for evaluations, curves and per-class results. */
export function evaluationSections(
  results: ModeResult[],
  labels: string[] = [],
  colors: Colors,
): string {
  return `<h2>Validation metrics per evaluation</h2>${results.map(evaluationLines).join("")}
${curveCharts(results, colors)}
<h2>Confusion heat map and per-class scores (last evaluation)</h2>${
    results.map((r) => `<div>${confusionHeatmap(r, labels)}${perClassBars(r, labels)}</div>`).join(
      "",
    )
  }`;
}
