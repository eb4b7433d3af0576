/**
 * webgpu-bert as a library: fine-tune BERT encoders for text classification (full, head or LoRA)
 * on WebGPU, evaluate, predict, and save a transformers checkpoint or a PEFT adapter, in Deno or
 * a browser (no Deno API behind this entry; `./deno.ts` adds folders and the HF hub cache).
 *
 * ```ts
 * import { loadFromFiles } from "./mod.ts";
 *
 * // A Hugging Face model folder's files by name (config.json, vocab.txt, model.safetensors …).
 * declare const files: Map<string, Uint8Array>;
 * const clf = await loadFromFiles(files, { seed: 42 });
 * clf.setLabels(["ham", "spam"]);
 * const data = [
 *   { text: "WINNER!! Claim your prize now", label: "spam" },
 *   { text: "see you at 8?", label: "ham" },
 * ];
 * const stop = new AbortController(); // stop.abort() ends the run at the next step
 * const result = await clf.train(data, data, { mode: "lora", epochs: 3, lr: 1e-3 }, {
 *   onStep: (s) => console.log(`step ${s.step}/${s.totalSteps} loss ${s.loss.toFixed(4)}`),
 *   signal: stop.signal,
 * });
 * console.log(result.aborted, result.epochs.at(-1)?.metrics.f1);
 * const [p] = await clf.predict(["Free entry in 2 a wkly comp"]);
 * console.log(p.label, p.probs); // "spam" | "ham", one probability per label
 * const adapter = await clf.adapterFiles(); // adapter_config.json, adapter_model.safetensors
 * console.log([...adapter.keys()]);
 * ```
 *
 * Loading: `loadFromFiles` (bytes in memory), `loadFromUrl` (a folder over HTTP),
 * `loadFromHub` (a hub id, through an optional Cache API cache); in Deno, `loadModel` of
 * `./deno.ts` reads folders, presets and hub ids through the HF cache, and `writeFiles` saves.
 * The engine's parts (model, ops, optimizers, tokenizer, safetensors) are exported below too.
 *
 * Errors: bad model files, options or labels throw `UserError` (one line naming the file or
 * option); WebGPU faults throw `GpuError` at the next readback; no adapter throws `NoAdapterError`.
 * @module
 */

// The library: load, tokenize, train, evaluate, predict, save
export {
  type Checkpoint,
  type InferenceOptions,
  type LabelledText,
  type Prediction,
  TextClassifier,
  type TextInput,
  type TrainCallbacks,
  type TrainOutcome,
} from "./src/lib/classifier.ts";
export {
  type CacheLike,
  fetchModelFiles,
  type FetchOptions,
  type HubOptions,
  loadFromFiles,
  loadFromHub,
  loadFromUrl,
  type LoadOptions,
  MODEL_FILES,
} from "./src/lib/load.ts";
export { defaultMaxLength, resolveTrainConfig, type TrainOptions } from "./src/lib/options.ts";
export {
  type EpochResult,
  type EvalResult,
  LossIsNaN,
  type Mode,
  type ModeResult,
  type ProgressBar,
  type StepInfo,
  type TrainConfig,
} from "./src/train/trainer.ts";
export { type ResumeStore, type TrainerState } from "./src/train/resume_state.ts";
export { checkpointFiles, TOKENIZER_FILES } from "./src/bert/checkpoint_files.ts";
export { adapterFiles, type AdapterSave } from "./src/io/adapter_files.ts";
export { type TokenEncoding } from "./src/bert/tokenizer.ts";
export { type Example } from "./src/data/example.ts";

// The engine: one full fine-tuning step by hand
//
// ```ts
// await initGpu(); // the first WebGPU adapter, with every limit it offers
// const ck = await parseCheckpoint(files, { seed: 42 });
// const model = new BertForSequenceClassification(ck.config, ck.weights);
// const params = [...model.params.values()];
// params.forEach((p) => (p.requiresGrad = true));
// const opt = new AdamW(params, { lr: 5e-5 });
// const batch = makeBatch(texts.map((t) => ck.tokenizer.encode(t, 32)), labels, ck.config.vocabSize);
// const loss = crossEntropy(model.forward(batch, { train: true, dropoutSeed: 0 }), batch.labels!);
// backward(loss);
// opt.step();
// opt.zeroGrad();
// console.log((await loss.read())[0]); // mean cross-entropy of the batch
// endStep(); // frees the step's intermediate tensors
// ```

// GPU runtime and tensors
export { initGpu } from "./src/gpu/kernel.ts";
export { getAdapterName, NoAdapterError } from "./src/gpu/device.ts";
export { type DType, Tensor } from "./src/tensor.ts";
export { backward, endStep, noGrad } from "./src/autograd/tape.ts";
export { GpuError, UserError } from "./src/errors.ts";

// The model, its configuration and files
export {
  BertForSequenceClassification,
  type ForwardOptions,
  type LoraWeights,
} from "./src/bert/model.ts";
export {
  type BertConfig,
  configJson,
  parseConfig,
  parseConfigText,
  presetConfig,
  PRESETS,
} from "./src/bert/config.ts";
export { HEAD_KEYS, paramShapes, randomWeights } from "./src/bert/params.ts";
export { type LoadedCheckpoint, parseCheckpoint } from "./src/bert/checkpoint_files.ts";
export { BertTokenizer } from "./src/bert/tokenizer.ts";
export { parseSafetensors, serializeSafetensors } from "./src/io/safetensors_bytes.ts";
export { type Batch, type Encoding, makeBatch } from "./src/data/batches.ts";

// Training
export { crossEntropy } from "./src/ops/cross_entropy.ts";
export { attachLora, type LoraSpec } from "./src/nn/lora.ts";
export { AdamW, type AdamWOptions } from "./src/optim/adamw.ts";
export { SGD } from "./src/optim/sgd.ts";
export { GradClipper } from "./src/optim/clip.ts";
export { linearWarmupDecay } from "./src/optim/schedule.ts";
export { computeMetrics, type Metrics } from "./src/train/metrics.ts";
