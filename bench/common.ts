// Shared by the kernel benches: time GPU work to completion and print throughput per adapter.
import { getAdapterName } from "../src/gpu/device.ts";
import { gpu, initGpu } from "../src/gpu/kernel.ts";
import { endStep } from "../src/autograd/tape.ts";

export const rt = await initGpu();
Deno.env.get("XDG_RUNTIME_DIR") ?? Deno.env.set("XDG_RUNTIME_DIR", "/tmp");

interface Row {
  group: string;
  name: string;
  work: number;
  unit: "GFLOP/s" | "GB/s";
  ms: number[];
}
const rows: Row[] = [];

/** Submitted work and a wait for the queue: the time of what `fn` recorded, not of recording it. */
async function finish(): Promise<void> {
  gpu().flush();
  await gpu().device.queue.onSubmittedWorkDone();
}

/**
 * Registers a bench whose `fn` records GPU work; `work` is FLOPs (or bytes moved, with GB/s) per call.
 * Temporaries made by `fn` are released after each iteration.
 */
export function gpuBench(
  group: string,
  name: string,
  work: number,
  unit: Row["unit"],
  fn: () => void,
  n = 5,
) {
  const row: Row = { group, name, work, unit, ms: [] };
  rows.push(row);
  Deno.bench({
    group,
    name,
    n,
    warmup: 1,
    async fn(b) {
      await finish();
      b.start();
      const t0 = performance.now();
      fn();
      await finish();
      row.ms.push(performance.now() - t0);
      b.end();
      endStep();
    },
  });
}

export function throughput(r: Row): number {
  const sorted = [...r.ms].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  return r.work / (median / 1000) / 1e9;
}

globalThis.addEventListener("unload", () => {
  const done = rows.filter((r) => r.ms.length > 0);
  if (done.length === 0) return;
  console.log(`\nadapter: ${getAdapterName()}`);
  for (const r of done) {
    const sorted = [...r.ms].sort((a, b) => a - b);
    console.log(
      `${r.group.padEnd(10)} ${r.name.padEnd(44)} ${
        sorted[Math.floor(sorted.length / 2)].toFixed(2).padStart(9)
      } ms  ${throughput(r).toFixed(2).padStart(8)} ${r.unit}`,
    );
  }
});
