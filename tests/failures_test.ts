// Every failure a user can cause ends with one line naming the problem (and the fix), exit code 1,
// no stack trace, and nothing already saved is lost.
import assert from "node:assert/strict";
import { zipSync } from "fflate";
import { assertCliError, fixtureTsv, runTask, tinyRunDir } from "./bert_fixture.ts";
import { readSafetensors, writeSafetensors } from "../src/io/safetensors.ts";

const setup = () => tinyRunDir(4);

const assertFails = assertCliError;

Deno.test("failures: flags and data files", async () => {
  const dir = await setup();
  const train = (
    extra: string[],
  ) => [
    "--model",
    `${dir}/model`,
    "--data",
    `${dir}/data.tsv`,
    "--mode",
    "head",
    "--max-steps",
    "1",
    ...extra,
  ];
  await assertFails("train", train(["--epoch", "3"]), /train: Unknown option '--epoch'/);
  await assertFails(
    "train",
    ["--model", `${dir}/model`, "--data", `${dir}/missing.tsv`],
    /missing\.tsv: file not found/,
  );
  await Deno.writeFile(`${dir}/corrupt.zip`, new Uint8Array([0x50, 0x4B, 3, 4, 1, 2, 3, 4, 5]));
  await assertFails(
    "train",
    ["--model", `${dir}/model`, "--data", `${dir}/corrupt.zip`],
    /corrupt\.zip: not a readable zip archive/,
  );
  await Deno.writeFile(`${dir}/other.zip`, zipSync({ "readme.txt": new Uint8Array([65]) }));
  await assertFails(
    "train",
    ["--model", `${dir}/model`, "--data", `${dir}/other.zip`],
    /other\.zip: the archive has no SMSSpamCollection file \(found: readme\.txt\)/,
  );
  await Deno.writeTextFile(`${dir}/empty.tsv`, "");
  await assertFails(
    "train",
    ["--model", `${dir}/model`, "--data", `${dir}/empty.tsv`],
    /empty\.tsv: no messages \(the file is empty\)/,
  );
  await Deno.writeTextFile(`${dir}/label.tsv`, fixtureTsv(4) + "junk\tnot a label\n");
  await assertFails(
    "train",
    ["--model", `${dir}/model`, "--data", `${dir}/label.tsv`],
    /label\.tsv:5: unknown label "junk" \(expected ham or spam\) \(use --skip-bad-lines/,
  );
  await assertFails(
    "train",
    train(["--max-length", "17"]),
    /--max-length 17 exceeds the model's max_position_embeddings 16/,
  );
  await assertFails("train", train(["--mode", "half"]), /--mode must be full, head, lora or all/);
  await assertFails("train", train(["--lr", "fast"]), /--lr must be a number, got "fast"/);
  await assertFails(
    "train",
    train(["--lora-targets", "query,nonsense", "--mode", "lora"]),
    /--lora-targets: no Linear module matches nonsense/,
  );
});

Deno.test("failures: model folders — heads not dividing hidden size, a safetensors header that lies about sizes", async () => {
  const dir = await setup();
  const cfg = JSON.parse(await Deno.readTextFile(`${dir}/model/config.json`));
  await Deno.writeTextFile(
    `${dir}/model/config.json`,
    JSON.stringify({ ...cfg, num_attention_heads: 3 }),
  );
  await assertFails(
    "predict",
    ["--model", `${dir}/model`, "hi"],
    /config\.json: hidden_size 8 is not a multiple of num_attention_heads 3/,
  );
  await Deno.writeTextFile(`${dir}/model/config.json`, JSON.stringify(cfg));
  const bytes = await Deno.readFile(`${dir}/model/model.safetensors`);
  const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  header["classifier.bias"].shape = [3];
  const h = new TextEncoder().encode(JSON.stringify(header).padEnd(headerLen));
  bytes.set(h, 8);
  await Deno.writeFile(`${dir}/model/model.safetensors`, bytes);
  await assertFails(
    "predict",
    ["--model", `${dir}/model`, "hi"],
    /model\.safetensors: not a valid safetensors file: tensor classifier\.bias: shape \[3\] F32 needs 12 bytes but data_offsets \[\d+, \d+\] span 8/,
  );
});

Deno.test("failures: a NaN loss stops training at its step and keeps the checkpoint already saved", async () => {
  const dir = await setup();
  const args = (
    model: string,
  ) => [
    "--model",
    model,
    "--data",
    `${dir}/data.tsv`,
    "--val-data",
    `${dir}/data.tsv`,
    "--mode",
    "full",
    "--batch-size",
    "2",
    "--epochs",
    "1",
    "--out",
    `${dir}/out`,
  ];
  const ok = await runTask("train", args(`${dir}/model`));
  assert.equal(ok.code, 0, ok.stderr);
  const saved = await Deno.readFile(`${dir}/out/model.safetensors`);
  const tensors = await readSafetensors(`${dir}/model/model.safetensors`);
  // Finite (NaN weights are refused at load), but LayerNorm's row sum overflows: NaN at step 1.
  tensors.get("bert.embeddings.word_embeddings.weight")!.data.fill(3e38);
  await Deno.mkdir(`${dir}/poisoned`);
  for (const f of ["config.json", "vocab.txt", "tokenizer_config.json"]) {
    await Deno.copyFile(`${dir}/model/${f}`, `${dir}/poisoned/${f}`);
  }
  await writeSafetensors(`${dir}/poisoned/model.safetensors`, tensors);
  await assertFails(
    "train",
    [...args(`${dir}/poisoned`), "--overwrite"],
    /the loss became NaN at step 1; training stopped \(lower --lr or set --max-grad-norm\); the last saved checkpoint is kept/,
  );
  assert.deepEqual(
    await Deno.readFile(`${dir}/out/model.safetensors`),
    saved,
    "the earlier checkpoint is untouched",
  );
  const left = [];
  for await (const e of Deno.readDir(`${dir}/out`)) left.push(e.name);
  assert.ok(!left.some((n) => n.endsWith(".tmp")), `temporary files left: ${left}`);
  // The same overflowing weights give predict no answer: an error, never a label from NaN.
  await assertFails(
    "predict",
    ["--model", `${dir}/poisoned`, "--json", "see you soon"],
    /^error: the model's logits hold NaN \(input 1\): its weights overflow float32/,
  );
});

Deno.test("failures: no GPU adapter gives one line with the fix", async () => {
  const dir = await setup();
  await assertFails(
    "predict",
    ["--model", `${dir}/model`, "hi"],
    /no GPU adapter found \(WebGPU\): install a GPU driver with Vulkan support, or Mesa lavapipe .*apt-get install mesa-vulkan-drivers/,
    {
      DENO_WEBGPU_BACKEND: "vulkan",
      VK_ICD_FILENAMES: "/nonexistent.json",
      VK_DRIVER_FILES: "/nonexistent.json",
    },
  );
});
