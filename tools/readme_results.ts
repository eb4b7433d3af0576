// deno run -A tools/readme_results.ts [--readme] [--out FILE] [--model M --data F --epochs N]
// Runs the README's Results commands (bert-tiny, all three modes, then the notebook's message
// through predict) and prints the Results block from what the run saved (metrics.json and the
// predict output), so every number in the README comes from a run. With --readme it replaces the
// block between the README's results markers.
import { parseArgs } from "node:util";
import { writeFileAtomic } from "../src/io/atomic.ts";

const { values: v } = parseArgs({
  options: {
    readme: { type: "boolean", default: false },
    out: { type: "string" },
    model: { type: "string", default: "bert-tiny" },
    data: { type: "string" },
    epochs: { type: "string", default: "3" },
    runs: { type: "string", default: "runs/tiny" },
  },
});
const ROOT = new URL("..", import.meta.url).pathname;
const MESSAGE =
  "WINNER!! As a valued network customer you have been selected to receivea £900 prize reward! To claim call 09061701461. Claim code KL341. Valid 12 hours only.";
const BEGIN = "<!-- results:begin (tools/readme_results.ts) -->", END = "<!-- results:end -->";

async function task(args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", ...args],
    cwd: ROOT,
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (out.code !== 0) throw new Error(`deno task ${args.join(" ")} exited ${out.code}`);
  return text;
}

const runsDir = v.runs.startsWith("/") ? v.runs : `${ROOT}/${v.runs}`;
const quote = (a: string) => (/^[\w./:=-]+$/.test(a) ? a : `"${a}"`);
const data = v.data ? ["--data", v.data] : [];
const trainArgs = [
  "train",
  "--model",
  v.model,
  ...data,
  "--mode",
  "all",
  "--epochs",
  v.epochs,
  "--lr",
  "5e-4",
  "--out",
  v.runs,
  "--report",
  `${v.runs}.html`,
];
const trainOut = await task([...trainArgs, "--overwrite"]);
const gpuAdapter = trainOut.match(/^GPU adapter: (.*)$/m)?.[1] ?? "unknown";
const split = trainOut.match(/data: (\d+) train \/ (\d+) validation/);

interface Epoch {
  metrics: Record<string, number | null>;
  trainSeconds: number;
  evalSeconds: number;
  tokensPerSecond: number;
  peakBytes: number;
}
const f4 = (x: number | null) => (x === null ? "undefined" : x.toFixed(4));
const rows: string[] = [];
let fullEpochs: Epoch[] = [];
for (const mode of ["full", "head", "lora"]) {
  const m = JSON.parse(await Deno.readTextFile(`${runsDir}/${mode}/metrics.json`));
  const epochs: Epoch[] = m.epochs;
  if (mode === "full") fullEpochs = epochs;
  const last = epochs[epochs.length - 1];
  const perEpoch = epochs.reduce((s, e) => s + e.trainSeconds, 0) / epochs.length;
  rows.push(
    `| ${mode} | ${m.trainable_params.toLocaleString("en-US")} | ${f4(last.metrics.accuracy)} | ${
      f4(last.metrics.precision)
    } | ${f4(last.metrics.recall)} | ${f4(last.metrics.f1)} | ${f4(last.metrics.auroc)} | ${
      perEpoch.toFixed(1)
    } | ${last.evalSeconds.toFixed(1)} | ${
      Math.round(last.tokensPerSecond).toLocaleString("en-US")
    } | ${(Math.max(...epochs.map((e) => e.peakBytes)) / 2 ** 20).toFixed(1)} MiB |`,
  );
}
const loraBase = await Deno.stat(`${runsDir}/lora/base_model`).then(
  () => `${v.runs}/lora/base_model`,
  () => v.model,
);
const predictFull = ["predict", "--model", `${v.runs}/full`, MESSAGE];
const predictLora = ["predict", "--model", loraBase, "--adapter", `${v.runs}/lora`, MESSAGE];
const short = (line: string) => line.replace(MESSAGE, "WINNER!! …");
const block = [
  BEGIN,
  `**${v.model} from scratch, all three modes** on \`${gpuAdapter}\`, split ${
    split
      ? `${Number(split[1]).toLocaleString("en-US")} / ${Number(split[2]).toLocaleString("en-US")}`
      : "?"
  }, seed 42:`,
  "",
  "```sh",
  `deno task ${trainArgs.map(quote).join(" ")}`,
  "```",
  "",
  "| mode | trainable params | accuracy | precision | recall | F1 | AUROC | s/epoch (train) | eval s | tokens/s | peak memory |",
  "| ---- | ---------------: | -------: | --------: | -----: | -: | ----: | --------------: | -----: | -------: | ----------: |",
  ...rows,
  "",
  `Full mode per epoch (accuracy / AUROC over all validation messages): ${
    fullEpochs.map((e) => `${f4(e.metrics.accuracy)} / ${f4(e.metrics.auroc)}`).join(", ")
  }. The notebook's new message:`,
  "",
  "```sh",
  `$ deno task ${predictFull.map(quote).join(" ")}`,
  (await task(predictFull)).trim(),
  `$ deno task ${short(predictLora.map(quote).join(" "))}`,
  short((await task(predictLora)).trim()),
  "```",
  END,
].join("\n") + "\n";

if (v.readme) {
  const readme = await Deno.readTextFile(`${ROOT}/README.md`);
  const a = readme.indexOf(BEGIN), b = readme.indexOf(END);
  if (a < 0 || b < 0) throw new Error("README.md has no results markers");
  await writeFileAtomic(
    `${ROOT}/README.md`,
    readme.slice(0, a) + block + readme.slice(b + END.length + 1),
  );
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "README.md"], cwd: ROOT }).output();
  console.log("README.md: results block rewritten");
}
if (v.out) await writeFileAtomic(v.out, block);
if (!v.readme && !v.out) console.log(block);
