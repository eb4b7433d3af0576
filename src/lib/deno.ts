// The library's Deno-only part: models from folders, presets and hub ids through the HF cache
// (src/bert/checkpoint.ts, as the CLI loads them), PEFT adapter folders, and files written to a
// folder atomically. A browser bundle never imports this module.
import { UserError } from "../errors.ts";
import { initGpu } from "../gpu/kernel.ts";
import { loadCheckpoint, type LoadedCheckpoint, readTokenizerFiles } from "../bert/checkpoint.ts";
import { BertForSequenceClassification } from "../bert/model.ts";
import { applyAdapterLabels, loadAdapter } from "../io/peft.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { TextClassifier } from "./classifier.ts";

export { folderResumeStore } from "../train/checkpointing.ts";

export interface FolderLoadOptions {
  /** Seeds a fresh classifier (or every weight of a preset) (default 42). */
  seed?: number;
  /** A folder with vocab.txt or tokenizer.json (default: the model folder). */
  tokenizer?: string;
  /** A PEFT LoRA adapter folder applied for inference (its labels too). */
  adapter?: string;
  /** Warnings and notes; default console.error. */
  warn?: (msg: string) => void;
}

/**
 * A model as `deno task train --model` takes it: a Hugging Face folder (model.safetensors,
 * sharded safetensors or Flax msgpack), a preset name (bert-tiny … bert-base, random init), or a
 * hub id (the HF cache, downloading what is missing; HF_ENDPOINT, HF_TOKEN, HF_HOME).
 * With `adapter`, the adapter is applied (the classifier's mode is then null).
 * @throws UserError naming the file and the problem.
 */
export async function loadModel(
  spec: string,
  opts: FolderLoadOptions = {},
): Promise<TextClassifier<LoadedCheckpoint>> {
  const seed = opts.seed ?? 42;
  const ck = await loadCheckpoint(spec, { seed, tokenizerDir: opts.tokenizer, warn: opts.warn });
  if (opts.adapter) await applyAdapterLabels(ck, opts.adapter, seed);
  const clf = new TextClassifier(ck, await readTokenizerFiles(ck.tokenizerDir));
  if (opts.adapter) {
    await initGpu();
    const model = new BertForSequenceClassification(ck.config, ck.weights);
    try {
      await loadAdapter(opts.adapter, model, opts.warn);
    } catch (e) {
      model.release();
      throw e;
    }
    clf.useModel(model);
  }
  return clf;
}

/**
 * Writes files (name → bytes, e.g. checkpointFiles or adapterFiles) into `dir`, creating it; each
 * file goes to a temporary name first and is renamed into place.
 */
export async function writeFiles(dir: string, files: Map<string, Uint8Array>): Promise<void> {
  for (const name of files.keys()) {
    if (name.includes("/") || name === "." || name === "..") {
      throw new UserError(`${dir}: ${name} is not a plain file name`);
    }
  }
  await Deno.mkdir(dir, { recursive: true });
  for (const [name, bytes] of files) await writeFileAtomic(`${dir}/${name}`, bytes);
}
