/**
 * webgpu-bert's engine as a library: BERT for sequence classification on WebGPU, trained with
 * its own autograd and WGSL kernels. These modules use no Deno API, so the same code runs in Deno
 * and in a browser bundle (esbuild; the shaders travel as text imports). Model files are taken as
 * bytes (`parseCheckpoint`); reading folders, hub downloads and the CLI stay Deno-only
 * (src/bert/checkpoint.ts `loadCheckpoint`, src/cli/).
 *
 * One full fine-tuning step:
 *
 * ```ts
 * import {
 *   AdamW, backward, BertForSequenceClassification, crossEntropy, endStep, initGpu, makeBatch,
 *   parseCheckpoint,
 * } from "./mod.ts";
 *
 * // A Hugging Face folder's files by name (config.json, vocab.txt, model.safetensors …), the
 * // messages and their labels (0 ham, 1 spam).
 * declare const files: Map<string, Uint8Array>, texts: string[], labels: number[];
 *
 * await initGpu(); // the first WebGPU adapter, with every limit it offers
 * const ck = await parseCheckpoint(files, { seed: 42 });
 * const model = new BertForSequenceClassification(ck.config, ck.weights);
 * const params = [...model.params.values()];
 * params.forEach((p) => (p.requiresGrad = true));
 * const opt = new AdamW(params, { lr: 5e-5 });
 * const batch = makeBatch(texts.map((t) => ck.tokenizer.encode(t, 32)), labels, ck.config.vocabSize);
 * const loss = crossEntropy(model.forward(batch, { train: true, dropoutSeed: 0 }), batch.labels!);
 * backward(loss);
 * opt.step();
 * opt.zeroGrad();
 * console.log((await loss.read())[0]); // mean cross-entropy of the batch
 * endStep(); // frees the step's intermediate tensors
 * ```
 *
 * Errors: bad model files throw `UserError` (one line naming the file); WebGPU faults throw
 * `GpuError` at the next readback; no adapter throws `NoAdapterError`.
 * @module
 */

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
export { parseSafetensors, serializeSafetensors } from "./src/io/safetensors.ts";
export { type Batch, type Encoding, makeBatch } from "./src/data/batches.ts";

// Training
export { crossEntropy } from "./src/ops/cross_entropy.ts";
export { attachLora, type LoraSpec } from "./src/nn/lora.ts";
export { AdamW, type AdamWOptions } from "./src/optim/adamw.ts";
export { SGD } from "./src/optim/sgd.ts";
export { GradClipper } from "./src/optim/clip.ts";
export { linearWarmupDecay } from "./src/optim/schedule.ts";
export { computeMetrics, type Metrics } from "./src/train/metrics.ts";
