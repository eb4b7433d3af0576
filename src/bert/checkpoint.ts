// Hugging Face model folders in and out: config.json, model.safetensors, tokenizer files.
import { UserError } from "../errors.ts";
import { type BertConfig, configJson, presetConfig, PRESETS, readConfig } from "./config.ts";
import { HEAD_KEYS, initParam, paramShapes } from "./params.ts";
import { BertTokenizer } from "./tokenizer.ts";
import { deriveSeed, Rng } from "../nn/init.ts";
import { FLOAT_DTYPES, readSafetensorsAll, writeSafetensors } from "../io/safetensors.ts";
import { readShardedSafetensors, type SourcedTensor } from "../io/safetensors_index.ts";
import { readFlaxMsgpack } from "../io/flax_msgpack.ts";
import { writeJsonAtomic } from "../io/atomic.ts";
import { exists, fetchHubModel, hubCacheDir } from "../io/download.ts";
import type { BertForSequenceClassification } from "./model.ts";

export const DEFAULT_TOKENIZER =
  new URL("../../../shared/models/bert-base-uncased", import.meta.url).pathname;
const TOKENIZER_FILES = [
  "vocab.txt",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
];

export interface LoadedCheckpoint {
  config: BertConfig;
  weights: Map<string, Float32Array>;
  tokenizer: BertTokenizer;
  tokenizerDir: string;
  /** Keys initialised here rather than read (a fresh head, or everything on random init). */
  newlyInitialized: string[];
  source: string;
}

/** transformers' names from older or headless checkpoints: gamma/beta, no "bert." prefix. */
export function canonicalKey(key: string): string | null {
  let k = key.replace(/\.gamma$/, ".weight").replace(/\.beta$/, ".bias");
  if (/^(embeddings|encoder|pooler)\./.test(k)) k = `bert.${k}`;
  return k.startsWith("bert.") || k.startsWith("classifier.") ? k : null;
}

/** A Hugging Face hub id such as bert-base-uncased or google/bert_uncased_L-2_H-128_A-2. */
const HUB_ID = /^[\w.-]+(\/[\w.-]+)?$/;

/** The hub cache, else the copy beside the checkout (bert-base-uncased), else a download. */
async function resolveHubModel(repoId: string, log: (m: string) => void): Promise<string> {
  const cached = hubCacheDir(repoId);
  if (await exists(`${cached}/config.json`)) return cached;
  const mirror = new URL(`../../../shared/models/${repoId}`, import.meta.url).pathname;
  if (await exists(`${mirror}/config.json`)) return mirror;
  return await fetchHubModel(repoId, log);
}

export interface LoadOptions {
  seed: number;
  tokenizerDir?: string;
  warn?: (msg: string) => void;
}

export async function loadCheckpoint(spec: string, opts: LoadOptions): Promise<LoadedCheckpoint> {
  const warn = opts.warn ?? ((m: string) => console.error(m));
  if (spec in PRESETS && !(await exists(spec))) {
    const tokenizerDir = opts.tokenizerDir ?? DEFAULT_TOKENIZER;
    const tokenizer = await BertTokenizer.fromDir(tokenizerDir);
    const config = presetConfig(spec, tokenizer.tokens.length);
    return {
      config,
      tokenizer,
      tokenizerDir,
      ...randomInit(config, opts.seed),
      source: `preset ${spec}`,
    };
  }
  if (!(await exists(spec))) {
    if (!HUB_ID.test(spec) || spec.startsWith(".")) {
      throw new UserError(
        `${spec}: no such model folder (and not a preset: ${Object.keys(PRESETS).join(", ")})`,
      );
    }
    return loadCheckpoint(await resolveHubModel(spec, warn), opts);
  }
  const config = await readConfig(spec);
  const tokenizerDir = opts.tokenizerDir ?? spec;
  const tokenizer = await BertTokenizer.fromDir(tokenizerDir);
  // transformers does not check this at load; torch then fails on the first id past the table.
  if (tokenizer.tokens.length > config.vocabSize) {
    throw new UserError(
      `${spec}/config.json: vocab_size ${config.vocabSize} is smaller than the tokenizer's ${tokenizer.tokens.length} tokens (${tokenizerDir}); ids from ${config.vocabSize} up have no embedding row`,
    );
  }
  const stored = await readWeightFiles(spec);
  if (!stored) {
    warn(
      `warning: ${spec} has no model.safetensors: every weight is randomly initialised (seed ${opts.seed})`,
    );
    return { config, tokenizer, tokenizerDir, ...randomInit(config, opts.seed), source: spec };
  }
  const { weights, newlyInitialized, unused } = pickWeights(
    stored.tensors,
    stored.file,
    config,
    opts.seed,
  );
  if (unused.length) {
    warn(
      `warning: ${stored.file}: ${unused.length} tensor(s) of no parameter of the model config.json describes, not used: ${
        unused.slice(0, 3).join(", ")
      }${unused.length > 3 ? ", …" : ""}`,
    );
  }
  if (newlyInitialized.length) {
    warn(
      `note: ${stored.file} has no classifier; newly initialised from seed ${opts.seed}: ${
        newlyInitialized.join(", ")
      }`,
    );
  }
  return { config, weights, tokenizer, tokenizerDir, newlyInitialized, source: spec };
}

/** Weight files transformers reads that this engine cannot, with the from_pretrained flag. */
const FOREIGN_WEIGHTS: [file: string, framework: string, flag: string][] = [
  ["pytorch_model.bin", "PyTorch", ""],
  ["pytorch_model.bin.index.json", "PyTorch", ""],
  ["tf_model.h5", "TensorFlow", ", from_tf=True"],
  ["tf_model.h5.index.json", "TensorFlow", ", from_tf=True"],
  ["flax_model.msgpack.index.json", "Flax", ", from_flax=True"],
];

/**
 * The folder's weights in transformers' order of preference: model.safetensors, then
 * model.safetensors.index.json with its shards, then flax_model.msgpack (npm @msgpack/msgpack).
 * A folder with PyTorch or TensorFlow weights (or sharded Flax) is refused with the command that
 * converts them: no maintained npm library reads torch pickles, and TF's HDF5 layout would need
 * its own mapping. Null when the folder holds no weights at all.
 */
async function readWeightFiles(
  dir: string,
): Promise<{ file: string; tensors: Map<string, SourcedTensor> } | null> {
  const single = `${dir}/model.safetensors`;
  if (await exists(single)) {
    const tensors = new Map<string, SourcedTensor>();
    for (const [k, t] of await readSafetensorsAll(single)) tensors.set(k, { ...t, file: single });
    return { file: single, tensors };
  }
  const index = `${dir}/model.safetensors.index.json`;
  if (await exists(index)) return { file: index, tensors: await readShardedSafetensors(index) };
  for (const [file, framework, flag] of FOREIGN_WEIGHTS) {
    if (await exists(`${dir}/${file}`)) {
      throw new UserError(
        `${dir}: holds ${framework} weights only (${file}), which this engine cannot read; convert them to model.safetensors with: python -c "from transformers import AutoModelForSequenceClassification as M; M.from_pretrained('${dir}'${flag}).save_pretrained('${dir}', safe_serialization=True)"`,
      );
    }
  }
  // Last, as in transformers' order; read as from_pretrained(dir, from_flax=True) reads it.
  const flax = `${dir}/flax_model.msgpack`;
  if (await exists(flax)) {
    const tensors = new Map<string, SourcedTensor>();
    for (const [k, t] of await readFlaxMsgpack(flax)) tensors.set(k, { ...t, file: flax });
    return { file: flax, tensors };
  }
  return null;
}

/**
 * The model's parameters from the stored tensors, checked one by one: present (or the head,
 * initialised from the seed), a floating-point dtype, the shape config.json implies, finite.
 * @param source the file named in errors about a missing tensor.
 */
function pickWeights(
  stored: Map<string, SourcedTensor>,
  source: string,
  config: BertConfig,
  seed: number,
) {
  const found = new Map<string, SourcedTensor & { key: string }>();
  for (const [key, t] of stored) {
    const k = canonicalKey(key);
    if (!k) continue;
    const twin = found.get(k);
    if (twin) {
      throw new UserError(`${t.file}: tensors ${twin.key} and ${key} are both ${k}`);
    }
    found.set(k, { ...t, key });
  }
  const weights = new Map<string, Float32Array>();
  const newlyInitialized: string[] = [];
  const headRng = new Rng(deriveSeed(seed, "classifier"));
  for (const [name, shape] of paramShapes(config)) {
    const t = found.get(name);
    if (!t) {
      if (!HEAD_KEYS.includes(name)) throw new UserError(`${source}: missing tensor ${name}`);
      weights.set(name, initParam(name, shape, config, headRng));
      newlyInitialized.push(name);
      continue;
    }
    if (!t.data) {
      throw new UserError(
        `${t.file}: tensor ${t.key} has dtype ${t.dtype}; weights must be floating point (${
          FLOAT_DTYPES.join(", ")
        })`,
      );
    }
    if (t.shape.join(",") !== shape.join(",")) {
      throw new UserError(
        `${t.file}: tensor ${t.key} has shape [${t.shape}], config.json implies [${shape}]`,
      );
    }
    const bad = t.data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new UserError(
        `${t.file}: tensor ${t.key} holds ${t.data[bad]} at element ${bad}; weights must be finite`,
      );
    }
    weights.set(name, t.data);
  }
  // transformers warns about checkpoint weights the model does not use; a tensor of this model's
  // own modules left over (a layer past num_hidden_layers) means config.json disagrees with it.
  const unused = [...found.entries()]
    .filter(([name]) => !weights.has(name) && !name.endsWith(".position_ids"))
    .map(([, t]) => t.key);
  return { weights, newlyInitialized, unused };
}

function randomInit(config: BertConfig, seed: number) {
  const rng = new Rng(deriveSeed(seed, "init"));
  const headRng = new Rng(deriveSeed(seed, "classifier"));
  const weights = new Map<string, Float32Array>();
  for (const [name, shape] of paramShapes(config)) {
    weights.set(name, initParam(name, shape, config, HEAD_KEYS.includes(name) ? headRng : rng));
  }
  return { weights, newlyInitialized: [...weights.keys()] };
}

export async function copyTokenizerFiles(fromDir: string, toDir: string): Promise<void> {
  for (const f of TOKENIZER_FILES) {
    if (await exists(`${fromDir}/${f}`)) await Deno.copyFile(`${fromDir}/${f}`, `${toDir}/${f}`);
  }
}

/** A plain transformers checkpoint folder: config.json, model.safetensors, tokenizer files. */
export async function saveCheckpoint(
  dir: string,
  model: BertForSequenceClassification,
  tokenizerDir: string,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await writeSafetensors(`${dir}/model.safetensors`, await model.readWeights(), { format: "pt" });
  await writeJsonAtomic(`${dir}/config.json`, configJson(model.config));
  await copyTokenizerFiles(tokenizerDir, dir);
}
