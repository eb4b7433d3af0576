// The benchmark harness keeps working: bench:modes times all three modes, the TensorFlow.js and
// PyTorch peers on a tiny checkpoint, writes its JSON and results file, and re-renders from the
// JSON.
import assert from "node:assert/strict";
import { runTask, writeTinyCheckpoint } from "./bert_fixture.ts";

Deno.test("bench:modes --peer --browser-tune on a tiny checkpoint: JSON, results file with ratios, targets and the tuner's choices here and in Chromium, --from-json", async () => {
  const dir = await Deno.makeTempDir();
  await writeTinyCheckpoint(`${dir}/model`);
  const r = await runTask("bench:modes", [
    "--model",
    `${dir}/model`,
    "--steps",
    "1",
    "--batch-size",
    "4",
    "--max-length",
    "16",
    "--peer",
    "--browser-tune",
    "--json",
    `${dir}/b.json`,
    "--results",
    `${dir}/b.md`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(await Deno.readTextFile(`${dir}/b.json`));
  for (const mode of ["full", "head", "lora"]) {
    for (
      const k of [
        "step_ms",
        "epoch_s",
        "eval_s",
        "tokens_per_s",
        "trainable_params",
        "peak_bytes",
        "dispatches_per_step",
        "host_ms_per_step",
      ]
    ) {
      assert.ok(
        Number.isFinite(j.modes[mode][k]) && j.modes[mode][k] > 0,
        `${mode}.${k} = ${j.modes[mode][k]}`,
      );
    }
  }
  assert.equal(j.modes.head.trainable_params, 18, "classifier of hidden 8, 2 labels");
  assert.ok(j.peer.step_ms > 0 && j.peer.matmul.length === 3);
  assert.ok(j.adapter.length > 0);
  const md = await Deno.readTextFile(`${dir}/b.md`);
  assert.match(md, /\| full \| .* \| 1\.00 \| 1\.00 \|/);
  assert.match(md, /ours\/theirs \*\*\d+\.\d+\*\*/);
  assert.match(md, /## Targets/);
  assert.match(md, /lora step ≤ 0\.55× full: (met|missed)/);
  assert.match(md, /dispatches per full step ≤ 500: (met|missed)/);
  assert.match(md, /Kernel choices: row_reductions (thread|workgroup) per row/);
  assert.match(md, /matmul_tile (register|workgroup) /);
  // The tuner inside headless Chromium, on its own adapter, where chromium is installed.
  if (j.browser_tuning.adapter) {
    assert.match(
      md,
      /Kernel choices in headless Chromium, adapter .+: row_reductions (thread|workgroup) per row .*transposed_a (in-kernel|materialize) .*matmul_tile (register|workgroup) \(timed, --tune quick\)/,
    );
  } else {
    assert.match(md, /Kernel choices in Chromium skipped: /);
  }
  // The PyTorch peer runs where python3 with torch is installed, and says why not otherwise.
  if (j.torch.modes) {
    for (const mode of ["full", "head", "lora"]) assert.ok(j.torch.modes[mode].step_ms > 0);
    assert.match(md, /\| full \| \d+ \| \d+ \| \d+\.\d\d \|/);
    assert.match(md, /full step ≤ 1\.0× PyTorch CPU's: (met|missed)/);
  } else {
    assert.match(md, /PyTorch peer skipped: /);
  }
  const again = await runTask("bench:modes", [
    "--from-json",
    `${dir}/b.json`,
    "--results",
    `${dir}/c.md`,
  ]);
  assert.equal(again.code, 0, again.stderr);
  const md2 = await Deno.readTextFile(`${dir}/c.md`);
  assert.equal(
    md2.replace(/`[^`]*` on \d{4}-\d\d-\d\d/, ""),
    md.replace(/`[^`]*` on \d{4}-\d\d-\d\d/, ""),
  );
});

Deno.test("bench/profile.ts: one timestamp pair per dispatch, every kernel of the step named, the runtime's dispatch path restored", async () => {
  const { profileStep } = await import("../bench/profile.ts");
  const { gpu } = await import("../src/gpu/kernel.ts");
  const { stepDispatches } = await import("../bench/dispatches.ts");
  const { totalMs, byKernel } = await profileStep("bert-tiny", "full");
  const counted = (await stepDispatches("bert-tiny")).byKernel;
  // The same kernels, as often, as the dispatch counter sees in a full step.
  assert.deepEqual(
    byKernel.map(([k, , n]) => [k, n]).sort(),
    counted.map(([k, n]) => [k, n]).sort(),
  );
  for (const [k, ms] of byKernel) assert.ok(ms >= 0 && Number.isFinite(ms), `${k}: ${ms} ms`);
  assert.ok(totalMs > 0);
  // dispatch() is the runtime's own again: no compute pass per dispatch after profiling.
  assert.ok(!Object.hasOwn(gpu(), "dispatch"));
});
