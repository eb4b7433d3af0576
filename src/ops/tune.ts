// Chooses, per adapter, between the kernel shapes of src/ops/variants.ts by timing both on the
// model's own shapes, once: the choice is cached per adapter and driver (the adapter's description
// names both, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)") in
// $XDG_CACHE_HOME/webgpu-bert/kernel_choices.json (default ~/.cache). Every candidate is one the
// tests check on every adapter (tests/ops_test.ts and helpers.ts run both shapes).
import { gpu } from "../gpu/kernel.ts";
import { getAdapterName } from "../gpu/device.ts";
import { Tensor } from "../tensor.ts";
import { endStep } from "../autograd/tape.ts";
import { writeJsonAtomic } from "../io/atomic.ts";
import { layerNorm } from "./layer_norm.ts";
import { matmulRaw } from "./matmul.ts";
import {
  type RowLayout,
  rowReductionLayout,
  setRowReductionLayout,
  setTransposedALayout,
  type TransposedA,
  transposedALayout,
} from "./variants.ts";

/** off: the adapter-kind defaults; quick: cached choice, timed once if absent; full: re-time. */
export type TuneLevel = "off" | "quick" | "full";

export interface KernelChoices {
  rowReductions: RowLayout;
  transposedA: TransposedA;
  /** "default", "timed" or "cached". */
  source: string;
}

export function kernelCacheFile(): string {
  const base = Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "."}/.cache`;
  return `${base}/webgpu-bert/kernel_choices.json`;
}

/** Milliseconds of `reps` runs of `fn` in one submission (best of `rounds`). */
async function timeIt(fn: () => void, reps: number, rounds: number): Promise<number> {
  const rt = gpu();
  fn(); // pipelines compiled, buffers pooled
  rt.flush();
  await rt.device.queue.onSubmittedWorkDone();
  endStep();
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    rt.flush();
    await rt.device.queue.onSubmittedWorkDone();
    best = Math.min(best, performance.now() - t0);
    endStep();
  }
  return best;
}

/**
 * Sets the kernel shapes for this adapter; `rows` (batch × sequence) and `hidden` are the model's.
 * Returns what was chosen and how.
 */
export async function tuneKernels(
  level: TuneLevel,
  rows: number,
  hidden: number,
): Promise<KernelChoices> {
  setRowReductionLayout(null);
  setTransposedALayout(null);
  if (level === "off") {
    return {
      rowReductions: rowReductionLayout(),
      transposedA: transposedALayout(),
      source: "default",
    };
  }
  const file = kernelCacheFile(), key = `${getAdapterName()} | rows ${rows} | hidden ${hidden}`;
  let cache: Record<string, Omit<KernelChoices, "source">> = {};
  try {
    cache = JSON.parse(await Deno.readTextFile(file));
  } catch { /* no cache yet, or unreadable: time again */ }
  const hit = cache[key];
  const valid = hit && ["thread", "workgroup"].includes(hit.rowReductions) &&
    ["in-kernel", "materialize"].includes(hit.transposedA);
  if (level === "quick" && valid) {
    setRowReductionLayout(hit.rowReductions);
    setTransposedALayout(hit.transposedA);
    return { ...hit, source: "cached" };
  }
  const rounds = level === "full" ? 5 : 2;
  const rand = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 2);
  const x = Tensor.from(rand(rows * hidden), [rows, hidden]);
  const w = Tensor.from(rand(hidden), [hidden]), b = Tensor.from(rand(hidden), [hidden]);
  const rowTimes = new Map<RowLayout, number>();
  for (const layout of ["thread", "workgroup"] as const) {
    setRowReductionLayout(layout);
    rowTimes.set(layout, await timeIt(() => void layerNorm(x, w, b, 1e-12), 10, rounds));
  }
  // A weight gradient dYᵀ·x of the model's hidden size.
  const transTimes = new Map<TransposedA, number>();
  for (const layout of ["in-kernel", "materialize"] as const) {
    setTransposedALayout(layout);
    transTimes.set(
      layout,
      await timeIt(() => matmulRaw({ a: x, b: x, transA: true }).release(), 2, rounds),
    );
  }
  [x, w, b].forEach((t) => t.release());
  const pick = <K>(m: Map<K, number>) => [...m].sort((p, q) => p[1] - q[1])[0][0];
  const choice = { rowReductions: pick(rowTimes), transposedA: pick(transTimes) };
  setRowReductionLayout(choice.rowReductions);
  setTransposedALayout(choice.transposedA);
  cache[key] = choice;
  try {
    await Deno.mkdir(file.slice(0, file.lastIndexOf("/")), { recursive: true });
    await writeJsonAtomic(file, cache);
  } catch { /* a read-only cache folder only costs timing again next time */ }
  return { ...choice, source: "timed" };
}
