// --resume: a run ended right after a save (the process exits there, as a crash would) and resumed
// ends with the same bytes as the run that was never interrupted, mid-epoch and at an epoch's end,
// in full, LoRA and head modes, with shuffling, dropout, warmup-decay and clipping all in play. The
// resumed process does only the remaining steps, and zeroed AdamW moments in the checkpoint change
// the result (the saved optimizer state is what it continues from, not a replay). Head mode uses
// SGD, whose checkpoint holds no moments.
import assert from "node:assert/strict";
import { fixtureTsv, runTask, writeTinyCheckpoint } from "./bert_fixture.ts";
import { readSafetensors, writeSafetensors } from "../src/io/safetensors.ts";
import { latestCheckpoint, recoverDir, writeDirAtomic } from "../src/train/checkpointing.ts";

async function fixture() {
  const dir = await Deno.makeTempDir();
  await writeTinyCheckpoint(`${dir}/model`, {
    seed: 21,
    // 32 positions, so a batch of 2 is 64 padded rows and packs into 32: resume runs packed.
    config: {
      hidden_dropout_prob: 0.1,
      attention_probs_dropout_prob: 0.1,
      max_position_embeddings: 32,
    },
  });
  await Deno.writeTextFile(`${dir}/data.tsv`, fixtureTsv());
  return dir;
}

// 7 examples in batches of 2: 4 steps an epoch, 12 in all; evaluations (and saves) at steps
// 3 (mid-epoch), 4 (epoch end), 6, 8, 9, 12.
const args = (dir: string, mode: string, out: string) => [
  "--model",
  `${dir}/model`,
  "--data",
  `${dir}/data.tsv`,
  "--val-data",
  `${dir}/data.tsv`,
  "--mode",
  mode,
  "--batch-size",
  "2",
  "--max-length",
  "32",
  "--epochs",
  "3",
  "--lr",
  "2e-2",
  "--warmup-ratio",
  "0.25",
  "--max-grad-norm",
  "0.5",
  "--eval-steps",
  "3",
  "--lora-dropout",
  "0.1",
  "--out",
  out,
  // Head mode runs plain SGD: a checkpoint without optimizer moments.
  ...(mode === "head" ? ["--optimizer", "sgd"] : []),
];

const weightsFile = (mode: string) =>
  mode === "lora" ? "adapter_model.safetensors" : "model.safetensors";

async function interruptedThenResumed(dir: string, mode: string, out: string, saves: number) {
  const first = await runTask("train", args(dir, mode, out), {
    WEBGPU_BERT_EXIT_AFTER_SAVE: String(saves),
  });
  assert.equal(first.code, 75, `the run should end after save ${saves}: ${first.stderr}`);
  const resumed = await runTask("train", [...args(dir, mode, out), "--resume", out]);
  assert.equal(resumed.code, 0, resumed.stderr);
  return resumed.stdout;
}

/** A fixture folder and its uninterrupted run in `whole/`, made once per mode. */
const wholeRuns = new Map<string, Promise<{ dir: string; stdout: string }>>();
function uninterrupted(mode: string): Promise<{ dir: string; stdout: string }> {
  // Every full-mode test compares against the same run (same fixture, same arguments), so it is
  // trained once for all of them.
  if (!wholeRuns.has(mode)) {
    wholeRuns.set(
      mode,
      (async () => {
        const dir = await fixture();
        const whole = await runTask("train", args(dir, mode, `${dir}/whole`));
        assert.equal(whole.code, 0, whole.stderr);
        return { dir, stdout: whole.stdout };
      })(),
    );
  }
  return wholeRuns.get(mode)!;
}

for (const mode of ["full", "lora", "head"]) {
  Deno.test(`resume ${mode}: stopped after a save mid-epoch and at an epoch's end, resumed, the final weights equal the uninterrupted run's bytes`, async () => {
    const { dir, stdout } = await uninterrupted(mode);
    assert.match(stdout, /step 3 \(epoch 0\.75\)/);
    const want = await Deno.readFile(`${dir}/whole/${weightsFile(mode)}`);

    // Save 1 is step 3 (mid-epoch 1); save 4 is step 8 (the end of epoch 2).
    for (const [saves, step] of (mode === "full" ? [[1, 3], [4, 8]] : [[1, 3]])) {
      const out = `${dir}/cut${saves}`;
      const log = await interruptedThenResumed(dir, mode, out, saves);
      assert.match(log, new RegExp(`resumed from .*checkpoint-${step}: step ${step} of 12`));
      // Only the remaining steps ran: no evaluation at or before the resumed step is repeated.
      assert.doesNotMatch(log, new RegExp(`\\] step ${step} \\(epoch`));
      assert.deepEqual(await Deno.readFile(`${out}/${weightsFile(mode)}`), want, `cut at ${step}`);
      const a = JSON.parse(await Deno.readTextFile(`${dir}/whole/metrics.json`));
      const b = JSON.parse(await Deno.readTextFile(`${out}/metrics.json`));
      assert.deepEqual(b.losses, a.losses, "per-step losses");
      assert.deepEqual(b.evaluations.map((e: { step: number }) => e.step), [3, 4, 6, 8, 9, 12]);
      assert.deepEqual(b.best, a.best);
      const checkpoints = [...Deno.readDirSync(out)].filter((e) => e.name.startsWith("checkpoint"));
      assert.deepEqual(checkpoints.map((e) => e.name), ["checkpoint-12"], "only the newest kept");
    }
  });
}

Deno.test("resume: the saved AdamW moments are used (zeroing them changes the result); other options are refused by name", async () => {
  const { dir } = await uninterrupted("full");
  const out = `${dir}/moments`;
  const first = await runTask("train", args(dir, "full", out), {
    WEBGPU_BERT_EXIT_AFTER_SAVE: "2",
  });
  assert.equal(first.code, 75, first.stderr);
  const refused = await runTask("train", [
    ...args(dir, "full", out),
    "--lr",
    "1e-2",
    "--resume",
    out,
  ]);
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    /^error: .*checkpoint-4: cannot resume, this run differs in lr \(saved 0\.02, now 0\.01\)\n$/,
  );
  const opt = await readSafetensors(`${out}/checkpoint-4/optimizer.safetensors`);
  assert.ok(opt.size > 0 && [...opt.keys()].every((k) => /\.exp_avg(_sq)?$/.test(k)));
  for (const t of opt.values()) t.data.fill(0);
  await writeSafetensors(`${out}/checkpoint-4/optimizer.safetensors`, opt);
  const resumed = await runTask("train", [...args(dir, "full", out), "--resume", out]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.notDeepEqual(
    await Deno.readFile(`${out}/model.safetensors`),
    await Deno.readFile(`${dir}/whole/model.safetensors`),
  );
});

Deno.test("resume: a folder without checkpoints is an error naming it", async () => {
  const dir = await fixture();
  await Deno.mkdir(`${dir}/empty`);
  const r = await runTask("train", [
    ...args(dir, "full", `${dir}/empty`),
    "--resume",
    `${dir}/empty`,
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: .*empty: no checkpoint-<step> folder to resume from\n$/);
});

Deno.test("checkpoint folders: a half-written (killed) save is never picked; a failed fill leaves nothing; a swap interrupted between its renames is undone", async () => {
  const dir = await Deno.makeTempDir();
  for (const name of ["checkpoint-3", "checkpoint-5", "checkpoint-9.tmp-123-4", "checkpoint-12x"]) {
    await Deno.mkdir(`${dir}/${name}`);
  }
  assert.equal(await latestCheckpoint(dir), `${dir}/checkpoint-5`);
  assert.equal(await latestCheckpoint(`${dir}/nothing-here`), null);
  await assert.rejects(() =>
    writeDirAtomic(`${dir}/best`, async (tmp) => {
      await Deno.writeTextFile(`${tmp}/a`, "half");
      throw new Error("disk full");
    })
  );
  assert.deepEqual([...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("best")), []);
  await writeDirAtomic(`${dir}/best`, (tmp) => Deno.writeTextFile(`${tmp}/old`, "1"));
  await writeDirAtomic(`${dir}/best`, (tmp) => Deno.writeTextFile(`${tmp}/new`, "2"));
  assert.deepEqual([...Deno.readDirSync(`${dir}/best`)].map((e) => e.name), ["new"]);
  await Deno.mkdir(`${dir}/best.tmp-1-2`); // left by a killed save: removed by the next one
  await writeDirAtomic(`${dir}/best`, (tmp) => Deno.writeTextFile(`${tmp}/new`, "2"));
  assert.deepEqual([...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("best.")), []);
  // A crash after `best` was renamed aside and before the new one took its place.
  await Deno.rename(`${dir}/best`, `${dir}/best.old-77-1`);
  await recoverDir(`${dir}/best`);
  assert.equal(await Deno.readTextFile(`${dir}/best/new`), "2");
});

Deno.test("resume after SIGKILL during the second save: the final weights equal the uninterrupted run's bytes", async () => {
  const { dir } = await uninterrupted("full");
  const out = `${dir}/killed`;
  // The process itself (not `deno task`, whose child would outlive the kill).
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "src/cli/train.ts", ...args(dir, "full", out)],
    cwd: new URL("..", import.meta.url).pathname,
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp", NO_COLOR: "1" },
    stdout: "null",
    stderr: "null",
  }).spawn();
  // checkpoint-4 (temporary or whole) appears only once checkpoint-3 is complete.
  const started = () => {
    try {
      return [...Deno.readDirSync(out)].some((e) => e.name.startsWith("checkpoint-4"));
    } catch {
      return false;
    }
  };
  while (!started()) await new Promise((r) => setTimeout(r, 2));
  child.kill("SIGKILL");
  const status = await child.status;
  assert.equal(status.signal, "SIGKILL", "killed before it finished");
  const resumed = await runTask("train", [...args(dir, "full", out), "--resume", out]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /resumed from .*checkpoint-(3|4): step (3|4) of 12/);
  assert.deepEqual(
    await Deno.readFile(`${out}/model.safetensors`),
    await Deno.readFile(`${dir}/whole/model.safetensors`),
  );
  const left = [...Deno.readDirSync(out)].map((e) => e.name).filter((n) => n.includes(".tmp-"));
  assert.deepEqual(left, [], "leftovers of the killed save are removed");
});
