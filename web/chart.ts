/// <reference lib="dom" />
// The live loss chart: an SVG polyline of the per-step training loss with its axes, redrawn
// whole on every update (a few thousand points at most, cheap next to a training step).

const NS = "http://www.w3.org/2000/svg";
const W = 900, H = 280;
const PAD = { left: 48, right: 12, top: 12, bottom: 28 };

function el(name: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Three significant digits, without a trailing exponent for the usual loss range. */
const tick = (v: number) => (Math.abs(v) >= 0.01 || v === 0 ? v.toFixed(3) : v.toExponential(1));

/**
 * Draws `losses` (loss of step i+1 at index i) into `svg`, y from the smallest to the largest
 * loss, x from step 1 to max(totalSteps, losses.length).
 */
export function drawLossChart(svg: SVGSVGElement, losses: number[], totalSteps: number): void {
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.replaceChildren();
  const x0 = PAD.left, x1 = W - PAD.right, y0 = H - PAD.bottom, y1 = PAD.top;
  svg.append(
    el("line", { x1: x0, y1: y0, x2: x1, y2: y0, class: "axis" }),
    el("line", { x1: x0, y1: y0, x2: x0, y2: y1, class: "axis" }),
    el("text", { x: (x0 + x1) / 2, y: H - 4, "text-anchor": "middle", class: "label" }, "step"),
  );
  if (losses.length === 0) return;
  let lo = Math.min(...losses), hi = Math.max(...losses);
  if (hi - lo < 1e-9) [lo, hi] = [lo - 0.5, hi + 0.5];
  const n = Math.max(totalSteps, losses.length, 2);
  const sx = (i: number) => x0 + ((x1 - x0) * i) / (n - 1);
  const sy = (v: number) => y0 - ((y0 - y1) * (v - lo)) / (hi - lo);
  for (const v of [lo, (lo + hi) / 2, hi]) {
    svg.append(
      el("line", { x1: x0, y1: sy(v), x2: x1, y2: sy(v), class: "grid" }),
      el("text", { x: x0 - 4, y: sy(v) + 4, "text-anchor": "end", class: "label" }, tick(v)),
    );
  }
  for (const s of [1, n]) {
    svg.append(
      el("text", { x: sx(s - 1), y: y0 + 14, "text-anchor": "middle", class: "label" }, String(s)),
    );
  }
  const points = losses.map((v, i) => `${sx(i).toFixed(1)},${sy(v).toFixed(1)}`).join(" ");
  svg.append(el("polyline", { points, class: "loss" }));
  if (losses.length === 1) {
    svg.append(el("circle", { cx: sx(0), cy: sy(losses[0]), r: 3, class: "dot" }));
  }
}
