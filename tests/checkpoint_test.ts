// Hugging Face checkpoint folders: round trip, legacy names, half precision, and each bad input
// as a one-line error naming the file and the key.
import assert from "node:assert/strict";
import { loadCheckpoint } from "../src/bert/checkpoint.ts";
import { readSafetensors } from "../src/io/safetensors.ts";
import { HEAD_KEYS } from "../src/bert/params.ts";
import { UserError } from "../src/errors.ts";
import { refConfig, runTask, TINY_VOCAB, toF64, writeTinyCheckpoint } from "./bert_fixture.ts";
import { bertForwardRef } from "./reference/bert_ref.ts";
import { BertTokenizer } from "../src/bert/tokenizer.ts";

const quiet = { seed: 42, warn: () => {} };

Deno.test("checkpoint: a tiny safetensors checkpoint loads back bit-exact", async () => {
  const dir = await Deno.makeTempDir();
  const { weights } = await writeTinyCheckpoint(dir);
  const ck = await loadCheckpoint(dir, quiet);
  assert.deepEqual(ck.newlyInitialized, []);
  for (const [k, v] of weights) assert.deepEqual(ck.weights.get(k), v, k);
});

Deno.test("checkpoint: gamma/beta names, no bert. prefix, cls.predictions extras and no classifier load with a fresh seeded head", async () => {
  const dir = await Deno.makeTempDir();
  const { weights } = await writeTinyCheckpoint(dir, {
    rename: (k) =>
      k.startsWith("classifier")
        ? null
        : k.replace(/^bert\./, "").replace(/LayerNorm\.weight$/, "LayerNorm.gamma").replace(
          /LayerNorm\.bias$/,
          "LayerNorm.beta",
        ),
    extra: new Map([["cls.predictions.bias", {
      shape: [TINY_VOCAB.length],
      data: new Float32Array(TINY_VOCAB.length),
    }]]),
  });
  const notes: string[] = [];
  const a = await loadCheckpoint(dir, { seed: 7, warn: (m) => notes.push(m) });
  assert.deepEqual(a.newlyInitialized, HEAD_KEYS);
  assert.match(
    notes.join("\n"),
    /newly initialised from seed 7: classifier.weight, classifier.bias/,
  );
  for (const [k, v] of weights) {
    if (!k.startsWith("classifier")) assert.deepEqual(a.weights.get(k), v, k);
  }
  assert.ok(a.weights.get("classifier.bias")!.every((v) => v === 0), "fresh bias is zero");
  const b = await loadCheckpoint(dir, { seed: 7, warn: () => {} });
  assert.deepEqual(
    b.weights.get("classifier.weight"),
    a.weights.get("classifier.weight"),
    "same seed, same head",
  );
  const c = await loadCheckpoint(dir, { seed: 8, warn: () => {} });
  assert.notDeepEqual(c.weights.get("classifier.weight"), a.weights.get("classifier.weight"));
});

/** safetensors with one tensor stored as F16 or BF16, written byte by byte here. */
async function halfFile(file: string, dtype: "F16" | "BF16", values: number[], bits: number[]) {
  const header = JSON.stringify({
    x: { dtype, shape: [values.length], data_offsets: [0, values.length * 2] },
  });
  const h = new TextEncoder().encode(header);
  const buf = new Uint8Array(8 + h.length + values.length * 2);
  const view = new DataView(buf.buffer);
  view.setBigUint64(0, BigInt(h.length), true);
  buf.set(h, 8);
  bits.forEach((b, i) => view.setUint16(8 + h.length + i * 2, b, true));
  await Deno.writeFile(file, buf);
}

Deno.test("safetensors: F16 and BF16 tensors widen to F32", async () => {
  const dir = await Deno.makeTempDir();
  await halfFile(`${dir}/h.safetensors`, "F16", [1, -2, 0.5, 65504, 5.960464477539063e-8], [
    0x3C00,
    0xC000,
    0x3800,
    0x7BFF,
    0x0001,
  ]);
  assert.deepEqual(Array.from((await readSafetensors(`${dir}/h.safetensors`)).get("x")!.data), [
    1,
    -2,
    0.5,
    65504,
    5.960464477539063e-8,
  ]);
  await halfFile(`${dir}/b.safetensors`, "BF16", [1, -2, 3.140625], [0x3F80, 0xC000, 0x4049]);
  assert.deepEqual(Array.from((await readSafetensors(`${dir}/b.safetensors`)).get("x")!.data), [
    1,
    -2,
    3.140625,
  ]);
});

async function assertLoadError(dir: string, pattern: RegExp) {
  await assert.rejects(() => loadCheckpoint(dir, quiet), (e: Error) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${e}`);
    assert.ok(!e.message.includes("\n"), "one line");
    assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("checkpoint errors: wrong shape, missing tensor, truncated file, lying header, bad config — one line naming the key", async () => {
  const wrong = await Deno.makeTempDir();
  await writeTinyCheckpoint(wrong);
  await writeTinyCheckpoint(`${wrong}/x`, { config: { intermediate_size: 10 } });
  await Deno.copyFile(`${wrong}/x/model.safetensors`, `${wrong}/model.safetensors`);
  await assertLoadError(
    wrong,
    /model\.safetensors: tensor bert\.encoder\.layer\.0\.intermediate\.dense\.weight has shape \[10,8\], config\.json implies \[12,8\]/,
  );

  const missing = await Deno.makeTempDir();
  await writeTinyCheckpoint(missing, { rename: (k) => k === "bert.pooler.dense.bias" ? null : k });
  await assertLoadError(missing, /model\.safetensors: missing tensor bert\.pooler\.dense\.bias/);

  const truncated = await Deno.makeTempDir();
  await writeTinyCheckpoint(truncated);
  const bytes = await Deno.readFile(`${truncated}/model.safetensors`);
  await Deno.writeFile(`${truncated}/model.safetensors`, bytes.subarray(0, bytes.length - 100));
  await assertLoadError(truncated, /past the end of the file .*truncated/);

  const lying = await Deno.makeTempDir();
  await Deno.writeFile(
    `${lying}/x.safetensors`,
    new Uint8Array([255, 255, 0, 0, 0, 0, 0, 0, 123, 125]),
  );
  await assert.rejects(
    () => readSafetensors(`${lying}/x.safetensors`),
    /header length 65535 exceeds the file size 10/,
  );

  const heads = await Deno.makeTempDir();
  await writeTinyCheckpoint(heads, { config: { num_attention_heads: 3 } }).catch(() => {});
  await Deno.writeTextFile(
    `${heads}/config.json`,
    JSON.stringify({
      vocab_size: 26,
      hidden_size: 8,
      num_hidden_layers: 1,
      num_attention_heads: 3,
      intermediate_size: 4,
    }),
  );
  await assertLoadError(
    heads,
    /config\.json: hidden_size 8 is not a multiple of num_attention_heads 3/,
  );

  await assertLoadError("/nonexistent/model", /no such model folder/);
});

Deno.test("predict --json on a tiny random checkpoint matches the float64 reference to 1e-4 in the logits", async () => {
  const dir = await Deno.makeTempDir();
  const { config, weights } = await writeTinyCheckpoint(dir, { seed: 9 });
  const texts = [
    "hello world",
    "WIN a FREE prize!!! call now",
    "ok lar, meet you later at home",
    "txts",
  ];
  const res = await runTask("predict", ["--model", dir, "--json", ...texts]);
  assert.equal(res.code, 0, res.stderr);
  const lines = res.stdout.trim().split("\n").map((l) => JSON.parse(l));
  const tok = await BertTokenizer.fromDir(dir);
  const enc = texts.map((t) => tok.encode(t, 16));
  const want = bertForwardRef(
    refConfig(config),
    toF64(weights),
    enc.map((e) => e.inputIds),
    enc.map((e) => e.attentionMask),
  );
  lines.forEach((l, i) => {
    assert.equal(l.text, texts[i]);
    l.logits.forEach((v: number, j: number) =>
      assert.ok(Math.abs(v - want[i][j]) <= 1e-4, `logit ${i},${j}: ${v} vs ${want[i][j]}`)
    );
    const p1 = 1 / (1 + Math.exp(want[i][0] - want[i][1]));
    assert.ok(Math.abs(l.probs[1] - p1) < 1e-5);
    assert.equal(l.label, p1 > 0.5 ? "spam" : "ham");
  });
});

Deno.test("predict: bad input gives one line and exit code 1", async () => {
  const cases: [string[], RegExp][] = [
    [["--model", "/nonexistent", "hi"], /no such model folder/],
    [["--bogus"], /Unknown option '--bogus'/],
    [
      ["--model", "bert-tiny", "--max-length", "600", "hi"],
      /--max-length 600 exceeds the model's max_position_embeddings 512/,
    ],
  ];
  for (const [args, pattern] of cases) {
    const r = await runTask("predict", args);
    assert.equal(r.code, 1, `${args}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
  }
});
