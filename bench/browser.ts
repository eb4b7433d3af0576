// deno task bench:browser [--steps N] [--out]
// The same bert-tiny training step (bench/train_step.ts: random init, full mode, AdamW, batch
// 16 × 32) timed in Deno (wgpu) and in headless Chromium (Dawn) on this machine. Prints both;
// --out also writes bench/results/<Chromium's adapter>_browser.md.
import { intFlag, parseFlags, run } from "../src/cli/common.ts";
import { UserError } from "../src/errors.ts";
import { writeFileAtomic } from "../src/io/atomic.ts";
import { CHROMIUM, runInChromium } from "../tools/browser.ts";
import { type StepTiming, timeTrainSteps } from "./train_step.ts";

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function row(where: string, t: StepTiming): string {
  const m = median(t.stepsMs);
  return `| ${where} | ${t.adapter} | ${t.warmupMs.toFixed(0)} | ${m.toFixed(1)} | ${
    Math.min(...t.stepsMs).toFixed(1)
  } | ${(t.batch * t.seqLen / (m / 1000)).toFixed(0)} | ${t.loss.toFixed(4)} |`;
}

/** Markdown as `deno fmt` leaves it (the repository's lineWidth), so the file passes fmt --check. */
async function formatMarkdown(md: string): Promise<string> {
  const fmt = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext", "md", "-"],
    cwd: new URL("../", import.meta.url).pathname,
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = fmt.stdin.getWriter();
  await writer.write(new TextEncoder().encode(md));
  await writer.close();
  const { success, stdout } = await fmt.output();
  if (!success) throw new Error("deno fmt failed on the results table");
  return new TextDecoder().decode(stdout);
}

await run(async () => {
  const { values: v } = parseFlags("bench:browser", {
    steps: { type: "string" },
    out: { type: "boolean", default: false },
  });
  const steps = intFlag("steps", v.steps, 5);
  if (steps < 1) throw new UserError(`--steps must be at least 1, got ${steps}`);
  if (!CHROMIUM) {
    throw new UserError("bench:browser: chromium is not installed (apt-get install chromium)");
  }
  const deno = await timeTrainSteps(steps);
  const { result: browser } = await runInChromium<StepTiming>(
    new URL("./browser_page.ts", import.meta.url).pathname,
    { timeoutMs: 10 * 60_000, query: { steps: String(steps) } },
  );
  for (const t of [deno, browser]) {
    if (!Number.isFinite(t.loss)) throw new Error(`${t.adapter}: the training loss is ${t.loss}`);
  }
  const table = [
    "| runtime | adapter | warm-up step ms | step ms (median) | step ms (min) | tokens/s | loss after |",
    "| ------- | ------- | --------------: | ---------------: | ------------: | -------: | ---------: |",
    row(`Deno ${Deno.version.deno}`, deno),
    row("Chromium (headless)", browser),
  ].join("\n");
  console.log(table);
  if (!v.out) return;
  const file = `bench/results/${browser.adapter.replace(/[^A-Za-z0-9.]+/g, "_")}_browser.md`;
  const text = [
    "# bert-tiny training step: Deno and Chromium on one machine",
    "",
    `Written by \`deno task bench:browser --steps ${steps} --out\` on ${new Date().toISOString()}.`,
    "bert-tiny (2 layers, hidden 128) from random init, full fine-tuning with AdamW, batch",
    `${deno.batch} × ${deno.seqLen} synthetic tokens: a warm-up step (pipeline compilation), then`,
    `${steps} timed steps, each from recording to the queue's completion. Deno runs WebGPU on`,
    "wgpu, Chromium on Dawn; on a machine without a GPU both reach Vulkan on the CPU (Mesa",
    `lavapipe, SwiftShader). Same weights and batches: the losses differ by ${
      Math.abs(deno.loss - browser.loss).toExponential(1)
    }.`,
    "",
    table,
    "",
    "The machine was shared with other jobs while this ran: the numbers are noisy.",
  ];
  await writeFileAtomic(file, await formatMarkdown(text.join("\n") + "\n"));
  console.log(`wrote ${file}`);
});
