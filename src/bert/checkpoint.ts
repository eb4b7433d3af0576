// Hugging Face model folders in and out: config.json, model.safetensors, tokenizer files.
import { UserError } from "../errors.ts";
import { type BertConfig, configJson, presetConfig, PRESETS, readConfig } from "./config.ts";
import { HEAD_KEYS, initParam, paramShapes } from "./params.ts";
import { BertTokenizer } from "./tokenizer.ts";
import { deriveSeed, Rng } from "../nn/init.ts";
import { type NamedTensor, readSafetensors, writeSafetensors } from "../io/safetensors.ts";
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
  const file = `${spec}/model.safetensors`;
  if (!(await exists(file))) {
    warn(
      `warning: ${spec} has no model.safetensors: every weight is randomly initialised (seed ${opts.seed})`,
    );
    return { config, tokenizer, tokenizerDir, ...randomInit(config, opts.seed), source: spec };
  }
  const raw = await readSafetensors(file);
  const found = new Map<string, NamedTensor>();
  for (const [key, t] of raw) {
    const k = canonicalKey(key);
    if (k) found.set(k, t);
  }
  const weights = new Map<string, Float32Array>();
  const newlyInitialized: string[] = [];
  const headRng = new Rng(deriveSeed(opts.seed, "classifier"));
  for (const [name, shape] of paramShapes(config)) {
    const t = found.get(name);
    if (!t) {
      if (!HEAD_KEYS.includes(name)) throw new UserError(`${file}: missing tensor ${name}`);
      weights.set(name, initParam(name, shape, config, headRng));
      newlyInitialized.push(name);
      continue;
    }
    if (t.shape.join(",") !== shape.join(",")) {
      throw new UserError(
        `${file}: tensor ${name} has shape [${t.shape}], config.json implies [${shape}]`,
      );
    }
    weights.set(name, t.data);
  }
  if (newlyInitialized.length) {
    warn(
      `note: ${file} has no classifier; newly initialised from seed ${opts.seed}: ${
        newlyInitialized.join(", ")
      }`,
    );
  }
  return { config, weights, tokenizer, tokenizerDir, newlyInitialized, source: spec };
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
