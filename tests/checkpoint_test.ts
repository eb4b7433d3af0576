// Hugging Face checkpoint folders: round trip, legacy names, half precision, and each bad input
// as a one-line error naming the file and the key.
import assert from "node:assert/strict";
import { loadCheckpoint, readTokenizer } from "../src/bert/checkpoint.ts";
import { readSafetensors, writeSafetensors } from "../src/io/safetensors.ts";
import { parseConfig } from "../src/bert/config.ts";
import { isFile } from "./helpers.ts";
import { encode, ExtensionCodec } from "@msgpack/msgpack";
import { HEAD_KEYS } from "../src/bert/params.ts";
import { UserError } from "../src/errors.ts";
import {
  assertCliError,
  refConfig,
  runTask,
  TINY_VOCAB,
  toF64,
  writeTinyCheckpoint,
} from "./bert_fixture.ts";
import { bertForwardRef } from "./reference/bert_ref.ts";

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

Deno.test("checkpoint: tensors of the model's modules that config.json has no parameter for are named in a warning", async () => {
  // A third layer under a two-layer config.json: transformers warns "Some weights ... were not
  // used"; dropping it without a word would hide a config that disagrees with the weights.
  const dir = await Deno.makeTempDir();
  const extra = "bert.encoder.layer.2.attention.self.query.weight";
  await writeTinyCheckpoint(dir, {
    extra: new Map([[extra, { shape: [8, 8], data: new Float32Array(64) }]]),
  });
  const notes: string[] = [];
  await loadCheckpoint(dir, { seed: 1, warn: (m) => notes.push(m) });
  assert.match(
    notes.join("\n"),
    new RegExp(`1 tensor\\(s\\) .* not used: ${extra.replaceAll(".", "\\.")}`),
  );
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
  await assertLoadError(truncated, /which holds \d+ bytes: truncated/);

  const lying = await Deno.makeTempDir();
  await Deno.writeFile(
    `${lying}/x.safetensors`,
    new Uint8Array([255, 255, 0, 0, 0, 0, 0, 0, 123, 125]),
  );
  await assert.rejects(
    () => readSafetensors(`${lying}/x.safetensors`),
    /header size 65535 bytes runs past the end of the file \(10 bytes\)/,
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
  const tok = await readTokenizer(dir);
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

// ---- Sharded safetensors, foreign formats, dtypes and values ----

/** The fixture's tensors split in two shards with an index, as transformers writes them. */
async function writeSharded(dir: string) {
  const written = await writeTinyCheckpoint(dir);
  const all = await readSafetensors(`${dir}/model.safetensors`);
  await Deno.remove(`${dir}/model.safetensors`);
  const names = [...all.keys()];
  const shards = [names.slice(0, 10), names.slice(10)];
  const weightMap: Record<string, string> = {};
  for (const [i, part] of shards.entries()) {
    const file = `model-0000${i + 1}-of-00002.safetensors`;
    await writeSafetensors(`${dir}/${file}`, new Map(part.map((k) => [k, all.get(k)!])));
    for (const k of part) weightMap[k] = file;
  }
  const index = { metadata: { total_size: 0 }, weight_map: weightMap };
  await Deno.writeTextFile(`${dir}/model.safetensors.index.json`, JSON.stringify(index));
  return { ...written, index, all };
}

Deno.test("checkpoint: sharded safetensors load bit-exact; a missing shard, a tensor absent from its shard, a path in weight_map or a tensor in two shards is refused", async () => {
  const dir = await Deno.makeTempDir();
  const { weights, index, all } = await writeSharded(dir);
  const ck = await loadCheckpoint(dir, quiet);
  assert.deepEqual(ck.newlyInitialized, []);
  for (const [k, v] of weights) assert.deepEqual(ck.weights.get(k), v, k);

  const idx = `${dir}/model.safetensors.index.json`;
  const withIndex = async (weightMap: Record<string, string>, pattern: RegExp) => {
    await Deno.writeTextFile(idx, JSON.stringify({ ...index, weight_map: weightMap }));
    await assertLoadError(dir, pattern);
  };
  await withIndex(
    { ...index.weight_map, "classifier.bias": "model-00003-of-00003.safetensors" },
    /model\.safetensors\.index\.json: shard model-00003-of-00003\.safetensors \(holding classifier\.bias\) is missing/,
  );
  await withIndex(
    { ...index.weight_map, "bert.extra.weight": "model-00001-of-00002.safetensors" },
    /model-00001-of-00002\.safetensors: tensor bert\.extra\.weight is not in this shard, where .*index\.json places it/,
  );
  await withIndex(
    { ...index.weight_map, "classifier.bias": "../model-00002-of-00002.safetensors" },
    /weight_map\["classifier\.bias"\] must be a shard file name in the same folder/,
  );
  // classifier.bias stored in shard 1 as well as in shard 2, where the index places it.
  const first = Object.keys(index.weight_map).filter((k) =>
    index.weight_map[k] === "model-00001-of-00002.safetensors"
  );
  await Deno.writeTextFile(idx, JSON.stringify(index));
  await writeSafetensors(
    `${dir}/model-00001-of-00002.safetensors`,
    new Map([...first, "classifier.bias"].map((k) => [k, all.get(k)!])),
  );
  await assertLoadError(
    dir,
    /model-00001-of-00002\.safetensors: holds tensor classifier\.bias, which .*index\.json places in model-00002-of-00002\.safetensors/,
  );
});

Deno.test("checkpoint: a folder with PyTorch, TensorFlow or sharded Flax weights only is refused with the command that converts it", async () => {
  for (
    const [file, framework, flag] of [
      ["pytorch_model.bin", "PyTorch", ""],
      ["pytorch_model.bin.index.json", "PyTorch", ""],
      ["tf_model.h5", "TensorFlow", ", from_tf=True"],
      ["flax_model.msgpack.index.json", "Flax", ", from_flax=True"],
    ]
  ) {
    const dir = await Deno.makeTempDir();
    await writeTinyCheckpoint(dir);
    await Deno.remove(`${dir}/model.safetensors`);
    await Deno.writeFile(`${dir}/${file}`, new Uint8Array(16));
    await assertLoadError(
      dir,
      new RegExp(
        `holds ${framework} weights only \\(${
          file.replaceAll(".", "\\.")
        }\\).*M\\.from_pretrained\\('${dir}'${
          flag.replace(/[(),.]/g, "\\$&")
        }\\)\\.save_pretrained\\('${dir}', safe_serialization=True\\)`,
      ),
    );
  }
});

/**
 * flax_model.msgpack as flax.serialization.msgpack_serialize writes FlaxBertForSequenceClassification
 * params: nested dicts, arrays as msgpack extension 1 = msgpack (shape, dtype name, C-order bytes),
 * Dense kernels [in, out], LayerNorm "scale", embeddings "embedding" (names as in transformers'
 * load_flax_weights_in_pytorch_model, read in reverse).
 */
function flaxBytes(
  weights: Map<string, { shape: number[]; data: Float32Array }>,
  dtypes = {} as Record<string, string>,
) {
  const codec = new ExtensionCodec();
  codec.register({
    type: 1,
    encode: (v: unknown) => {
      const a = v as { flax: true; shape: number[]; dtype: string; bytes: Uint8Array };
      return a?.flax ? encode([a.shape, a.dtype, a.bytes]) : null;
    },
    decode: () => null,
  });
  const root: Record<string, unknown> = {};
  for (const [name, t] of weights) {
    const parts = name.split(".");
    const last = parts.pop()!, parent = parts[parts.length - 1];
    let shape = t.shape, data = t.data;
    let leaf = last;
    if (last === "weight" && parent === "LayerNorm") leaf = "scale";
    else if (last === "weight" && parent.endsWith("_embeddings")) leaf = "embedding";
    else if (last === "weight") {
      leaf = "kernel";
      const [o, i] = shape;
      data = new Float32Array(o * i);
      for (let r = 0; r < o; r++) for (let c = 0; c < i; c++) data[c * o + r] = t.data[r * i + c];
      shape = [i, o];
    }
    let node = root;
    for (const p of parts) node = (node[p] ??= {}) as Record<string, unknown>;
    const dtype = dtypes[name] ?? "float32";
    const bytes = dtype === "int64"
      ? new Uint8Array(data.length * 8)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    node[leaf] = { flax: true, shape, dtype, bytes };
  }
  return encode(root, { extensionCodec: codec });
}

Deno.test("checkpoint: a Flax-only folder (flax_model.msgpack) loads bit-exact, as from_pretrained(from_flax=True); bad arrays are refused by name", async () => {
  const dir = await Deno.makeTempDir();
  const { weights } = await writeTinyCheckpoint(dir);
  const stored = await readSafetensors(`${dir}/model.safetensors`);
  await Deno.remove(`${dir}/model.safetensors`);
  await Deno.writeFile(`${dir}/flax_model.msgpack`, flaxBytes(stored));
  const ck = await loadCheckpoint(dir, quiet);
  assert.deepEqual(ck.newlyInitialized, []);
  for (const [k, v] of weights) assert.deepEqual(ck.weights.get(k), v, k);

  await Deno.writeFile(
    `${dir}/flax_model.msgpack`,
    flaxBytes(stored, { "classifier.weight": "int64" }),
  );
  await assertLoadError(
    dir,
    /flax_model\.msgpack: tensor classifier\.weight has dtype I64; weights must be floating point/,
  );
  const short = new Map(stored);
  const b = stored.get("bert.pooler.dense.bias")!;
  short.set("bert.pooler.dense.bias", { shape: [9], data: b.data });
  await Deno.writeFile(`${dir}/flax_model.msgpack`, flaxBytes(short));
  await assertLoadError(
    dir,
    /flax_model\.msgpack: bert\.pooler\.dense\.bias: shape \[9\] float32 needs 36 bytes but the array holds 32/,
  );
  await Deno.writeFile(`${dir}/flax_model.msgpack`, new Uint8Array([0xc1]));
  await assertLoadError(dir, /flax_model\.msgpack: not a Flax msgpack checkpoint/);
});

/** A safetensors file from raw entries (any dtype), written byte by byte. */
async function writeRaw(file: string, entries: [string, string, number[], Uint8Array][]) {
  const header: Record<string, unknown> = {};
  let at = 0;
  for (const [name, dtype, shape, bytes] of entries) {
    header[name] = { dtype, shape, data_offsets: [at, at + bytes.length] };
    at += bytes.length;
  }
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + at);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  let pos = 8 + h.length;
  for (const [, , , bytes] of entries) {
    out.set(bytes, pos);
    pos += bytes.length;
  }
  await Deno.writeFile(file, out);
}

Deno.test("checkpoint: an I64 classifier.weight is an error naming it, never a newly initialised head", async () => {
  const dir = await Deno.makeTempDir();
  await writeTinyCheckpoint(dir);
  const all = await readSafetensors(`${dir}/model.safetensors`);
  await writeRaw(
    `${dir}/model.safetensors`,
    [...all].map(([k, t]) => {
      const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      return k === "classifier.weight"
        ? [k, "I64", t.shape, new Uint8Array(t.data.length * 8)]
        : [k, "F32", t.shape, bytes];
    }),
  );
  await assertLoadError(
    dir,
    /model\.safetensors: tensor classifier\.weight has dtype I64; weights must be floating point \(F32, F16, BF16, F64\)/,
  );
});

Deno.test("checkpoint: weights holding NaN or Inf are refused by name", async () => {
  for (const bad of [NaN, Infinity, -Infinity]) {
    const dir = await Deno.makeTempDir();
    const data = new Float32Array(8);
    data[5] = bad;
    await writeTinyCheckpoint(dir, {
      extra: new Map([["bert.encoder.layer.1.output.dense.bias", { shape: [8], data }]]),
    });
    await assertLoadError(
      dir,
      new RegExp(
        `tensor bert\\.encoder\\.layer\\.1\\.output\\.dense\\.bias holds ${bad} at element 5; weights must be finite`,
      ),
    );
  }
});

Deno.test("checkpoint: two stored names for one parameter (gamma and weight) are refused", async () => {
  const dir = await Deno.makeTempDir();
  const ln = "bert.embeddings.LayerNorm";
  await writeTinyCheckpoint(dir, {
    extra: new Map([[`${ln}.gamma`, { shape: [8], data: new Float32Array(8).fill(1) }]]),
  });
  await assertLoadError(
    dir,
    /tensors bert\.embeddings\.LayerNorm\.weight and bert\.embeddings\.LayerNorm\.gamma are both bert\.embeddings\.LayerNorm\.weight/,
  );
});

// ---- config.json checked against the engine and the files ----

Deno.test("config: activations and position embeddings the engine does not implement are refused by name", async () => {
  for (
    const [key, value, pattern] of [
      ["hidden_act", "gelu_new", /hidden_act "gelu_new" is not implemented \(only "gelu"/],
      ["hidden_act", "gelu_pytorch_tanh", /hidden_act "gelu_pytorch_tanh" is not implemented/],
      ["hidden_act", "relu", /hidden_act "relu" is not implemented/],
      [
        "position_embedding_type",
        "relative_key",
        /position_embedding_type "relative_key" is not implemented \(only "absolute"\)/,
      ],
      ["model_type", "roberta", /model_type "roberta" is not supported \(only "bert"\)/],
      ["is_decoder", true, /is_decoder true \(a causal attention mask\) is not implemented/],
      [
        "problem_type",
        "multi_label_classification",
        /problem_type "multi_label_classification" is not implemented/,
      ],
      ["problem_type", "regression", /problem_type "regression" is not implemented/],
    ] as const
  ) {
    const dir = await Deno.makeTempDir();
    await writeTinyCheckpoint(dir);
    const cfg = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ ...cfg, [key]: value }));
    await assertLoadError(dir, pattern);
  }
});

Deno.test("config: id2label decides num_labels; a num_labels that disagrees, or a classifier of another size, is an error", async () => {
  const base = { vocab_size: 10, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2 };
  const cfg = (extra: Record<string, unknown>) =>
    parseConfig({ ...base, intermediate_size: 4, ...extra });
  const three = { "0": "a", "1": "b", "2": "c" };
  assert.equal(cfg({ id2label: three }).numLabels, 3);
  assert.equal(cfg({ id2label: three, num_labels: 3 }).numLabels, 3);
  assert.equal(cfg({ num_labels: 4 }).numLabels, 4);
  assert.throws(
    () => cfg({ num_labels: 1 }),
    /config\.json: 1 label \(transformers treats num_labels 1 as regression\)/,
  );
  assert.throws(() => cfg({ id2label: { "0": "score" } }), /1 label/);
  // Nonsense sizes and a negative LayerNorm eps (NaN logits, exit 0, before) name their key.
  assert.throws(
    () => cfg({ num_hidden_layers: 1.5 }),
    /"num_hidden_layers" must be a positive integer, found 1\.5/,
  );
  assert.throws(
    () => cfg({ max_position_embeddings: 0 }),
    /"max_position_embeddings" must be a positive integer, found 0/,
  );
  assert.throws(() => cfg({ layer_norm_eps: -1 }), /"layer_norm_eps" must not be negative/);
  assert.throws(
    () => cfg({ id2label: three, num_labels: 2 }),
    /config\.json: "num_labels" 2 disagrees with "id2label", which has 3 labels/,
  );
  assert.throws(
    () => cfg({ id2label: { "0": "a", "2": "c" } }),
    /"id2label" keys must be the label ids 0\.\.1, found \["0","2"\]/,
  );

  // A two-label classifier under a three-label config.json: the shape error names both.
  const dir = await Deno.makeTempDir();
  await writeTinyCheckpoint(dir);
  const raw = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  await Deno.writeTextFile(
    `${dir}/config.json`,
    JSON.stringify({ ...raw, id2label: three, label2id: undefined }),
  );
  await assertLoadError(
    dir,
    /model\.safetensors: tensor classifier\.weight has shape \[2,8\], config\.json implies \[3,8\]/,
  );
});

Deno.test("config: classifier_dropout is the classifier's dropout, hidden_dropout_prob only when it is null; probabilities in [0, 1)", () => {
  const base = {
    vocab_size: 10,
    hidden_size: 8,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 4,
    hidden_dropout_prob: 0.3,
  };
  assert.equal(parseConfig({ ...base, classifier_dropout: 0.9 }).classifierDropout, 0.9);
  assert.equal(parseConfig({ ...base, classifier_dropout: 0 }).classifierDropout, 0);
  assert.equal(parseConfig({ ...base, classifier_dropout: null }).classifierDropout, 0.3);
  assert.equal(parseConfig(base).classifierDropout, 0.3);
  assert.throws(
    () => parseConfig({ ...base, classifier_dropout: 1 }),
    /"classifier_dropout" 1 must be in \[0, 1\)/,
  );
  assert.throws(
    () => parseConfig({ ...base, hidden_dropout_prob: -0.1 }),
    /"hidden_dropout_prob" -0\.1 must be in \[0, 1\)/,
  );
});

Deno.test("checkpoint: a tokenizer larger than vocab_size is an error naming both numbers", async () => {
  const dir = await Deno.makeTempDir();
  await writeTinyCheckpoint(dir, { config: { vocab_size: TINY_VOCAB.length - 3 } });
  await assertLoadError(
    dir,
    new RegExp(
      `config\\.json: vocab_size ${
        TINY_VOCAB.length - 3
      } is smaller than the tokenizer's ${TINY_VOCAB.length} tokens`,
    ),
  );
});

// ---- The shared cases (../shared/cases/README.md) ----

const CASES = new URL("../../shared/cases/", import.meta.url).pathname;
const haveCases = isFile(`${CASES}README.md`);
if (!haveCases) {
  console.warn(
    `checkpoint_test: case tests skipped: ${CASES} not found (../shared beside the checkout)`,
  );
}
const caseTest = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `case ${name}`, ignore: !haveCases, fn });

const assertCliFails = assertCliError;

const PRIZE = "Call now to claim your FREE prize!";

caseTest("checkpoint/sharded: predict gives logits [-0.0969, -1.7952]", async () => {
  const r = await runTask("predict", ["--model", `${CASES}checkpoint/sharded`, "--json", PRIZE]);
  assert.equal(r.code, 0, r.stderr);
  const { logits } = JSON.parse(r.stdout);
  [-0.0969, -1.7952].forEach((want, j) =>
    assert.ok(Math.abs(logits[j] - want) <= 1e-4, `logit ${j}: ${logits[j]} vs ${want}`)
  );
});

caseTest(
  "checkpoint/bin-only: refused with the conversion command, never a random init",
  async () => {
    await assertCliFails(
      "predict",
      ["--model", `${CASES}checkpoint/bin-only`, "--json", PRIZE],
      /checkpoint\/bin-only: holds PyTorch weights only \(pytorch_model\.bin\).*save_pretrained\(.*safe_serialization=True\)/,
    );
  },
);

caseTest(
  "checkpoint/vocab-exceeds-vocab-size: an error naming 58 tokens and vocab_size 50",
  async () => {
    await assertCliFails(
      "predict",
      ["--model", `${CASES}checkpoint/vocab-exceeds-vocab-size`, "--json", "see you soon"],
      /vocab-exceeds-vocab-size\/config\.json: vocab_size 50 is smaller than the tokenizer's 58 tokens/,
    );
  },
);

caseTest(
  "checkpoint/negative-offset: the lying header is refused before any byte is used",
  async () => {
    await assertCliFails(
      "predict",
      ["--model", `${CASES}checkpoint/negative-offset`, "--json", PRIZE],
      /negative-offset\/model\.safetensors: not a valid safetensors file: tensor classifier\.bias: data_offsets \[-8,0\] must be two non-negative integers/,
    );
  },
);

caseTest("config/classifier-dropout: the two seeds give different classifier weights", async () => {
  const out = await Deno.makeTempDir();
  const head = async (seed: number, dir: string) => {
    const r = await runTask("train", [
      ...["--model", `${CASES}config/classifier-dropout`, "--data", `${CASES}tiny.tsv`],
      ...["--val-data", `${CASES}tiny.tsv`, "--mode", "head", "--epochs", "1"],
      ...["--batch-size", "12", "--optimizer", "sgd", "--lr", "1", "--no-shuffle"],
      ...["--seed", String(seed), "--out", `${out}/${dir}`],
    ]);
    assert.equal(r.code, 0, r.stderr);
    const w = await readSafetensors(`${out}/${dir}/model.safetensors`);
    return Array.from(w.get("classifier.weight")!.data);
  };
  const seed1 = await head(1, "s1");
  assert.notDeepEqual(await head(2, "s2"), seed1, "classifier_dropout 0.9 must drop by seed");
  assert.deepEqual(await head(1, "s1b"), seed1, "the same seed, the same weights");
});
