// PEFT adapters: for each supported variant, logits after loading equal a float64 forward of the
// base weights with the adapter applied by PEFT's rules (built here from the variant's own
// components, not by reading the file back), and `merge` agrees; every variant the engine does
// not implement, and every tensor it cannot place, is refused by name.
import assert from "node:assert/strict";
import { initGpu } from "../src/gpu/kernel.ts";
import { endStep } from "../src/autograd/tape.ts";
import { BertForSequenceClassification } from "../src/bert/model.ts";
import type { BertConfig } from "../src/bert/config.ts";
import { paramShapes } from "../src/bert/params.ts";
import { makeBatch } from "../src/data/batches.ts";
import { loadAdapter } from "../src/io/peft.ts";
import { type NamedTensor, readSafetensors, writeSafetensors } from "../src/io/safetensors.ts";
import { UserError } from "../src/errors.ts";
import { bertForwardRef, type RefLora, type Weights } from "./reference/bert_ref.ts";
import {
  BATCH,
  fixtureTsv,
  refConfig,
  runTask,
  toF64,
  writeTinyCheckpoint,
} from "./bert_fixture.ts";
import { isFile, relError, rng } from "./helpers.ts";

const P = "base_model.model.";
const ids = BATCH.map((e) => e.inputIds), mask = BATCH.map((e) => e.attentionMask);
// f32 GPU forward of a 2-layer BERT vs float64: bert_grad_test's logits bound.
const TOL = 1e-5;

const dir = await Deno.makeTempDir();
const base = await writeTinyCheckpoint(`${dir}/base`, { seed: 7 });
const shapes = paramShapes(base.config);

/** One adapter: its config, its tensors, and the reference it must equal. */
class Variant {
  tensors = new Map<string, NamedTensor>();
  lora: RefLora = { r: 0, scale: 0, adapters: new Map(), embeddings: new Map() };
  weights: Weights = toF64(base.weights);
  rand: () => number;
  constructor(readonly config: Record<string, unknown>, seed: number) {
    this.rand = rng(seed);
  }
  values(n: number, scale = 0.5): Float32Array {
    return Float32Array.from({ length: n }, () => scale * this.rand());
  }
  /** LoRA on a Linear: A (r, in), B (out, r); reference y += scale·(x·Aᵀ)·Bᵀ. */
  linear(path: string, r: number, scale: number): this {
    const [outF, inF] = shapes.get(`${path}.weight`)!;
    const A = this.values(r * inF), B = this.values(outF * r);
    this.tensors.set(`${P}${path}.lora_A.weight`, { shape: [r, inF], data: A });
    this.tensors.set(`${P}${path}.lora_B.weight`, { shape: [outF, r], data: B });
    this.lora.adapters.set(path, {
      A: Float64Array.from(A),
      B: Float64Array.from(B),
      r,
      scale,
    });
    return this;
  }
  /** LoRA on an Embedding (PEFT's layout): A (r, num), B (dim, r). */
  embedding(path: string, r: number, scale: number): this {
    const [num, dim] = shapes.get(`${path}.weight`)!;
    const A = this.values(r * num), B = this.values(dim * r);
    this.tensors.set(`${P}${path}.lora_embedding_A`, { shape: [r, num], data: A });
    this.tensors.set(`${P}${path}.lora_embedding_B`, { shape: [dim, r], data: B });
    this.lora.embeddings!.set(path, { A: Float64Array.from(A), B: Float64Array.from(B), r, scale });
    return this;
  }
  /** A stored parameter under `key`: PEFT's load_state_dict puts it in place of the base one. */
  replace(param: string, key = `${P}${param}`, data?: Float32Array): Float32Array {
    const shape = shapes.get(param)!;
    const v = data ?? this.values(shape.reduce((a, b) => a * b, 1));
    this.tensors.set(key, { shape, data: v });
    this.weights.set(param, Float64Array.from(v));
    return v;
  }
  async write(name: string): Promise<string> {
    const d = `${dir}/${name}`;
    await Deno.mkdir(d, { recursive: true });
    await Deno.writeTextFile(`${d}/adapter_config.json`, JSON.stringify(this.config));
    await writeSafetensors(`${d}/adapter_model.safetensors`, this.tensors, { format: "pt" });
    return d;
  }
  reference(): number[] {
    return bertForwardRef(refConfig(base.config), this.weights, ids, mask, this.lora).flatMap((
      r,
    ) => [...r]);
  }
}

const cfg = (o: Record<string, unknown>) => ({
  peft_type: "LORA",
  task_type: "SEQ_CLS",
  bias: "none",
  lora_dropout: 0,
  fan_in_fan_out: false,
  inference_mode: true,
  base_model_name_or_path: "tiny",
  ...o,
});

const layers = [0, 1].map((i) => `bert.encoder.layer.${i}`);
const biases = [...shapes.keys()].filter((k) => k.endsWith(".bias"));

async function logits(
  c: BertConfig,
  w: Map<string, Float32Array>,
  adapter?: string,
  warn: (m: string) => void = () => {},
): Promise<Float32Array> {
  await initGpu();
  const model = new BertForSequenceClassification(c, w);
  if (adapter) await loadAdapter(adapter, model, warn);
  const out = await model.forward(makeBatch(BATCH, null, c.vocabSize), { train: false }).read();
  endStep();
  model.release();
  return out;
}

async function checkVariant(name: string, v: Variant) {
  const adapter = await v.write(name);
  const want = v.reference();
  const got = await logits(base.config, base.weights, adapter);
  assert.ok(relError(got, want) <= TOL, `${name}: adapter logits error ${relError(got, want)}`);
  // Not a no-op: the adapter moves the logits well past the tolerance.
  const plain = await logits(base.config, base.weights);
  assert.ok(relError(plain, want) > 1e-3, `${name}: the adapter changed nothing`);
  const m = await runTask("merge", [
    "--model",
    `${dir}/base`,
    "--adapter",
    adapter,
    "--out",
    `${dir}/${name}-merged`,
  ]);
  assert.equal(m.code, 0, m.stderr);
  const merged = await readSafetensors(`${dir}/${name}-merged/model.safetensors`);
  const mw = new Map([...merged].map(([k, t]) => [k, t.data]));
  const gotMerged = await logits(base.config, mw);
  assert.ok(
    relError(gotMerged, want) <= TOL,
    `${name}: merged logits error ${relError(gotMerged, want)}`,
  );
}

Deno.test('peft bias "all" (SEQ_CLS): every stored bias replaces the base one (base_layer.bias on LoRA modules), classifier as modules_to_save', async () => {
  const v = new Variant(
    cfg({ r: 2, lora_alpha: 4, target_modules: ["query", "value"], bias: "all" }),
    1,
  );
  for (const l of layers) {
    v.linear(`${l}.attention.self.query`, 2, 2).linear(`${l}.attention.self.value`, 2, 2);
  }
  for (const b of biases) {
    const owner = b.slice(0, -".bias".length);
    v.replace(b, v.lora.adapters.has(owner) ? `${P}${owner}.base_layer.bias` : undefined);
  }
  // What PEFT's bias="all" state_dict also holds for the wrapped classifier.
  v.replace("classifier.weight");
  const cb = v.tensors.get(`${P}classifier.bias`)!;
  v.tensors.set(`${P}classifier.modules_to_save.bias`, cb);
  v.tensors.set(`${P}classifier.original_module.bias`, {
    shape: cb.shape,
    data: base.weights.get("classifier.bias")!,
  });
  await checkVariant("bias-all", v);
});

Deno.test('peft bias "lora_only": the biases of LoRA modules (base_layer.bias), "dense" matching every dense Linear', async () => {
  const v = new Variant(
    cfg({
      r: 3,
      lora_alpha: 6,
      target_modules: ["key", "dense"],
      bias: "lora_only",
      task_type: null,
    }),
    2,
  );
  const targets = [
    ...layers.flatMap((l) => [
      `${l}.attention.self.key`,
      `${l}.attention.output.dense`,
      `${l}.intermediate.dense`,
      `${l}.output.dense`,
    ]),
    "bert.pooler.dense",
  ];
  for (const t of targets) {
    v.linear(t, 3, 2);
    v.replace(`${t}.bias`, `${P}${t}.base_layer.bias`);
  }
  await checkVariant("bias-lora-only", v);
});

Deno.test("peft alpha_pattern: per-module alpha, the first key matching the module name's end (regex) wins", async () => {
  const v = new Variant(
    cfg({
      r: 2,
      lora_alpha: 4,
      target_modules: ["query", "value"],
      alpha_pattern: { "layer\\.1\\.attention\\.self\\.query": 1, value: 16, query: 3 },
    }),
    3,
  );
  v.linear(`${layers[0]}.attention.self.query`, 2, 3 / 2);
  v.linear(`${layers[1]}.attention.self.query`, 2, 1 / 2);
  for (const l of layers) v.linear(`${l}.attention.self.value`, 2, 16 / 2);
  v.replace("classifier.weight");
  v.replace("classifier.bias");
  await checkVariant("alpha-pattern", v);
});

Deno.test("peft rank_pattern with a regex target_modules and exclude_modules: per-module r, first matching key wins", async () => {
  const v = new Variant(
    cfg({
      r: 2,
      lora_alpha: 8,
      target_modules: ".*\\.(key|dense)",
      rank_pattern: { "attention.output.dense": 1, "output.dense": 3, key: 4 },
      exclude_modules: ["pooler.dense"],
    }),
    4,
  );
  for (const l of layers) {
    v.linear(`${l}.attention.self.key`, 4, 8 / 4);
    v.linear(`${l}.attention.output.dense`, 1, 8 / 1);
    v.linear(`${l}.intermediate.dense`, 2, 8 / 2);
    v.linear(`${l}.output.dense`, 3, 8 / 3);
  }
  v.replace("classifier.weight");
  v.replace("classifier.bias");
  await checkVariant("rank-pattern", v);
});

Deno.test("peft use_rslora: scaling alpha/√r, with the r of rank_pattern", async () => {
  const v = new Variant(
    cfg({
      r: 4,
      lora_alpha: 6,
      use_rslora: true,
      target_modules: ["query", "value"],
      rank_pattern: { value: 1 },
    }),
    5,
  );
  for (const l of layers) {
    v.linear(`${l}.attention.self.query`, 4, 6 / Math.sqrt(4));
    v.linear(`${l}.attention.self.value`, 1, 6 / Math.sqrt(1));
  }
  v.replace("classifier.weight");
  v.replace("classifier.bias");
  await checkVariant("rslora", v);
});

Deno.test('peft target_modules "all-linear" (PEFT\'s shorthand, any case): every Linear but the classifier', async () => {
  const v = new Variant(cfg({ r: 2, lora_alpha: 4, target_modules: "ALL-LINEAR" }), 11);
  for (const l of layers) {
    for (const m of ["attention.self.query", "attention.self.key", "attention.self.value"]) {
      v.linear(`${l}.${m}`, 2, 2);
    }
    for (const m of ["attention.output.dense", "intermediate.dense", "output.dense"]) {
      v.linear(`${l}.${m}`, 2, 2);
    }
  }
  v.linear("bert.pooler.dense", 2, 2);
  await checkVariant("all-linear", v);
});

Deno.test("peft LoRA on embeddings (lora_embedding_A/B) beside a Linear LoRA", async () => {
  const v = new Variant(
    cfg({
      r: 2,
      lora_alpha: 4,
      target_modules: ["word_embeddings", "position_embeddings", "token_type_embeddings", "query"],
      alpha_pattern: { position_embeddings: 6 },
      task_type: null,
    }),
    6,
  );
  v.embedding("bert.embeddings.word_embeddings", 2, 2);
  v.embedding("bert.embeddings.position_embeddings", 2, 3);
  v.embedding("bert.embeddings.token_type_embeddings", 2, 2);
  for (const l of layers) v.linear(`${l}.attention.self.query`, 2, 2);
  await checkVariant("embedding", v);
});

Deno.test("peft modules_to_save of non-classifier modules (either spelling), excluded from LoRA targets", async () => {
  const v = new Variant(
    cfg({
      r: 2,
      lora_alpha: 2,
      target_modules: ["query", "dense"],
      modules_to_save: ["intermediate.dense", "embeddings.LayerNorm"],
    }),
    7,
  );
  for (const l of layers) {
    v.linear(`${l}.attention.self.query`, 2, 1);
    v.linear(`${l}.attention.output.dense`, 2, 1);
    v.linear(`${l}.output.dense`, 2, 1);
    v.replace(`${l}.intermediate.dense.weight`);
    v.replace(
      `${l}.intermediate.dense.bias`,
      `${P}${l}.intermediate.dense.modules_to_save.default.bias`,
    );
  }
  v.linear("bert.pooler.dense", 2, 1);
  v.replace("bert.embeddings.LayerNorm.weight");
  v.replace("bert.embeddings.LayerNorm.bias");
  v.replace("classifier.weight");
  v.replace("classifier.bias");
  await checkVariant("modules-to-save", v);
});

Deno.test("peft: a declared modules_to_save module absent from the file keeps the base weights, with a warning", async () => {
  const v = new Variant(
    cfg({ r: 2, lora_alpha: 4, target_modules: ["query"], modules_to_save: ["pooler.dense"] }),
    8,
  );
  for (const l of layers) v.linear(`${l}.attention.self.query`, 2, 2);
  v.replace("classifier.weight");
  v.replace("classifier.bias");
  const warnings: string[] = [];
  const got = await logits(
    base.config,
    base.weights,
    await v.write("absent-mts"),
    (m) => warnings.push(m),
  );
  assert.ok(relError(got, v.reference()) <= TOL, `${relError(got, v.reference())}`);
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0],
    /no weights for modules_to_save bert\.pooler\.dense: the base model's are used/,
  );
});

const none = () => {};

/** A valid query/value adapter that `edit` breaks in one way. */
async function refused(
  name: string,
  edit: (v: Variant) => void,
  pattern: RegExp,
  o: Record<string, unknown> = {},
) {
  const v = new Variant(cfg({ r: 2, lora_alpha: 4, target_modules: ["query", "value"], ...o }), 9);
  for (const l of layers) {
    v.linear(`${l}.attention.self.query`, 2, 2).linear(`${l}.attention.self.value`, 2, 2);
  }
  v.replace("classifier.weight");
  v.replace("classifier.bias");
  edit(v);
  const d = await v.write(`bad-${name}`);
  await initGpu();
  const model = new BertForSequenceClassification(base.config, base.weights);
  try {
    await assert.rejects(loadAdapter(d, model, () => {}), (e: Error) => {
      assert.ok(e instanceof UserError, `${name}: ${e.stack}`);
      assert.match(e.message, pattern, name);
      assert.ok(!e.message.includes("\n"), `${name}: one line`);
      return true;
    });
  } finally {
    model.release();
  }
}

Deno.test("peft: variants the engine does not implement are refused by name", async () => {
  await refused("dora", none, /use_dora/, { use_dora: true });
  await refused("ia3", none, /peft_type "IA3" is not supported/, { peft_type: "IA3" });
  await refused("fan-in-fan-out", none, /fan_in_fan_out/, { fan_in_fan_out: true });
  await refused("layers", none, /layers_to_transform/, { layers_to_transform: [0] });
  await refused("pissa", none, /init_lora_weights "pissa"/, { init_lora_weights: "pissa" });
  await refused("lora-bias", none, /lora_bias true/, { lora_bias: true });
  await refused("causal", none, /task_type "CAUSAL_LM"/, { task_type: "CAUSAL_LM" });
  await refused("bias-kind", none, /bias "some"/, { bias: "some" });
  await refused("layernorm-target", none, /LayerNorm, which is neither a Linear nor an Embedding/, {
    target_modules: ["query", "value", "output.LayerNorm"],
  });
});

Deno.test("peft: a tensor the engine cannot place is refused by name, never dropped", async () => {
  const key0 = `${layers[0]}.attention.self.key`, q0 = `${layers[0]}.attention.self.query`;
  await refused(
    "untargeted",
    (v) => v.linear(key0, 2, 2),
    /key\.lora_A\.weight is for .*does not target/,
  );
  await refused(
    "bias-without-base-layer",
    (v) => v.replace(`${q0}.bias`),
    /query\.bias: .*carries LoRA, so PEFT stores its own tensors as .*base_layer/,
  );
  await refused("stray", (v) =>
    v.tensors.set(`${P}bert.encoder.layer.0.extra.weight`, {
      shape: [2],
      data: new Float32Array(2),
    }), /extra\.weight names no parameter/);
  await refused(
    "no-prefix",
    (v) => v.tensors.set("classifier.weight", v.tensors.get(`${P}classifier.weight`)!),
    /does not start with base_model\.model\./,
  );
  await refused(
    "missing-b",
    (v) => v.tensors.delete(`${P}${q0}.lora_B.weight`),
    /query\.lora_B\.weight is missing/,
  );
  await refused("rank", none, /rank_pattern/, { rank_pattern: { value: 4 } });
  await refused(
    "nan",
    (v) => v.tensors.get(`${P}${q0}.lora_A.weight`)!.data[3] = NaN,
    /query\.lora_A\.weight holds NaN/,
  );
  await refused(
    "partial-head",
    (v) => v.tensors.delete(`${P}classifier.weight`),
    /modules_to_save classifier lacks base_model\.model\.classifier\.weight/,
  );
  await refused(
    "shape",
    (v) => v.tensors.set(`${P}classifier.bias`, { shape: [3], data: new Float32Array(3) }),
    /classifier\.bias has shape \[3\]/,
  );
});

Deno.test("peft: an integer tensor in the adapter is refused by name", async () => {
  const v = new Variant(
    cfg({ r: 2, lora_alpha: 4, target_modules: ["query"], task_type: null }),
    10,
  );
  for (const l of layers) v.linear(`${l}.attention.self.query`, 2, 2);
  const d = await v.write("int");
  // Append an I64 tensor by hand (the engine's writer writes F32 only).
  const bytes = await Deno.readFile(`${d}/adapter_model.safetensors`);
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const dataLen = bytes.length - 8 - n;
  header[`${P}classifier.weight`] = {
    dtype: "I64",
    shape: [1],
    data_offsets: [dataLen, dataLen + 8],
  };
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((json.length + 8) % 8)) % 8);
  const h = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + h.length + dataLen + 8);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(bytes.subarray(8 + n), 8 + h.length);
  await Deno.writeFile(`${d}/adapter_model.safetensors`, out);
  const r = await runTask("predict", ["--model", `${dir}/base`, "--adapter", d, "--json", "hello"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr.trim(), /classifier\.weight has dtype I64/);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
});

// The shared cases: right answers from a float64 forward of the same weights (cases/README.md).
const CASES = new URL("../../shared/cases/", import.meta.url).pathname;
const TEXTS = ["Call now to claim your FREE prize!", "ok see you later"];
for (
  const [name, want] of [
    ["bias-all", [[1.0163, -1.9056], [1.2445, -1.8415]]],
    ["alpha-pattern", [[1.8471, 0.3103], [1.9456, 0.3379]]],
  ] as const
) {
  Deno.test(`peft case ${name}: predict --adapter gives the logits of cases/README.md`, {
    ignore: !isFile(`${CASES}peft/${name}/adapter_model.safetensors`),
  }, async () => {
    const r = await runTask("predict", [
      "--model",
      `${CASES}tiny-bert`,
      "--adapter",
      `${CASES}peft/${name}`,
      "--json",
      ...TEXTS,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const got = r.stdout.trim().split("\n").map((l) => JSON.parse(l).logits as number[]);
    // The README gives 4 decimals: 1e-4 covers their rounding.
    got.forEach((row, i) =>
      row.forEach((x, j) => assert.ok(Math.abs(x - want[i][j]) <= 1e-4, `${name} ${i},${j}: ${x}`))
    );
  });
}
if (!isFile(`${CASES}peft/bias-all/adapter_model.safetensors`)) {
  console.log(`peft cases skipped: ${CASES}peft is absent`);
}

Deno.test("train --mode lora --lora-targets query,value: the classifier trains fully and travels with the adapter, which PEFT's rules reload exactly", async () => {
  await Deno.writeTextFile(`${dir}/data.tsv`, fixtureTsv());
  const out = `${dir}/trained-qv`;
  const r = await runTask("train", [
    ...["--model", `${dir}/base`, "--data", `${dir}/data.tsv`, "--val-data", `${dir}/data.tsv`],
    ...["--mode", "lora", "--lora-targets", "query,value", "--optimizer", "sgd", "--lr", "1"],
    ...["--max-steps", "1", "--batch-size", "7", "--no-shuffle", "--epochs", "1", "--out", out],
  ]);
  assert.equal(r.code, 0, r.stderr);
  const c = JSON.parse(await Deno.readTextFile(`${out}/adapter_config.json`));
  assert.deepEqual(c.target_modules, ["query", "value"]);
  assert.deepEqual(c.modules_to_save, ["classifier", "score"]);
  for (const k of ["use_dora", "fan_in_fan_out", "use_rslora"]) assert.equal(c[k], false, k);
  const saved = await readSafetensors(`${out}/adapter_model.safetensors`);
  const head = saved.get(`${P}classifier.weight`)!.data;
  assert.ok(relError(head, base.weights.get("classifier.weight")!) > 1e-3, "the head trained");
  // The reference: the saved tensors applied by PEFT's rules (scaling alpha/r = 16/8).
  const lora: RefLora = { r: 8, scale: 2, adapters: new Map() };
  const w = toF64(base.weights);
  for (const [k, t] of saved) {
    const m = k.match(/^base_model\.model\.(.+)\.lora_A\.weight$/);
    if (m) {
      lora.adapters.set(m[1], {
        A: Float64Array.from(t.data),
        B: Float64Array.from(saved.get(k.replace("lora_A", "lora_B"))!.data),
      });
    } else if (!k.includes(".lora_B.")) w.set(k.slice(P.length), Float64Array.from(t.data));
  }
  assert.deepEqual(
    [...lora.adapters.keys()].sort(),
    layers.flatMap((l) => [`${l}.attention.self.query`, `${l}.attention.self.value`]).sort(),
  );
  const want = bertForwardRef(refConfig(base.config), w, ids, mask, lora).flatMap((r) => [...r]);
  const got = await logits(base.config, base.weights, out);
  assert.ok(relError(got, want) <= TOL, `reloaded adapter logits error ${relError(got, want)}`);
});

Deno.test("params --mode lora counts as PEFT SEQ_CLS: LoRA on every encoder Linear and the pooler, plus the whole classifier; a classifier-only target is refused", async () => {
  const lin = [...shapes].filter(([k]) =>
    k.endsWith(".weight") && /(query|key|value|dense)\./.test(k)
  );
  const want = lin.reduce((n, [, [o, i]]) => n + 8 * (o + i), 0) +
    shapes.get("classifier.weight")!.reduce((a, b) => a * b, 1) + shapes.get("classifier.bias")![0];
  const r = await runTask("params", ["--model", `${dir}/base`, "--mode", "lora"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`trainable parameters: ${want.toLocaleString("en-US")}\\n`));
  const bad = await runTask("params", [
    "--model",
    `${dir}/base`,
    "--mode",
    "lora",
    "--lora-targets",
    "classifier",
  ]);
  assert.notEqual(bad.code, 0);
  assert.match(
    bad.stderr.trim(),
    /^error: --lora-targets: the classifier is trained fully in lora mode/,
  );
});
