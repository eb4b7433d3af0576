/**
 * webgpu-bert's Deno-only entry: everything of mod.ts, plus models from folders, presets and hub
 * ids (through the Hugging Face cache, as the CLI), PEFT adapter folders, files written
 * atomically, and resume state in checkpoint-<step>/ folders.
 *
 * ```ts
 * import { loadModel, writeFiles } from "./deno.ts";
 *
 * const clf = await loadModel("bert-base-uncased"); // a folder, a preset or a hub id
 * const result = await clf.train(
 *   [{ text: "WINNER!! Claim your prize", label: 1 }, { text: "see you at 8?", label: 0 }],
 *   [{ text: "free entry, text WIN", label: 1 }, { text: "on my way", label: 0 }],
 *   { mode: "head", epochs: 1 },
 * );
 * console.log(result.epochs[0].metrics.accuracy);
 * await writeFiles("runs/head", await clf.checkpointFiles());
 * ```
 * @module
 */
export * from "./mod.ts";
export {
  type FolderLoadOptions,
  folderResumeStore,
  loadModel,
  writeFiles,
} from "./src/lib/deno.ts";
