// A model's files in memory (name → bytes), read with every check a folder gets: what a browser
// holds after a file picker or fetch. No file system here; src/bert/checkpoint.ts reads folders
// and the hub (Deno) and shares these checks.
import { UserError } from "../errors.ts";
import { type BertConfig, configJson, parseConfigText } from "./config.ts";
import type { BertForSequenceClassification } from "./model.ts";
import { HEAD_KEYS, initParam, paramShapes, randomWeights } from "./params.ts";
import { BertTokenizer } from "./tokenizer.ts";
import { deriveSeed, Rng } from "../nn/init.ts";
import { FLOAT_DTYPES, parseSafetensors, serializeSafetensors } from "../io/safetensors_bytes.ts";
import type { SourcedTensor } from "../io/safetensors_index.ts";

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

/** transformers does not check this at load; torch then fails on the first id past the table. */
export function checkVocabulary(
  config: BertConfig,
  tokenizer: BertTokenizer,
  configFile: string,
  tokenizerDir: string,
): void {
  if (tokenizer.tokens.length > config.vocabSize) {
    throw new UserError(
      `${configFile}: vocab_size ${config.vocabSize} is smaller than the tokenizer's ${tokenizer.tokens.length} tokens (${tokenizerDir}); ids from ${config.vocabSize} up have no embedding row`,
    );
  }
}

/** The stored weights, checked (pickWeights), or every weight from `seed` when none are stored. */
export function weightsOrInit(
  config: BertConfig,
  stored: { file: string; tensors: Map<string, SourcedTensor> } | null,
  source: string,
  seed: number,
  warn: (m: string) => void,
) {
  if (!stored) {
    warn(
      `warning: ${source} has no model.safetensors: every weight is randomly initialised (seed ${seed})`,
    );
    return { config, ...randomInit(config, seed), source };
  }
  const { weights, newlyInitialized, unused } = pickWeights(
    stored.tensors,
    stored.file,
    config,
    seed,
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
      `note: ${stored.file} has no classifier; newly initialised from seed ${seed}: ${
        newlyInitialized.join(", ")
      }`,
    );
  }
  return { config, weights, newlyInitialized, source };
}

/** Weight files transformers reads that this engine cannot, with the from_pretrained flag. */
export const FOREIGN_WEIGHTS: [file: string, framework: string, flag: string][] = [
  ["pytorch_model.bin", "PyTorch", ""],
  ["pytorch_model.bin.index.json", "PyTorch", ""],
  ["tf_model.h5", "TensorFlow", ", from_tf=True"],
  ["tf_model.h5.index.json", "TensorFlow", ", from_tf=True"],
  ["flax_model.msgpack.index.json", "Flax", ", from_flax=True"],
];

/**
 * Why a weight file other than model.safetensors is not read where `where` says (files in
 * memory, or fetched from a URL or the hub), or null when `name` is no such file. Without this a
 * model holding only such weights would silently train from a random initialisation.
 */
export function otherWeightsProblem(name: string, where: "memory" | "url"): string | null {
  if (name === "model.safetensors.index.json" || name === "flax_model.msgpack") {
    return where === "memory"
      ? "read from a folder only; in memory, model.safetensors"
      : "read from a folder only: download the model's folder and load that (--model DIR)";
  }
  const foreign = FOREIGN_WEIGHTS.find(([file]) => file === name);
  return foreign
    ? `${
      foreign[1]
    } weights, which this engine cannot read; convert them to model.safetensors (transformers: from_pretrained(…).save_pretrained(…, safe_serialization=True))`
    : null;
}

/** Every file name otherWeightsProblem refuses, for probing a URL or the hub. */
export const OTHER_WEIGHTS: readonly string[] = [
  "model.safetensors.index.json",
  "flax_model.msgpack",
  ...FOREIGN_WEIGHTS.map(([file]) => file),
];

/**
 * A model folder's files already in memory (name → bytes: what a browser gets from a file picker
 * or fetch), read with the checks of loadCheckpoint: config.json, the tokenizer files
 * (vocab.txt or tokenizer.json, tokenizer_config.json) and model.safetensors (random init from
 * `seed`, with a warning, when absent). Sharded and Flax weights are read from a folder only.
 * @param source names the files in errors ("<source>/config.json: …").
 * @throws UserError for a missing or invalid file, as loadCheckpoint.
 */
export async function parseCheckpoint(
  files: Map<string, Uint8Array>,
  opts: { seed: number; source?: string; warn?: (msg: string) => void },
): Promise<Omit<LoadedCheckpoint, "tokenizerDir">> {
  const source = opts.source ?? "model files";
  const warn = opts.warn ?? ((m: string) => console.error(m));
  const configBytes = files.get("config.json");
  if (!configBytes) {
    throw new UserError(`${source}/config.json: not found (a model needs config.json)`);
  }
  const config = parseConfigText(new TextDecoder().decode(configBytes), `${source}/config.json`);
  const tokenizer = await BertTokenizer.fromFiles(files, source);
  checkVocabulary(config, tokenizer, `${source}/config.json`, source);
  if (!files.has("model.safetensors")) {
    const other = [...files.keys()].find((name) => otherWeightsProblem(name, "memory"));
    if (other) throw new UserError(`${source}/${other}: ${otherWeightsProblem(other, "memory")}`);
  }
  const bytes = files.get("model.safetensors");
  let stored = null;
  if (bytes) {
    const file = `${source}/model.safetensors`;
    const tensors = new Map<string, SourcedTensor>();
    for (const [k, t] of parseSafetensors(bytes, file)) tensors.set(k, { ...t, file });
    stored = { file, tensors };
  }
  return { ...weightsOrInit(config, stored, source, opts.seed, warn), tokenizer };
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

export function randomInit(config: BertConfig, seed: number) {
  const weights = randomWeights(config, seed);
  return { weights, newlyInitialized: [...weights.keys()] };
}

/** The tokenizer files a checkpoint carries (copied as they are, byte for byte). */
export const TOKENIZER_FILES = [
  "vocab.txt",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
];

/**
 * A plain transformers checkpoint as files (name → bytes): model.safetensors (F32, metadata
 * format "pt"), config.json (with num_labels' id2label and label2id) and the tokenizer files
 * found in `tokenizerFiles`, in the order saveCheckpoint writes them.
 */
export async function checkpointFiles(
  model: BertForSequenceClassification,
  tokenizerFiles: Map<string, Uint8Array>,
): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  out.set("model.safetensors", serializeSafetensors(await model.readWeights(), { format: "pt" }));
  // As writeJsonAtomic writes JSON: two-space indent and a final newline.
  const config = JSON.stringify(configJson(model.config), null, 2) + "\n";
  out.set("config.json", new TextEncoder().encode(config));
  for (const f of TOKENIZER_FILES) {
    const bytes = tokenizerFiles.get(f);
    if (bytes) out.set(f, bytes);
  }
  return out;
}
