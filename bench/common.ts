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

/** `--out FILE` after `deno task bench` (the task passes its arguments to the bench files). */
function outFile(): string | null {
  const i = Deno.args.indexOf("--out");
  if (i >= 0 && Deno.args[i + 1]) return Deno.args[i + 1];
  return Deno.args.find((a) => a.startsWith("--out="))?.slice(6) ?? null;
}

/** Submitted work and a wait for the queue: the time of what `fn` recorded, not of recording it. */
async function finish(): Promise<void> {
  gpu().flush();
  await gpu().device.queue.onSubmittedWorkDone();
}

/**
 * Registers a bench whose `fn` records GPU work; `work` is FLOPs (or bytes moved, with GB/s) per call.
 * Each timed sample records `fn` `reps` times into one submission: a submit-and-wait round trip
 * costs ~11 ms under Deno on lavapipe even with nothing submitted (its idle wait is printed with the
 * table), which would otherwise hide a 2 ms kernel (the table says `×reps`).
 * Temporaries made by `fn` are released after each iteration.
 */
export function gpuBench(
  group: string,
  name: string,
  work: number,
  unit: Row["unit"],
  fn: () => void,
  n = 5,
  reps = 1,
) {
  const row: Row = {
    group,
    name: reps > 1 ? `${name} ×${reps}` : name,
    work: work * reps,
    unit,
    ms: [],
  };
  rows.push(row);
  Deno.bench({
    group,
    name: row.name,
    n,
    warmup: 1,
    async fn(b) {
      await finish();
      b.start();
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) fn();
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

/** Median milliseconds of a wait for the queue with nothing submitted: what each sample pays. */
async function idleWait(): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await gpu().device.queue.onSubmittedWorkDone();
    ms.push(performance.now() - t0);
  }
  return ms.sort((a, b) => a - b)[2];
}
const idleMs = await idleWait();

globalThis.addEventListener("unload", () => {
  const done = rows.filter((r) => r.ms.length > 0);
  if (done.length === 0) return;
  const median = (r: Row) => [...r.ms].sort((a, b) => a - b)[Math.floor(r.ms.length / 2)];
  const wait = `each sample includes one wait for the queue: ${idleMs.toFixed(1)} ms idle`;
  console.log(`\nadapter: ${getAdapterName()} (${wait})`);
  for (const r of done) {
    console.log(
      `${r.group.padEnd(10)} ${r.name.padEnd(44)} ${median(r).toFixed(2).padStart(9)} ms  ${
        throughput(r).toFixed(2).padStart(8)
      } ${r.unit}`,
    );
  }
  // The table goes only where asked: `deno task bench --out FILE` (never over a tracked file).
  const file = outFile();
  if (!file) return;
  const table = [
    `# ${getAdapterName()}: kernels`,
    "",
    `\`deno task bench\` on ${
      new Date().toISOString().slice(0, 10)
    }: BERT-base shapes, batch 16 × 32 = 512 rows; median of the timed calls, each kernel validated before it is timed; ${wait}.`,
    "",
    "| family | kernel | median ms | throughput |",
    "| --- | --- | ---: | ---: |",
    ...done.map((r) =>
      `| ${r.group} | ${r.name} | ${median(r).toFixed(2)} | ${throughput(r).toFixed(2)} ${r.unit} |`
    ),
  ];
  let previous = "";
  try {
    previous = Deno.readTextFileSync(file);
  } catch { /* first run */ }
  // deno bench runs each file in its own process: keep the other file's rows, and drop this
  // file's earlier rows whether or not deno fmt has padded their cells since.
  const cells = (l: string) => l.split("|").map((c) => c.trim());
  const keep = previous.split("\n").filter((l) =>
    l.startsWith("| ") && !l.startsWith("| family") && !/^\|[ -]*---/.test(l) &&
    !done.some((r) => r.group === cells(l)[1]) // a group is timed by one bench file
  );
  const tmp = `${file}.${Deno.pid}.tmp`;
  Deno.writeTextFileSync(tmp, [...table.slice(0, 6), ...keep, ...table.slice(6)].join("\n") + "\n");
  Deno.renameSync(tmp, file);
});
