// The four LoRA low-rank products of one LoRA Linear (xa = x·Aᵀ, dXa = dY·B, dB = dYᵀ·xa,
// dA = dXaᵀ·x), and dXa with dB as loraDyProducts runs them (one dispatch when tiled), at a
// model's shapes, each timed alone as GPU milliseconds per dispatch (the
// median of `reps` timestamped dispatches, best of `rounds`), for every kernel
// variant in turn, interleaved: `deno run -A bench/low_rank_shapes.ts [--rows 512] [--rank 8]
// [--widths 128x128,128x512,512x128] [--reps 20] [--rounds 3] [--clock gpu|cpu]` (cpu: the
// process's CPU time per dispatch, which on a CPU rasteriser is steadier under load).
import { beginTimedPass, passMilliseconds } from "./timestamps.ts";
import { intFlag, parseFlags, run } from "../src/cli/common.ts";
import { gpu, initGpu } from "../src/gpu/kernel.ts";
import { Tensor } from "../src/tensor.ts";
import { endStep } from "../src/autograd/tape.ts";
import {
  loraDyProducts,
  lowRankMatmul,
  type LowRankTile,
  setLowRankTile,
} from "../src/ops/low_rank.ts";

/**
 * CPU milliseconds of one dispatch of `fn`: all of this process's threads' time on a CPU
 * (/proc/self/task/N/schedstat, Linux) over `reps` runs, less the same with nothing dispatched.
 * On a CPU rasteriser that is the kernel's work, and unlike wall or timestamp time it barely moves
 * when other processes load the machine.
 */
async function cpuTime(fn: () => void, reps: number): Promise<number> {
  const rt = gpu();
  const cpuNs = () => {
    let ns = 0;
    for (const t of Deno.readDirSync("/proc/self/task")) {
      try {
        ns += Number(Deno.readTextFileSync(`/proc/self/task/${t.name}/schedstat`).split(" ")[0]);
      } catch { /* a thread that ended meanwhile */ }
    }
    return ns;
  };
  const wait = async () => {
    rt.flush();
    await rt.device.queue.onSubmittedWorkDone();
  };
  fn();
  await wait();
  endStep();
  const i0 = cpuNs();
  for (let i = 0; i < reps; i++) await wait();
  const idle = cpuNs() - i0;
  const t0 = cpuNs();
  for (let i = 0; i < reps; i++) {
    fn();
    await wait();
  }
  const ns = cpuNs() - t0 - idle;
  endStep();
  return ns / 1e6 / reps;
}

/**
 * Median GPU milliseconds of one call of `fn`: the sum over its dispatches (each in its own
 * timestamped pass, up to 4 a call).
 */
async function timeIt(fn: () => void, reps: number): Promise<number> {
  const rt = gpu();
  const device = rt.device;
  fn(); // pipelines compiled, buffers pooled
  rt.flush();
  await device.queue.onSubmittedWorkDone();
  endStep();
  const querySet = device.createQuerySet({ type: "timestamp", count: 8 * reps });
  // deno-lint-ignore no-explicit-any
  const r = rt as any;
  const dispatch = r.dispatch.bind(rt);
  let i = 0;
  r.dispatch = (...args: unknown[]) => {
    beginTimedPass(r, device, querySet, i);
    i++;
    dispatch(...args);
    r.pass.end();
    r.pass = null;
  };
  const ends: number[] = [];
  for (let n = 0; n < reps; n++) {
    fn();
    ends.push(i);
    if (i > 4 * (n + 1)) throw new Error("low_rank_shapes: over 4 dispatches a call");
  }
  rt.flush();
  delete r.dispatch;
  const passMs = await passMilliseconds(device, querySet, i);
  const ms = ends.map((end, n) => {
    let sum = 0;
    for (let d = n ? ends[n - 1] : 0; d < end; d++) sum += passMs[d];
    return sum;
  });
  querySet.destroy();
  endStep();
  return ms.sort((a, b) => a - b)[Math.floor(reps / 2)];
}

if (import.meta.main) {
  run(async () => {
    const { values: v } = parseFlags("bench/low_rank_shapes.ts", {
      rows: { type: "string" },
      rank: { type: "string" },
      widths: { type: "string", default: "128x128,128x512,512x128" },
      reps: { type: "string" },
      rounds: { type: "string" },
      tiles: { type: "string", default: "single,tiled" },
      clock: { type: "string", default: "gpu" },
    });
    await initGpu();
    const R = intFlag("rows", v.rows as string | undefined, 512);
    const r = intFlag("rank", v.rank as string | undefined, 8);
    const reps = intFlag("reps", v.reps as string | undefined, 20);
    const rounds = intFlag("rounds", v.rounds as string | undefined, 3);
    const tiles = (v.tiles as string).split(",") as LowRankTile[];
    const rand = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.5);
    const best = new Map<string, number>();
    for (let round = 0; round < rounds; round++) {
      for (const wh of (v.widths as string).split(",")) {
        const [inF, outF] = wh.split("x").map(Number);
        const x = Tensor.from(rand(R * inF), [R, inF]);
        const dY = Tensor.from(rand(R * outF), [R, outF]);
        const A = Tensor.from(rand(r * inF), [r, inF]);
        const B = Tensor.from(rand(outF * r), [outF, r], { requiresGrad: true });
        const xa = Tensor.from(rand(R * r), [R, r]);
        const gA = Tensor.from(rand(r * inF), [r, inF]);
        const gB = Tensor.from(rand(outF * r), [outF, r]);
        const products: [string, () => void][] = [
          ["xa", () => lowRankMatmul({ a: x, b: A, transB: true }).release()],
          ["dXa", () => lowRankMatmul({ a: dY, b: B, alpha: 2 }).release()],
          ["dB", () => void lowRankMatmul({ a: dY, b: xa, transA: true, into: gB })],
          ["dA", () => void lowRankMatmul({ a: xa, b: x, transA: true, into: gA })],
          ["dXa+dB", () => loraDyProducts(dY, B, xa, 2).release()],
        ];
        for (const [name, fn] of products) {
          for (const tile of tiles) {
            setLowRankTile(tile);
            const ms = v.clock === "cpu" ? await cpuTime(fn, reps) : await timeIt(fn, reps);
            const key = `${wh} ${name.padEnd(3)} ${tile}`;
            best.set(key, Math.min(best.get(key) ?? Infinity, ms));
          }
        }
        setLowRankTile(null);
        [x, dY, A, B, B.grad, xa, gA, gB].forEach((t) => t?.release());
      }
    }
    for (const [k, ms] of best) console.log(`${k.padEnd(28)} ${ms.toFixed(3)} ms`);
  });
}
