// A self-contained HTML training report: inline SVG charts, no scripts, no network.
import type { ModeResult } from "./trainer.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { evaluationSections, smoothedLines } from "./report_charts.ts";

const COLORS: Record<string, string> = { full: "#1f77b4", head: "#ff7f0e", lora: "#2ca02c" };
const esc = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
const f = (v: number | null, d = 4) => (v === null ? "undefined" : v.toFixed(d));

/**
 * A legend: a swatch filled with each mode's colour and its name. The swatch is a <rect>, whose
 * fill attribute no text rule of the page's CSS overrides (a coloured <text> turned grey).
 */
function legend(results: ModeResult[], x: number, y: number): string {
  return `<g class="legend">${
    results.map((r, i) =>
      `<rect x="${x}" y="${y + 16 * i}" width="12" height="12" fill="${
        COLORS[r.mode] ?? "#555"
      }"/><text x="${x + 18}" y="${y + 10 + 16 * i}">${r.mode}</text>`
    ).join("")
  }</g>`;
}

/** Training loss per step, one polyline per mode, on shared axes. */
function lossChart(results: ModeResult[]): string {
  // R leaves room for the legend right of the plot, clear of the curves.
  const W = 720, H = 260, L = 50, B = 30, T = 10, R = 90;
  const maxSteps = Math.max(1, ...results.map((r) => r.losses.length));
  const maxLoss = Math.max(1e-6, ...results.flatMap((r) => r.losses.filter(Number.isFinite)));
  const x = (i: number) => L + (i / Math.max(1, maxSteps - 1)) * (W - L - R);
  const y = (v: number) => T + (1 - v / maxLoss) * (H - T - B);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((t) => t * maxLoss);
  const lines = results.map((r) =>
    `<polyline fill="none" stroke="${
      COLORS[r.mode] ?? "#555"
    }" stroke-width="1" stroke-opacity="0.35" points="${
      r.losses.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ")
    }"><title>${r.mode}</title></polyline>`
  );
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="training loss per step">
<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${
    H - B
  }" stroke="#999"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#999"/>
${
    ticks.map((t) => `<text x="${L - 6}" y="${y(t) + 4}" text-anchor="end">${t.toFixed(2)}</text>`)
      .join("")
  }
<text x="${(L + W) / 2}" y="${H - 6}" text-anchor="middle">step (of ${maxSteps})</text>
${lines.join("\n")}
${smoothedLines(results, x, y, COLORS)}
${legend(results, W - R + 16, T + 4)}
</svg>`;
}

/** Grouped bars: one group per metric, one bar per mode (values in [0, 1]). */
function metricBars(results: ModeResult[]): string {
  const metrics = ["accuracy", "precision", "recall", "f1", "auroc"] as const;
  const W = 640,
    H = 220,
    B = 30,
    T = 10,
    groupW = (W - 120) / metrics.length,
    barW = groupW / (results.length + 1);
  const bars = metrics.flatMap((m, g) =>
    results.map((r, i) => {
      const last = r.epochs[r.epochs.length - 1];
      const v = last ? (last.metrics[m] ?? 0) : 0;
      const h = v * (H - T - B);
      return `<rect x="${(40 + g * groupW + i * barW).toFixed(1)}" y="${
        (H - B - h).toFixed(1)
      }" width="${(barW - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${
        COLORS[r.mode]
      }"><title>${r.mode} ${m} ${f(last?.metrics[m] ?? null)}</title></rect>`;
    })
  );
  const labels = metrics.map((m, g) =>
    `<text x="${40 + g * groupW + groupW / 2 - barW / 2}" y="${
      H - 10
    }" text-anchor="middle">${m}</text>`
  );
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="validation metrics per mode">
<line x1="36" y1="${H - B}" x2="${W}" y2="${H - B}" stroke="#999"/>${
    [0, 0.5, 1].map((t) =>
      `<text x="32" y="${H - B - t * (H - T - B) + 4}" text-anchor="end">${t}</text>`
    ).join("")
  }
${bars.join("\n")}${labels.join("")}
${legend(results, W - 70, T)}</svg>`;
}

/** The 2×2 table for two labels, named by the model's labels (N labels: the heat map only). */
function confusion(r: ModeResult, labels: string[] = []): string {
  const c = r.epochs[r.epochs.length - 1]?.metrics.confusion;
  if (!c || c.length !== 2) return "";
  const [neg, pos] = labels.length === 2 ? labels.map(esc) : ["ham", "spam"];
  const max = Math.max(1, ...c.flat());
  const cell = (v: number) =>
    `<td style="background: rgba(31,119,180,${(0.1 + 0.8 * v / max).toFixed(2)})">${v}</td>`;
  return `<table class="confusion"><caption>${r.mode}: confusion matrix (last epoch)</caption>
<tr><th></th><th>predicted ${neg}</th><th>predicted ${pos}</th></tr>
<tr><th>true ${neg}</th>${cell(c[0][0])}${cell(c[0][1])}</tr><tr><th>true ${pos}</th>${
    cell(c[1][0])
  }${cell(c[1][1])}</tr></table>`;
}

function epochRows(r: ModeResult): string {
  return r.epochs.map((e) =>
    `<tr><td>${r.mode}</td><td>${e.epoch}</td><td>${f(e.trainLoss)}</td><td>${
      f(e.metrics.accuracy)
    }</td><td>${f(e.metrics.precision)}</td><td>${f(e.metrics.recall)}</td><td>${
      f(e.metrics.f1)
    }</td><td>${f(e.metrics.auroc)}</td><td>${e.trainSeconds.toFixed(1)}</td><td>${
      e.evalSeconds.toFixed(1)
    }</td><td>${e.tokensPerSecond.toFixed(0)}</td></tr>`
  ).join("\n");
}

export function renderReport(
  results: ModeResult[],
  meta: { adapter: string; model: string; command: string; labels?: string[] },
): string {
  const modes = results.map((r) => {
    const per = r.epochs.reduce((s, e) => s + e.trainSeconds, 0) / Math.max(1, r.epochs.length);
    const peak = Math.max(0, ...r.epochs.map((e) => e.peakBytes));
    return `<tr><td>${r.mode}</td><td>${r.trainableParams.toLocaleString("en-US")}</td><td>${
      per.toFixed(1)
    }</td><td>${(peak / 2 ** 20).toFixed(1)} MiB</td><td>${
      f(r.epochs.at(-1)?.metrics.accuracy ?? null)
    }</td><td>${f(r.epochs.at(-1)?.metrics.auroc ?? null)}</td></tr>`;
  });
  const confusions = results.map((r) => confusion(r, meta.labels)).join("");
  // N labels: the epoch metrics are macro averages (one-vs-rest for AUROC), as train prints them.
  const many = results.some((r) => (r.epochs.at(-1)?.metrics.confusion.length ?? 2) > 2);
  const avg = many ? "macro " : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>webgpu-bert training report</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 24px; color: #222; max-width: 980px; }
table { border-collapse: collapse; margin: 8px 0 20px; } td, th { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th { background: #f3f3f3; } caption { text-align: left; font-weight: 600; padding: 4px 0; }
.chart text { font-size: 11px; fill: #333; } code { background: #f3f3f3; padding: 1px 4px; }
.confusion { display: inline-table; margin-right: 24px; }
</style></head><body>
<h1>webgpu-bert training report</h1>
<p>model <code>${esc(meta.model)}</code> on GPU adapter <code>${
    esc(meta.adapter)
  }</code><br>command <code>${esc(meta.command)}</code></p>
<h2>Training loss per step</h2>${lossChart(results)}
<h2>Validation metrics (last epoch)</h2>${metricBars(results)}
<h2>Modes side by side</h2>
<table><tr><th>mode</th><th>trainable parameters</th><th>s / epoch (train)</th><th>peak memory</th><th>accuracy</th><th>AUROC</th></tr>${
    modes.join("")
  }</table>
<h2>Per epoch</h2>
<table><tr><th>mode</th><th>epoch</th><th>train loss</th><th>accuracy</th><th>${avg}precision</th><th>${avg}recall</th><th>${avg}F1</th><th>${avg}AUROC</th><th>train s</th><th>eval s</th><th>tokens/s</th></tr>
${results.map(epochRows).join("\n")}</table>
${confusions ? `<h2>Confusion matrices</h2>${confusions}` : ""}
${evaluationSections(results, meta.labels, COLORS)}
</body></html>
`;
}

export function writeHtmlReport(
  file: string,
  results: ModeResult[],
  meta: { adapter: string; model: string; command: string; labels?: string[] },
): Promise<void> {
  return writeFileAtomic(file, renderReport(results, meta));
}
