// The command line: --help everywhere, stray arguments, every path and value checked before any
// work starts, the overwrite refusal, one-line I/O errors, signals and stale temporaries.
import { checkOutputFile } from "../src/cli/paths.ts";
import assert from "node:assert/strict";
import { assertCliError, fixtureTsv, runTask, tinyRunDir } from "./bert_fixture.ts";
import { reportError } from "../src/cli/common.ts";
import { removeStaleTemps } from "../src/io/atomic.ts";
import { cpuAdapterNote, cpuRunSeconds } from "../src/train/progress.ts";

const COMMANDS = ["train", "evaluate", "predict", "tokenize", "params", "merge", "web"];

const setup = () => tinyRunDir(4);

/** One `error:` line matching `pattern`, exit 1, no stack, and no sign that work started. */
async function assertRefused(task: string, args: string[], pattern: RegExp) {
  const r = await assertCliError(task, args, pattern);
  assert.doesNotMatch(r.stdout, /GPU adapter:|epoch/, `work started: ${r.stdout}`);
}

Deno.test("cli: --help of every command prints usage, every flag with its default, an example", async () => {
  for (const task of COMMANDS) {
    const r = await runTask(task, ["--help"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^usage: deno task ${task} \\[options\\]`));
    assert.match(r.stdout, /\noptions:\n/);
    assert.match(r.stdout, new RegExp(`\\nexamples:\\n  deno task ${task} --`));
    assert.match(r.stdout, /--help +print this help/);
    for (const line of r.stdout.split("\n").filter((l) => /^ {2}--/.test(l))) {
      assert.match(line, /^ {2}--\S+.*\S {2,}\S/, `flag without a description: ${line}`);
    }
  }
  const train = (await runTask("train", ["--help"])).stdout;
  for (
    const [flag, def] of [
      ["--epochs N", "default 2"],
      ["--batch-size N", "default 16"],
      ["--mode full\\|head\\|lora\\|all", "default all"],
      ["--warmup-ratio N", "default 0; in \\[0, 1\\)"],
      ["--weight-decay N", "default 0.01 \\(0 for sgd\\); ≥ 0"],
      ["--out DIR", ""],
      ["--overwrite", ""],
    ]
  ) assert.match(train, new RegExp(`\\n {2}${flag} .*${def}`));
});

Deno.test("cli: a stray positional argument fails at once, suggesting the flag", async () => {
  const t0 = performance.now();
  await assertRefused(
    "train",
    ["bert-tiny", "--data", "x.tsv"],
    /train: unexpected argument "bert-tiny"; did you mean --model bert-tiny\?/,
  );
  assert.ok(performance.now() - t0 < 30_000, "failed fast");
  await assertRefused("params", ["bert-tiny"], /params: unexpected argument "bert-tiny"/);
  await assertRefused("merge", ["extra"], /merge: unexpected argument "extra"/);
  await assertRefused("evaluate", ["extra"], /evaluate: unexpected argument "extra"/);
  await assertRefused("evaluate", ["--batch-size", "0"], /--batch-size must be ≥ 1, got 0/);
});

Deno.test("cli: web on a port in use is one line naming it", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = taken.addr as Deno.NetAddr;
  try {
    await assertRefused(
      "web",
      ["--port", String(port)],
      new RegExp(`127\\.0\\.0\\.1:${port} is in use`),
    );
  } finally {
    taken.close();
  }
});

Deno.test("cli: values outside their range are refused before any work", async () => {
  const dir = await setup();
  const base = ["--model", `${dir}/model`, "--data", `${dir}/data.tsv`];
  for (
    const [flag, value, msg] of [
      ["--warmup-ratio", "5", /--warmup-ratio must be in \[0, 1\), got 5/],
      ["--warmup-ratio", "-1", /--warmup-ratio must be in \[0, 1\), got -1/],
      ["--weight-decay", "-5", /--weight-decay must be ≥ 0, got -5/],
      ["--lora-dropout", "2", /--lora-dropout must be in \[0, 1\), got 2/],
      ["--val-ratio", "1", /--val-ratio must be in \(0, 1\), got 1/],
      ["--epochs", "0", /--epochs must be ≥ 1, got 0/],
      ["--epochs", "1.5", /--epochs must be an integer, got "1.5"/],
      ["--lr", "0", /--lr must be > 0, got 0/],
      ["--optimizer", "adam", /--optimizer must be adamw or sgd, got "adam"/],
      ["--class-weights", "foo", /--class-weights must be balanced, got "foo"/],
    ] as const
  ) await assertRefused("train", [...base, flag, value], msg);
  // A flag that would be silently ignored is refused too.
  await assertRefused(
    "train",
    [...base, "--val-data", `${dir}/data.tsv`, "--val-ratio", "0.5"],
    /--val-ratio splits --data; with --val-data nothing is split/,
  );
  // LoRA targets that match no module: refused before full and head train (--mode all).
  await assertRefused(
    "train",
    [...base, "--mode", "all", "--lora-targets", "query,nothing"],
    /--lora-targets: no Linear module matches nothing/,
  );
});

Deno.test("cli: unwritable --out and --report are refused before training starts", async () => {
  const dir = await setup();
  const base = ["--model", `${dir}/model`, "--data", `${dir}/data.tsv`, "--mode", "head"];
  await Deno.writeTextFile(`${dir}/afile`, "x");
  await assertRefused("train", [...base, "--out", `${dir}/afile`], /--out .*afile: is a file/);
  await assertRefused(
    "train",
    [...base, "--out", `${dir}/afile/sub`],
    /--out .*afile\/sub: .*afile is a file, not a folder/,
  );
  await assertRefused(
    "train",
    [...base, "--report", `${dir}/afile/r.html`],
    /--report .*afile\/r\.html: .*afile is a file, not a folder/,
  );
  await assertRefused("train", [...base, "--report", dir], /--report .*: is a folder, not a file/);
  // A report into a folder that does not exist yet gets the folder (as --out does).
  await checkOutputFile("--report", `${dir}/new/sub/r.html`);
  assert.ok((await Deno.stat(`${dir}/new/sub`)).isDirectory);
  await assertRefused(
    "merge",
    ["--model", `${dir}/model`, "--adapter", `${dir}/model`, "--out", `${dir}/afile`],
    /--out .*afile: is a file, not a folder/,
  );
  // A folder this process cannot write in: read-only for a user; /sys refuses even root.
  let readOnly = `${dir}/ro`;
  if (Deno.uid() === 0) readOnly = "/sys";
  else {
    await Deno.mkdir(readOnly);
    await Deno.chmod(readOnly, 0o555);
  }
  await assertRefused(
    "train",
    [...base, "--out", `${readOnly}/webgpu-bert-out`],
    /--out .*: cannot write in .* \((permission denied|operation not permitted)/,
  );
  await assertRefused(
    "train",
    [...base, "--report", `${readOnly}/webgpu-bert.html`],
    /--report .*: cannot write in .* \((permission denied|operation not permitted)/,
  );
});

Deno.test("cli: --out holding a trained model or a LoRA adapter is refused unless --overwrite", async () => {
  const dir = await setup();
  const base = [
    "--model",
    `${dir}/model`,
    "--data",
    `${dir}/data.tsv`,
    "--mode",
    "head",
    "--max-steps",
    "1",
    "--epochs",
    "1",
  ];
  await assertRefused(
    "train",
    [...base, "--out", `${dir}/model`],
    /--out .*model already holds a trained model; pass --overwrite/,
  );
  await Deno.mkdir(`${dir}/lora`);
  await Deno.writeTextFile(`${dir}/lora/adapter_config.json`, "{}");
  await assertRefused(
    "train",
    [...base, "--out", `${dir}/lora`],
    /--out .*lora already holds a LoRA adapter; pass --overwrite/,
  );
  // A temporary an interrupted run left is removed; the folder then counts as empty.
  await Deno.mkdir(`${dir}/fresh`);
  await Deno.writeTextFile(`${dir}/fresh/model.safetensors.999.1700000000000.tmp`, "half");
  const r = await runTask("train", [...base, "--out", `${dir}/fresh`]);
  assert.equal(r.code, 0, r.stderr);
  const names = [];
  for await (const e of Deno.readDir(`${dir}/fresh`)) names.push(e.name);
  assert.ok(!names.some((n) => n.endsWith(".tmp")), `stale temporary kept: ${names}`);
  assert.ok(names.includes("model.safetensors"));
  await assertRefused("train", [...base, "--out", `${dir}/fresh`], /already holds a trained model/);
  const again = await runTask("train", [...base, "--out", `${dir}/fresh`, "--overwrite"]);
  assert.equal(again.code, 0, again.stderr);
  // A LoRA run over the full one replaces it: no old model.safetensors/config.json stays beside the
  // adapter (it would load as the old model); a file the user put there is kept.
  await Deno.writeTextFile(`${dir}/fresh/notes.txt`, "mine");
  const lora = [...base.slice(0, 4), "--mode", "lora", ...base.slice(6)];
  const over = await runTask("train", [...lora, "--out", `${dir}/fresh`, "--overwrite"]);
  assert.equal(over.code, 0, over.stderr);
  const after = [];
  for await (const e of Deno.readDir(`${dir}/fresh`)) after.push(e.name);
  assert.ok(after.includes("adapter_model.safetensors"), `${after}`);
  assert.ok(!after.includes("model.safetensors") && !after.includes("config.json"), `${after}`);
  assert.ok(after.includes("notes.txt"), `${after}`);
  // Writing over the model being trained keeps it (it is the LoRA adapter's base).
  const self = await runTask("train", [...lora, "--out", `${dir}/model`, "--overwrite"]);
  assert.equal(self.code, 0, self.stderr);
  await Deno.stat(`${dir}/model/model.safetensors`);
});

Deno.test("cli: I/O errors are one line; --debug adds the stack", () => {
  const lines: string[] = [];
  const orig = console.error;
  console.error = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    reportError(
      new Deno.errors.PermissionDenied("Permission denied (os error 13): open 'x'"),
      false,
    );
    reportError(new Error("No space left on device (os error 28)"), false);
    reportError(Object.assign(new Error("raw"), { userMessage: "the GPU was lost" }), false);
    assert.deepEqual(lines, [
      "error: Permission denied (os error 13): open 'x'",
      "error: No space left on device (os error 28)",
      "error: the GPU was lost",
    ]);
    lines.length = 0;
    reportError(new Error("No space left on device (os error 28)"), true);
    assert.match(lines.join("\n"), /\n\s+at /, "stack with --debug");
    lines.length = 0;
    reportError(new TypeError("a bug"), false);
    assert.match(lines.join("\n"), /TypeError: a bug\n\s+at /, "a bug keeps its stack");
  } finally {
    console.error = orig;
  }
});

Deno.test("cli: --debug prints the stack of a user error", async () => {
  const r = await runTask("train", ["--epochs", "0", "--debug"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: --epochs must be ≥ 1, got 0$/m);
  assert.match(r.stderr, /^\s+at /m);
});

Deno.test("cli: stale temporaries of atomic writes are removed, other files kept", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/config.json.12.1700000000000.tmp`, "{");
  await Deno.writeTextFile(`${dir}/notes.tmp`, "mine");
  await Deno.writeTextFile(`${dir}/config.json`, "{}");
  assert.deepEqual(await removeStaleTemps(dir), ["config.json.12.1700000000000.tmp"]);
  const left = [];
  for await (const e of Deno.readDir(dir)) left.push(e.name);
  assert.deepEqual(left.sort(), ["config.json", "notes.tmp"]);
});

/** Child processes of `pid` (Linux /proc). */
function children(pid: number): number[] {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim().split(/\s+/)
      .filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
const alive = (pid: number) => {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
};

Deno.test("cli: killing `deno task` (SIGTERM or SIGKILL) ends the training process too", async () => {
  const dir = await setup();
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    const proc = new Deno.Command(Deno.execPath(), {
      args: [
        "task",
        "-q",
        "train",
        "--model",
        `${dir}/model`,
        "--data",
        `${dir}/data.tsv`,
        "--mode",
        "full",
        "--epochs",
        "100000",
        "--batch-size",
        "1",
      ],
      cwd: new URL("..", import.meta.url).pathname,
      env: { XDG_RUNTIME_DIR: "/tmp", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!seen.includes("GPU adapter:")) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    assert.match(seen, /GPU adapter:/);
    const kids = children(proc.pid);
    assert.ok(kids.length > 0, "deno task runs the command as a child");
    proc.kill(signal);
    await proc.status;
    const deadline = Date.now() + 10_000;
    while (kids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(!kids.some(alive), `${signal}: the training process outlived deno task`);
    await reader.cancel().catch(() => {});
  }
});

/** `git status --porcelain` of the checkout (the tracked and untracked files that changed). */
async function gitStatus(): Promise<string> {
  const out = await new Deno.Command("git", {
    args: ["status", "--porcelain"],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout);
}

Deno.test("cli: the kernel bench writes results only to --out; the checkout stays as it was", async () => {
  const task = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  ).tasks.bench as string;
  assert.match(task, / --$/, "deno task bench passes its arguments to the bench files");
  const before = await gitStatus();
  const dir = await Deno.makeTempDir();
  // One small kernel through the same harness (`deno task bench` runs them all); without --out
  // nothing is written at all (bench/common.ts returns before writing).
  const bench = (extra: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["bench", "-A", "--filter", "masked forward", "bench/", "--", ...extra],
      cwd: new URL("..", import.meta.url).pathname,
      env: { XDG_RUNTIME_DIR: "/tmp", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
  const asked = await bench(["--out", `${dir}/kernels.md`]);
  assert.equal(asked.code, 0, new TextDecoder().decode(asked.stderr));
  assert.match(await Deno.readTextFile(`${dir}/kernels.md`), /\| softmax \| masked forward/);
  assert.equal(await gitStatus(), before, "a bench with --out changed the checkout");
});

Deno.test("cli: train shows the loss from the first step and the whole run's steps and ETA", async () => {
  const dir = await setup();
  const r = await runTask("train", [
    "--model",
    `${dir}/model`,
    "--data",
    `${dir}/data.tsv`,
    "--mode",
    "all",
    "--max-steps",
    "1",
    "--epochs",
    "1",
  ]);
  assert.equal(r.code, 0, r.stderr);
  // --log-every is 10; the one step's line still carries a loss value, not a placeholder.
  assert.match(r.stdout, /\[full\] epoch 1\/1 1\/1 loss \d+\.\d{4} .*\| run 1\/3 steps, ETA/);
  assert.match(r.stdout, /\[lora\] epoch 1\/1 1\/1 loss \d+\.\d{4} .*\| run 3\/3 steps, ETA 0s/);
});

Deno.test("cli: a CPU GPU adapter gets a note with a rough time and the bert-tiny alternative", () => {
  // BERT-base, one full step of 16 × 32 tokens: README Benchmarks measured 33.2 s on lavapipe.
  const base = {
    layers: 12,
    hidden: 768,
    intermediate: 3072,
    modes: ["full"],
    stepsPerMode: 1,
    tokensPerStep: 512,
    evalTokensPerMode: 0,
  };
  const s = cpuRunSeconds(base);
  assert.ok(s > 33.2 / 2 && s < 33.2 * 2, `estimate ${s} s for a measured 33.2 s`);
  const note = cpuAdapterNote("llvmpipe (LLVM 15.0.6, 256 bits)", false, base);
  assert.match(note!, /is a CPU implementation of WebGPU.*roughly \d+s.*--model bert-tiny/);
  assert.match(cpuAdapterNote("SwiftShader Device (Subzero)", false, base)!, /CPU implementation/);
  assert.match(cpuAdapterNote("Some adapter", true, base)!, /CPU implementation/);
  assert.equal(cpuAdapterNote("NVIDIA GeForce RTX 4090", false, base), null);
  const tiny = { ...base, layers: 2, hidden: 128, intermediate: 512 };
  assert.doesNotMatch(cpuAdapterNote("llvmpipe", false, tiny)!, /bert-tiny/);
  // A run of a few steps still reads as time, never "roughly 0s".
  const few = { ...tiny, layers: 1, hidden: 8, intermediate: 16, stepsPerMode: 1 };
  assert.match(cpuAdapterNote("llvmpipe", false, few)!, /roughly [1-9]\d*s/);
});

Deno.test("cli: a first `deno task` run in a fresh checkout prints a few lines, not an npm install", async () => {
  const root = new URL("..", import.meta.url).pathname;
  const files = new TextDecoder().decode(
    (await new Deno.Command("git", {
      args: ["ls-files", "-co", "--exclude-standard"],
      cwd: root,
      stdout: "piped",
    }).output()).stdout,
  ).split("\n").filter(Boolean);
  // One level down in a fresh folder, so that its ../shared surely does not exist (a /tmp/shared
  // made by someone else would otherwise supply the vocabulary).
  const copy = `${await Deno.makeTempDir()}/checkout`;
  for (const f of files) {
    if (!/^(src|shaders|tools)\//.test(f) && !/^deno\.(json|lock)$/.test(f)) continue;
    await Deno.mkdir(`${copy}/${f}`.replace(/\/[^/]*$/, ""), { recursive: true });
    await Deno.copyFile(`${root}/${f}`, `${copy}/${f}`);
  }
  // No node_modules: npm packages come from Deno's cache (no network needed here), and only those
  // the command imports are loaded.
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "params", "--help"],
    cwd: copy,
    env: { XDG_RUNTIME_DIR: "/tmp", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const lines = stderr.split("\n").filter((l) => l.trim());
  assert.ok(lines.length <= 5, `${lines.length} lines on stderr:\n${stderr}`);
  assert.doesNotMatch(stderr, /tensorflow|tokenizers/);
  // Without ../shared beside the checkout, a preset says where its vocabulary comes from.
  const preset = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "params", "--model", "bert-tiny"],
    cwd: copy,
    env: { XDG_RUNTIME_DIR: "/tmp", NO_COLOR: "1", HF_HUB_CACHE: await Deno.makeTempDir() },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(preset.code, 1);
  assert.match(
    new TextDecoder().decode(preset.stderr),
    /^error: preset bert-tiny takes its vocabulary from a BERT tokenizer folder.*pass --tokenizer DIR/m,
  );
});

Deno.test("cli: tools/readme_results.ts prints the README's Results block from the run it makes", async () => {
  const dir = await setup();
  await Deno.writeTextFile(`${dir}/data.tsv`, fixtureTsv(10));
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "tools/readme_results.ts",
      "--model",
      `${dir}/model`,
      "--data",
      `${dir}/data.tsv`,
      "--epochs",
      "1",
      "--runs",
      `${dir}/runs`,
      "--out",
      `${dir}/block.md`,
    ],
    cwd: new URL("..", import.meta.url).pathname,
    env: { XDG_RUNTIME_DIR: "/tmp", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const block = await Deno.readTextFile(`${dir}/block.md`);
  assert.match(block, /^<!-- results:begin .*-->\n/);
  assert.match(block, /<!-- results:end -->\n$/);
  for (const mode of ["full", "head", "lora"]) {
    const m = JSON.parse(await Deno.readTextFile(`${dir}/runs/${mode}/metrics.json`));
    const last = m.epochs.at(-1).metrics;
    const cells = [last.accuracy, last.precision, last.recall, last.f1, last.auroc]
      .map((x: number | null) => (x === null ? "undefined" : x.toFixed(4)));
    assert.ok(
      block.includes(
        `| ${mode} | ${m.trainable_params.toLocaleString("en-US")} | ${cells.join(" | ")} |`,
      ),
      `${mode} row does not match its metrics.json:\n${block}`,
    );
  }
  assert.match(
    block,
    /\$ deno task predict --model \S+\/runs\/full "WINNER!! .*"\n(ham|spam) +\d\.\d{4} \d\.\d{4} /,
  );
  assert.match(
    block,
    /--adapter \S+\/runs\/lora "WINNER!! …"\n(ham|spam) +\d\.\d{4} \d\.\d{4} +WINNER!! …\n/,
  );
});

Deno.test("cli: a LoRA adapter trained on other labels than its base model's keeps them (predict, evaluate, merge)", async () => {
  const dir = await setup(); // the base model has two labels, ham and spam
  const words = ["win prize now", "ok meet later", "hello world", "claim free txt"];
  const labels = ["pos", "neg", "mid", "pos"];
  await Deno.writeTextFile(
    `${dir}/d.csv`,
    "text,label\n" + Array.from({ length: 12 }, (_, i) => `${words[i % 4]},${labels[i % 4]}`)
      .join("\n"),
  );
  const common = ["--model", `${dir}/model`, "--max-length", "8"];
  const train = await runTask("train", [
    ...common,
    "--data",
    `${dir}/d.csv`,
    "--mode",
    "lora",
    "--epochs",
    "1",
    "--out",
    `${dir}/lora`,
  ]);
  assert.equal(train.code, 0, train.stderr);
  const adapter = ["--adapter", `${dir}/lora`];
  const p = await runTask("predict", [...common, ...adapter, "--json", "win prize now"]);
  assert.equal(p.code, 0, p.stderr);
  const out = JSON.parse(p.stdout.trim());
  assert.equal(out.probs.length, 3);
  assert.ok(["mid", "neg", "pos"].includes(out.label), out.label);
  const e = await runTask("evaluate", [...common, ...adapter, "--data", `${dir}/d.csv`, "--json"]);
  assert.equal(e.code, 0, e.stderr);
  assert.deepEqual(JSON.parse(e.stdout).labels, ["mid", "neg", "pos"]);
  const m = await runTask("merge", [...common.slice(0, 2), ...adapter, "--out", `${dir}/merged`]);
  assert.equal(m.code, 0, m.stderr);
  const config = JSON.parse(await Deno.readTextFile(`${dir}/merged/config.json`));
  assert.deepEqual(config.id2label, { 0: "mid", 1: "neg", 2: "pos" });
});

Deno.test("sentence pairs with a model whose type_vocab_size is 1: predict and train refuse in one line instead of reading past the token-type table", async () => {
  const { writeTinyCheckpoint } = await import("./bert_fixture.ts");
  const dir = await Deno.makeTempDir();
  try {
    await writeTinyCheckpoint(`${dir}/one`, { config: { type_vocab_size: 1 } });
    await writeTinyCheckpoint(`${dir}/two`);
    await Deno.writeTextFile(
      `${dir}/pairs.csv`,
      "text,text_pair,label\nok lar,meet you later,ham\nwin a prize,call now,spam\nhello world,i call you,ham\nfree txts,claim now,spam\n",
    );
    const pairs = ["--data", `${dir}/pairs.csv`, "--text-pair-column", "text_pair"];
    await assertCliError(
      "predict",
      ["--model", `${dir}/one`, ...pairs, "--out", `${dir}/p.jsonl`],
      /type_vocab_size 1: it has no token type 1/,
    );
    await assertCliError(
      "train",
      ["--model", `${dir}/one`, ...pairs, "--mode", "head", "--max-steps", "1", "--tune", "off"],
      /type_vocab_size 1: it has no token type 1/,
    );
    // The same pairs on a model with two token types predict as before; single texts on the
    // one-type model too.
    const ok = await runTask("predict", [
      "--model",
      `${dir}/two`,
      ...pairs,
      "--out",
      `${dir}/q.jsonl`,
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    const single = await runTask("predict", ["--model", `${dir}/one`, "hello world"]);
    assert.equal(single.code, 0, single.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
