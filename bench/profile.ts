// GPU time per kernel in one training step, from timestamp queries around each dispatch (each
// dispatch gets its own compute pass, which adds a little time per dispatch): where a step's GPU
// time goes. `deno run -A bench/profile.ts [--model bert-tiny] [--mode full|head|lora]
// [--last-layer cls|all|both] [--packing on|off|both] [--rounds N]`: `both` alternates the last
// encoder layer on the [CLS] rows alone (the default) and on all rows (setLastLayerRows), or
// packed batches (the default) and padded ones (setPacking), N times: an A/B in one run.
// Needs the adapter's "timestamp-query" feature (lavapipe and most GPUs have it).
import { beginTimedPass, passMilliseconds } from "./timestamps.ts";
import { parseFlags, run } from "../src/cli/common.ts";
import { UserError } from "../src/errors.ts";
import { initGpu } from "../src/gpu/kernel.ts";
import { setLastLayerRows } from "../src/bert/model.ts";
import { setPacking } from "../src/data/batches.ts";
import type { Mode } from "../src/train/trainer.ts";
import { syntheticTraining } from "./dispatches.ts";

const MAX_QUERIES = 4096;

/** Milliseconds of GPU time per `shader:entry` (summed over its dispatches) in one step. */
export async function profileStep(
  model: string,
  mode: Mode,
  B = 16,
  T = 32,
  lastLayer: "cls" | "all" = "cls",
  packing = true,
): Promise<{ totalMs: number; wallMs: number; byKernel: [string, number, number][] }> {
  setLastLayerRows(lastLayer);
  setPacking(packing);
  try {
    return await profileRows(model, mode, B, T);
  } finally {
    setLastLayerRows("cls");
    setPacking(true);
  }
}

async function profileRows(
  model: string,
  mode: Mode,
  B: number,
  T: number,
): Promise<{ totalMs: number; wallMs: number; byKernel: [string, number, number][] }> {
  const rt = await initGpu();
  const device = rt.device;
  if (!device.features.has("timestamp-query")) {
    throw new UserError("bench/profile.ts: this adapter has no timestamp-query feature");
  }
  const { step, release } = syntheticTraining(model, mode, B, T);
  const sync = async () => {
    rt.flush();
    await device.queue.onSubmittedWorkDone();
  };
  step(0);
  await sync();
  const w0 = performance.now();
  step(1);
  await sync();
  const wallMs = performance.now() - w0;

  // One compute pass per dispatch, with timestamps at its start and end.
  const querySet = device.createQuerySet({ type: "timestamp", count: MAX_QUERIES });
  const names: string[] = [];
  // deno-lint-ignore no-explicit-any
  const r = rt as any;
  const dispatch = r.dispatch.bind(rt);
  r.dispatch = (k: { shader: string; entry: string }, ...rest: unknown[]) => {
    r.pass?.end();
    r.pass = null;
    if (names.length * 2 < MAX_QUERIES) {
      const i = names.length;
      names.push(`${k.shader}:${k.entry}`);
      beginTimedPass(r, device, querySet, i);
    }
    dispatch(k, ...rest);
    r.pass?.end();
    r.pass = null;
  };
  step(2);
  await sync();
  delete r.dispatch; // the prototype's method again
  const passMs = await passMilliseconds(device, querySet, names.length);
  const byKernel = new Map<string, [number, number]>();
  let totalMs = 0;
  names.forEach((n, i) => {
    const ms = passMs[i];
    totalMs += ms;
    const e = byKernel.get(n) ?? [0, 0];
    byKernel.set(n, [e[0] + ms, e[1] + 1]);
  });
  release();
  return {
    totalMs,
    wallMs,
    byKernel: [...byKernel].map(([k, [ms, n]]): [string, number, number] => [k, ms, n])
      .sort((a, b) => b[1] - a[1]),
  };
}

interface Variant {
  label: string;
  lastLayer: "cls" | "all";
  packing: boolean;
}

/** Two variants alternated `rounds` times: medians, then kernels. */
async function compare(model: string, mode: Mode, rounds: number, variants: Variant[]) {
  if (!(Number.isInteger(rounds) && rounds >= 1)) {
    throw new UserError(`bench/profile.ts: --rounds must be a positive integer, got ${rounds}`);
  }
  const runs = variants.map(() => [] as Awaited<ReturnType<typeof profileStep>>[]);
  for (let i = 0; i < rounds; i++) {
    for (const [j, v] of variants.entries()) {
      runs[j].push(await profileStep(model, mode, 16, 32, v.lastLayer, v.packing));
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const [j, v] of variants.entries()) {
    const wall = runs[j].map((r) => r.wallMs), gpu = runs[j].map((r) => r.totalMs);
    console.log(
      `${model} ${mode}, ${v.label}: median ` +
        `${median(wall).toFixed(1)} ms per step (wall, unprofiled), ${median(gpu).toFixed(1)} ms ` +
        `of GPU time (profiled); per round ${wall.map((w) => w.toFixed(1)).join(", ")} wall, ` +
        `${gpu.map((g) => g.toFixed(1)).join(", ")} GPU`,
    );
  }
  // Per kernel, the median round of each (ms, dispatches).
  const perKernel = (j: number) => {
    const m = new Map<string, [number[], number]>();
    for (const r of runs[j]) {
      for (const [k, ms, n] of r.byKernel) m.set(k, [[...(m.get(k)?.[0] ?? []), ms], n]);
    }
    return new Map([...m].map(([k, [ms, n]]) => [k, [median(ms), n] as const]));
  };
  const [a, b] = [perKernel(0), perKernel(1)];
  const names = [...new Set([...b.keys(), ...a.keys()])]
    .sort((x, y) => (b.get(y)?.[0] ?? 0) - (b.get(x)?.[0] ?? 0));
  console.log(
    `${variants[0].label.padStart(15)}  ${variants[1].label.padStart(15)}  kernel (median ms, ` +
      `dispatches)`,
  );
  for (const k of names) {
    const f = (e?: readonly [number, number]) =>
      e ? `${e[0].toFixed(2).padStart(9)} ${String(e[1]).padStart(4)}×` : " ".repeat(15);
    console.log(`${f(a.get(k))}  ${f(b.get(k))}  ${k}`);
  }
}

if (import.meta.main) {
  run(async () => {
    const { values: v } = parseFlags("bench/profile.ts", {
      model: { type: "string", default: "bert-tiny" },
      mode: { type: "string", default: "full" },
      "last-layer": { type: "string", default: "cls" },
      packing: { type: "string", default: "on" },
      rounds: { type: "string", default: "3" },
    });
    const rows = v["last-layer"] as string, packing = v.packing as string;
    if (!["cls", "all", "both"].includes(rows)) {
      throw new UserError(`bench/profile.ts: --last-layer must be cls, all or both, got ${rows}`);
    }
    if (!["on", "off", "both"].includes(packing)) {
      throw new UserError(`bench/profile.ts: --packing must be on, off or both, got ${packing}`);
    }
    if (rows === "both" && packing === "both") {
      throw new UserError(
        "bench/profile.ts: compare one thing at a time (--last-layer or --packing)",
      );
    }
    const packed = packing !== "off";
    if (rows === "both") {
      return await compare(v.model as string, v.mode as Mode, +v.rounds!, [
        { label: "last layer on [CLS] rows", lastLayer: "cls", packing: packed },
        { label: "last layer on all rows", lastLayer: "all", packing: packed },
      ]);
    }
    if (packing === "both") {
      return await compare(v.model as string, v.mode as Mode, +v.rounds!, [
        { label: "packed", lastLayer: rows as "cls" | "all", packing: true },
        { label: "padded", lastLayer: rows as "cls" | "all", packing: false },
      ]);
    }
    const { totalMs, wallMs, byKernel } = await profileStep(
      v.model as string,
      v.mode as Mode,
      16,
      32,
      rows as "cls" | "all",
      packed,
    );
    console.log(
      `${v.model} ${v.mode}: ${wallMs.toFixed(1)} ms per step (wall, unprofiled); ` +
        `${totalMs.toFixed(1)} ms of GPU time inside dispatches (profiled step)`,
    );
    for (const [k, ms, n] of byKernel) {
      console.log(`${ms.toFixed(2).padStart(9)} ms ${String(n).padStart(5)}×  ${k}`);
    }
  });
}
