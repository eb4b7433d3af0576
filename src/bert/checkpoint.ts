// Hugging Face model folders in and out: config.json, model.safetensors, tokenizer files.
import { UserError } from "../errors.ts";
import { type BertConfig, parseConfigText, presetConfig, PRESETS } from "./config.ts";
import { BertTokenizer } from "./tokenizer.ts";
import { readSafetensorsAll } from "../io/safetensors.ts";
import { readShardedSafetensors, type SourcedTensor } from "../io/safetensors_index.ts";
import { readFlaxMsgpack } from "../io/flax_msgpack.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { exists, fetchHubModel, hubCacheDir } from "../io/download.ts";
import type { BertForSequenceClassification } from "./model.ts";
import {
  checkpointFiles,
  checkVocabulary,
  FOREIGN_WEIGHTS,
  type LoadedCheckpoint,
  randomInit,
  TOKENIZER_FILES,
  weightsOrInit,
} from "./checkpoint_files.ts";

export { canonicalKey, type LoadedCheckpoint, parseCheckpoint } from "./checkpoint_files.ts";

/** A folder's config.json, parsed and validated. */
export async function readConfig(dir: string): Promise<BertConfig> {
  const file = `${dir}/config.json`;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch {
    throw new UserError(`${file}: not found (a model folder needs config.json)`);
  }
  return parseConfigText(text, file);
}

/** Reads a model folder's tokenizer: tokenizer.json if present, else vocab.txt (+ config). */
export function readTokenizer(dir: string): Promise<BertTokenizer> {
  return BertTokenizer.fromReader(async (f) => {
    try {
      return await Deno.readTextFile(`${dir}/${f}`);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw new UserError(`${dir}/${f}: ${(e as Error).message}`);
    }
  }, dir);
}

export const DEFAULT_TOKENIZER =
  new URL("../../../shared/models/bert-base-uncased", import.meta.url).pathname;

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

/**
 * A preset's vocabulary: bert-base-uncased's beside the checkout, else from the hub cache, else a
 * one-line error saying how to get one.
 */
export async function presetTokenizer(preset: string): Promise<string> {
  if (await exists(DEFAULT_TOKENIZER)) return DEFAULT_TOKENIZER;
  const cached = hubCacheDir("bert-base-uncased");
  if (await exists(`${cached}/vocab.txt`)) return cached;
  throw new UserError(
    `preset ${preset} takes its vocabulary from a BERT tokenizer folder, and neither ` +
      `${DEFAULT_TOKENIZER} nor the hub cache has bert-base-uncased: pass --tokenizer DIR (a ` +
      `folder with vocab.txt), or run once with --model bert-base-uncased to download it`,
  );
}

export interface LoadOptions {
  seed: number;
  tokenizerDir?: string;
  warn?: (msg: string) => void;
}

export async function loadCheckpoint(spec: string, opts: LoadOptions): Promise<LoadedCheckpoint> {
  const warn = opts.warn ?? ((m: string) => console.error(m));
  if (spec in PRESETS && !(await exists(spec))) {
    const tokenizerDir = opts.tokenizerDir ?? (await presetTokenizer(spec));
    const tokenizer = await readTokenizer(tokenizerDir);
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
  const tokenizer = await readTokenizer(tokenizerDir);
  checkVocabulary(config, tokenizer, `${spec}/config.json`, tokenizerDir);
  const stored = await readWeightFiles(spec);
  return { ...weightsOrInit(config, stored, spec, opts.seed, warn), tokenizer, tokenizerDir };
}

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

/** The tokenizer files (TOKENIZER_FILES) present in `dir`, as bytes. */
export async function readTokenizerFiles(dir: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const f of TOKENIZER_FILES) {
    if (await exists(`${dir}/${f}`)) out.set(f, await Deno.readFile(`${dir}/${f}`));
  }
  return out;
}

/** A plain transformers checkpoint folder (checkpointFiles, each file written atomically). */
export async function saveCheckpoint(
  dir: string,
  model: BertForSequenceClassification,
  tokenizerDir: string,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const files = await checkpointFiles(model, await readTokenizerFiles(tokenizerDir));
  for (const [name, bytes] of files) await writeFileAtomic(`${dir}/${name}`, bytes);
}
