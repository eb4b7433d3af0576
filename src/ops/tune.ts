// Chooses, per adapter, between the kernel shapes of src/ops/variants.ts by timing both on the
// model's own shapes, once: the choice is cached per adapter and driver (the adapter's description
// names both, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)") in a ChoiceStore — under Deno the file
// $XDG_CACHE_HOME/webgpu-bert/kernel_choices.json (src/io/kernel_cache.ts). Every candidate is one
// the tests check on every adapter (tests/ops_test.ts and helpers.ts run both shapes). Portable:
// no Deno calls here.
import { gpu } from "../gpu/kernel.ts";
import { getAdapterName } from "../gpu/device.ts";
import { Tensor } from "../tensor.ts";
import { endStep } from "../autograd/tape.ts";
import { residualLayerNorm } from "./residual_layer_norm.ts";
import { matmulRaw } from "./matmul.ts";
import {
  isLavapipe,
  type MatmulTile,
  matmulTile,
  type RowLayout,
  rowReductionLayout,
  setMatmulTile,
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
  matmulTile: MatmulTile;
  /** "default", "timed" or "cached". */
  source: string;
}

/** Choices by "<adapter> | rows R | hidden H". */
export type ChoiceCache = Record<string, Omit<KernelChoices, "source">>;

/** Where choices persist between runs; failures to read or write only cost timing again. */
export interface ChoiceStore {
  read(): Promise<ChoiceCache>;
  write(cache: ChoiceCache): Promise<void>;
}

/** A store that keeps nothing (every quick tuning times again). */
export const NO_STORE: ChoiceStore = {
  read: () => Promise.resolve({}),
  write: () => Promise.resolve(),
};

/** Choices kept in memory for this page or process (a browser without a cache file). */
export function memoryChoiceStore(): ChoiceStore {
  let cache: ChoiceCache = {};
  return {
    read: () => Promise.resolve({ ...cache }),
    write: (c) => {
      cache = { ...c };
      return Promise.resolve();
    },
  };
}

/**
 * Milliseconds of `reps` runs of `fn` in one submission (best of `rounds`), less the time a
 * submit-and-wait takes with nothing to run (best of as many): on lavapipe under Deno that wait
 * alone is ~11 ms, which would otherwise drown a 1 ms kernel's difference between candidates.
 */
async function timeIt(fn: () => void, reps: number, rounds: number): Promise<number> {
  const rt = gpu();
  const wait = async () => {
    rt.flush();
    await rt.device.queue.onSubmittedWorkDone();
  };
  fn(); // pipelines compiled, buffers pooled
  await wait();
  endStep();
  let best = Infinity, idle = Infinity;
  for (let r = 0; r < rounds; r++) {
    const i0 = performance.now();
    await wait();
    idle = Math.min(idle, performance.now() - i0);
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    await wait();
    best = Math.min(best, performance.now() - t0);
    endStep();
  }
  return Math.max(0, best - idle);
}

/**
 * Sets the kernel shapes for this adapter; `rows` (batch × sequence) and `hidden` are the model's.
 * Returns what was chosen and how.
 */
export async function tuneKernels(
  level: TuneLevel,
  rows: number,
  hidden: number,
  store: ChoiceStore = NO_STORE,
): Promise<KernelChoices> {
  setRowReductionLayout(null);
  setTransposedALayout(null);
  setMatmulTile(null);
  if (level === "off") {
    return {
      rowReductions: rowReductionLayout(),
      transposedA: transposedALayout(),
      matmulTile: matmulTile(),
      source: "default",
    };
  }
  // The tall tile only on lavapipe, the one adapter it was made for: SwiftShader ran it no faster
  // and compiled it 2.3× slower, and a GPU would spill its 512 accumulators per thread.
  const tiles: MatmulTile[] = isLavapipe()
    ? ["register", "register-tall", "workgroup"]
    : ["register", "workgroup"];
  // The key names the candidates timed, so a choice cached before a new candidate existed (an
  // older release's) is timed again rather than kept forever.
  const key = `${getAdapterName()} | rows ${rows} | hidden ${hidden} | tiles ${tiles.join(",")}`;
  let cache: ChoiceCache = {};
  try {
    cache = await store.read();
  } catch { /* no cache yet, or unreadable: time again */ }
  const hit = cache[key];
  const valid = hit && ["thread", "workgroup"].includes(hit.rowReductions) &&
    ["in-kernel", "materialize"].includes(hit.transposedA) &&
    ["register", "register-tall", "workgroup"].includes(hit.matmulTile);
  if (level === "quick" && valid) {
    setRowReductionLayout(hit.rowReductions);
    setTransposedALayout(hit.transposedA);
    setMatmulTile(hit.matmulTile);
    return { ...hit, source: "cached" };
  }
  const rounds = level === "full" ? 5 : 2;
  const rand = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 2);
  const x = Tensor.from(rand(rows * hidden), [rows, hidden]);
  const w = Tensor.from(rand(hidden), [hidden]), b = Tensor.from(rand(hidden), [hidden]);
  const rowTimes = new Map<RowLayout, number>();
  // The LayerNorm the model runs: a sublayer's bias, residual add and LayerNorm in one kernel.
  for (const layout of ["thread", "workgroup"] as const) {
    setRowReductionLayout(layout);
    rowTimes.set(
      layout,
      await timeIt(() => void residualLayerNorm(x, b, x, w, b, 1e-12), 10, rounds),
    );
  }
  // A weight gradient dYᵀ·x of the model's hidden size.
  const transTimes = new Map<TransposedA, number>();
  for (const layout of ["in-kernel", "materialize"] as const) {
    setTransposedALayout(layout);
    transTimes.set(
      layout,
      await timeIt(() => matmulRaw({ a: x, b: x, transA: true }).release(), 4, rounds),
    );
  }
  // A linear x·Wᵀ + b of the model's hidden size: the register tiles against the shared one.
  const weight = Tensor.from(rand(hidden * hidden), [hidden, hidden]);
  const tileTimes = new Map<MatmulTile, number>();
  // Enough products for ~160 MFLOP a sample (bert-tiny's 128-wide one is ~17 MFLOP, ~1 ms here).
  const tileReps = Math.min(16, Math.max(2, Math.ceil(1.6e8 / (2 * rows * hidden * hidden))));
  for (const layout of tiles) {
    setMatmulTile(layout);
    tileTimes.set(
      layout,
      await timeIt(
        () => matmulRaw({ a: x, b: weight, transB: true, bias: b }).release(),
        tileReps,
        rounds,
      ),
    );
  }
  [x, w, b, weight].forEach((t) => t.release());
  const pick = <K>(m: Map<K, number>) => [...m].sort((p, q) => p[1] - q[1])[0][0];
  const choice = {
    rowReductions: pick(rowTimes),
    transposedA: pick(transTimes),
    matmulTile: pick(tileTimes),
  };
  setRowReductionLayout(choice.rowReductions);
  setTransposedALayout(choice.transposedA);
  setMatmulTile(choice.matmulTile);
  cache[key] = choice;
  try {
    await store.write(cache);
  } catch { /* a read-only cache folder only costs timing again next time */ }
  return { ...choice, source: "timed" };
}
