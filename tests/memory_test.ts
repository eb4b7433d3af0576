// Host memory over a long run: a few hundred tiny training steps with AdamW, dropout and a warmup
// schedule (uniforms that change every step) must not grow RSS step by step after warm-up.
import assert from "node:assert/strict";

const PROBE = `
import { FIXTURE_MESSAGES, writeTinyCheckpoint } from "${new URL(
  "./bert_fixture.ts",
  import.meta.url,
)}";
import { loadCheckpoint } from "${new URL("../src/bert/checkpoint.ts", import.meta.url)}";
import { initGpu } from "${new URL("../src/gpu/kernel.ts", import.meta.url)}";
import { trainMode } from "${new URL("../src/train/trainer.ts", import.meta.url)}";
import { parseTargets } from "${new URL("../src/nn/lora.ts", import.meta.url)}";
const dir = await Deno.makeTempDir();
await writeTinyCheckpoint(dir, { config: { hidden_dropout_prob: 0.1 } });
await initGpu();
const ck = await loadCheckpoint(dir, { seed: 1 });
const ex = FIXTURE_MESSAGES.map(([l, t]) => ({ label: l === "spam" ? 1 : 0, text: t }));
const rss = [];
await trainMode(ck, ex, ex.slice(0, 2), {
  mode: "full", epochs: 1100, batchSize: 8, maxLength: 8, lr: 1e-3, optimizer: "adamw",
  weightDecay: 0.01, seed: 1, maxSteps: null, shuffle: true, warmupRatio: 0.5, maxGradNorm: 1,
  lora: { r: 2, alpha: 4, dropout: 0, targets: parseTargets("all-linear") },
  evalBatchSize: 8, logEvery: 10,
}, { log: () => {}, onEpoch: async (_m, r) => { if (r.epoch % 100 === 0) rss.push(Deno.memoryUsage().rss); } });
console.log(JSON.stringify(rss));
`;

Deno.test("memory: RSS stays flat over 600 training steps after a 500-step warm-up", async () => {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, PROBE);
  // --expose-gc as the train task runs: the trainer collects every 100 steps.
  const out = await new Deno.Command(Deno.execPath(), {
    // The probe lives outside the project: name its deno.json for the import map.
    args: [
      "run",
      "-A",
      "--quiet",
      "--v8-flags=--expose-gc",
      "--config",
      new URL("../deno.json", import.meta.url).pathname,
      file,
    ],
    cwd: new URL("..", import.meta.url).pathname,
    env: { XDG_RUNTIME_DIR: "/tmp" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const rss: number[] = JSON.parse(stdout.trim().split("\n").at(-1)!);
  assert.equal(rss.length, 11);
  // Steps 500 → 1100 (one step per epoch here). Warm-up: the uniform and bind-group caches fill
  // for ~400 steps (dropout seeds change every step, and pooled buffers recombine) before they
  // start again, so RSS rises ~20 MB and then stays level. Before the caches were bounded RSS grew
  // by ~40 KB a step without end; allocator noise is a few MB, so the bound is 20 KB a step.
  const growth = rss[10] - rss[4];
  assert.ok(
    growth < 600 * 20 * 1024,
    `RSS grew ${(growth / 2 ** 20).toFixed(1)} MiB over 600 steps: ${
      rss.map((b) => (b / 2 ** 20).toFixed(1))
    } MiB`,
  );
});
