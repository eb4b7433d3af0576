// A tiny random BERT shared by model tests: config, float32 weights, a padded batch.
import assert from "node:assert/strict";
import { type BertConfig, configJson, parseConfig } from "../src/bert/config.ts";
import { type NamedTensor, writeSafetensors } from "../src/io/safetensors.ts";
import { paramShapes } from "../src/bert/params.ts";
import { rng } from "./helpers.ts";
import type { Encoding } from "../src/data/batches.ts";
import type { RefConfig } from "./reference/bert_ref.ts";

export function tinyConfig(overrides: Record<string, unknown> = {}): BertConfig {
  return parseConfig({
    vocab_size: 17,
    hidden_size: 8,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 12,
    max_position_embeddings: 9,
    type_vocab_size: 2,
    layer_norm_eps: 1e-12,
    hidden_dropout_prob: 0,
    attention_probs_dropout_prob: 0,
    initializer_range: 0.02,
    hidden_act: "gelu",
    id2label: { "0": "ham", "1": "spam" },
    ...overrides,
  });
}

export const refConfig = (c: BertConfig): RefConfig => ({
  hidden: c.hiddenSize,
  layers: c.numHiddenLayers,
  heads: c.numAttentionHeads,
  eps: c.layerNormEps,
});

/** Weights large enough that every nonlinearity matters (std 0.5, LayerNorm weights near 1). */
export function randomWeights(c: BertConfig, seed = 5): Map<string, Float32Array> {
  const rand = rng(seed);
  const w = new Map<string, Float32Array>();
  for (const [name, shape] of paramShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const base = name.includes("LayerNorm.weight") ? 1 : 0;
    w.set(name, Float32Array.from({ length: n }, () => base + 0.5 * rand()));
  }
  return w;
}

export const toF64 = (w: Map<string, Float32Array>) =>
  new Map([...w].map(([k, v]) => [k, Float64Array.from(v)]));

/** Three sequences of length 6 with 0, 2 and 3 padding positions. */
export const BATCH: Encoding[] = [
  { inputIds: [2, 5, 9, 16, 4, 3], attentionMask: [1, 1, 1, 1, 1, 1] },
  { inputIds: [2, 7, 7, 3, 0, 0], attentionMask: [1, 1, 1, 1, 0, 0] },
  { inputIds: [2, 11, 3, 0, 0, 0], attentionMask: [1, 1, 1, 0, 0, 0] },
];
export const LABELS = [1, 0, 1];

export const TINY_VOCAB = [
  "[PAD]",
  "[UNK]",
  "[CLS]",
  "[SEP]",
  "[MASK]",
  "hello",
  "world",
  "free",
  "win",
  "call",
  "now",
  "txt",
  "##s",
  "!",
  ",",
  ".",
  "ok",
  "lar",
  "i",
  "you",
  "prize",
  "claim",
  "meet",
  "later",
  "home",
  "##ing",
];

/** A tiny BERT checkpoint folder in the Hugging Face layout, written with the engine's writer. */
export async function writeTinyCheckpoint(
  dir: string,
  opts: {
    seed?: number;
    config?: Record<string, unknown>;
    rename?: (k: string) => string | null;
    extra?: Map<string, NamedTensor>;
  } = {},
): Promise<{ config: BertConfig; weights: Map<string, Float32Array> }> {
  const config = tinyConfig({
    vocab_size: TINY_VOCAB.length,
    max_position_embeddings: 16,
    ...opts.config,
  });
  const weights = randomWeights(config, opts.seed ?? 5);
  await Deno.mkdir(dir, { recursive: true });
  const tensors = new Map<string, NamedTensor>();
  for (const [name, shape] of paramShapes(config)) {
    const key = opts.rename ? opts.rename(name) : name;
    if (key) tensors.set(key, { shape, data: weights.get(name)! });
  }
  for (const [k, v] of opts.extra ?? []) tensors.set(k, v);
  await writeSafetensors(`${dir}/model.safetensors`, tensors);
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(configJson(config)));
  await Deno.writeTextFile(`${dir}/vocab.txt`, TINY_VOCAB.join("\n") + "\n");
  await Deno.writeTextFile(`${dir}/tokenizer_config.json`, JSON.stringify({ do_lower_case: true }));
  return { config, weights };
}

/** A temp folder with a tiny checkpoint in `model/` and `n` SMS-format messages in `data.tsv`. */
export async function tinyRunDir(n = 4): Promise<string> {
  const dir = await Deno.makeTempDir();
  await writeTinyCheckpoint(`${dir}/model`);
  await Deno.writeTextFile(`${dir}/data.tsv`, fixtureTsv(n));
  return dir;
}

/** Runs a deno task; returns exit code, stdout and stderr. */
export async function runTask(
  task: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", task, ...args],
    cwd: new URL("..", import.meta.url).pathname,
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp", NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  });
  const out = await cmd.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * Runs a deno task that must fail as a user error: exit 1, exactly one `error:` line matching
 * `pattern`, no stack trace. Returns the run for further checks.
 */
export async function assertCliError(
  task: string,
  args: string[],
  pattern: RegExp,
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await runTask(task, args, env);
  assert.equal(r.code, 1, `${task} ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  const errors = r.stderr.split("\n").filter((l) => l.startsWith("error:"));
  assert.equal(errors.length, 1, `exactly one error line: ${r.stderr}`);
  assert.match(errors[0], pattern);
  assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
  return r;
}

/** Labelled messages in the tiny vocabulary, both classes in every prefix of two or more. */
export const FIXTURE_MESSAGES: [string, string][] = [
  ["ham", "ok lar, meet you later"],
  ["spam", "WIN a FREE prize!!! call now"],
  ["ham", "i call you at home"],
  ["spam", "claim your prize, txt win now"],
  ["ham", "hello world."],
  ["spam", "free txts! claim now"],
  ["ham", "meeting later ok"],
];

/** The first n fixture messages as a `label<TAB>text` file. */
export const fixtureTsv = (n = FIXTURE_MESSAGES.length) =>
  FIXTURE_MESSAGES.slice(0, n).map(([l, t]) => `${l}\t${t}`).join("\n") + "\n";
