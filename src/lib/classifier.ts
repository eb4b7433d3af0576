// The library's model handle: a loaded checkpoint and its tokenizer, trained in one of the three
// modes, evaluated, asked for predictions and saved as files in memory. No Deno API: the same
// class runs in a browser; src/lib/deno.ts adds folders and the hub cache.
import { initGpu } from "../gpu/kernel.ts";
import { UserError } from "../errors.ts";
import type { BertConfig } from "../bert/config.ts";
import { BertForSequenceClassification } from "../bert/model.ts";
import type { BertTokenizer, TokenEncoding } from "../bert/tokenizer.ts";
import { checkpointFiles, type LoadedCheckpoint } from "../bert/checkpoint_files.ts";
import { adapterFiles } from "../io/adapter_files.ts";
import type { LoraSpec } from "../nn/lora.ts";
import { applyLabels } from "../data/labels.ts";
import type { Example } from "../data/example.ts";
import { encodeExample } from "../data/pairs.ts";
import { predictLogits, softmax } from "../train/inference.ts";
import { computeMetrics, type Metrics } from "../train/metrics.ts";
import {
  type EpochResult,
  type EvalResult,
  type Mode,
  type ModeResult,
  type ProgressBar,
  type StepInfo,
  trainMode,
} from "../train/trainer.ts";
import type { ResumeStore } from "../train/resume_state.ts";
import {
  checkMaxLength,
  defaultMaxLength,
  resolveTrainConfig,
  type TrainOptions,
} from "./options.ts";

/** A text (or text pair) and its label: an id into `labels`, or the label's name. */
export interface LabelledText {
  text: string;
  /** The second text of a sentence pair. */
  textPair?: string;
  label: number | string;
  /** Where it came from (a line or row number), for error messages; default its index + 1. */
  line?: number;
}

/** A text to classify: the text, or a sentence pair. */
export type TextInput = string | { text: string; textPair?: string };

export interface Prediction {
  /** The most probable label's name (config.json's id2label; its id when unnamed). */
  label: string;
  labelId: number;
  /** Softmax probabilities, one per label in id order (sum 1). */
  probs: number[];
  /** The classifier's raw outputs, one per label. */
  logits: number[];
}

export interface InferenceOptions {
  /** Tokens per text (default 32, or max_position_embeddings when smaller). */
  maxLength?: number;
  /** Texts per batch; each batch is one GPU readback (default 64). */
  batchSize?: number;
  /** Called after each batch with the number of texts done. */
  onBatch?: (done: number) => void;
}

/** Callbacks and controls of one training run; every one is optional. */
export interface TrainCallbacks {
  /**
   * Once per optimizer step, in order, with the step's loss (nats), the step count and total,
   * examples and tokens so far, the seconds elapsed and an ETA at the rate so far.
   * Called when the loss is read back: every `logEvery` steps (and at step 1).
   */
  onStep?: (info: StepInfo) => void;
  /** After every validation pass (each epoch's end, and every evalSteps). The model is savable. */
  onEvaluate?: (
    evaluation: EvalResult,
    sofar: ModeResult,
    improved: boolean,
  ) => Promise<void> | void;
  /** After each epoch's validation. */
  onEpoch?: (epoch: EpochResult, sofar: ModeResult) => Promise<void> | void;
  /** Stops at the next step boundary: the result says `aborted`, the model keeps its weights. */
  signal?: AbortSignal;
  /** The trainer's log lines (class weights, early stopping, epoch summaries); default none. */
  log?: (line: string) => void;
  /** A progress display for epochs ("train") and validation passes ("eval"); default none. */
  progressBar?: (label: string, total: number, kind: "train" | "eval") => ProgressBar;
  /** Where resume state is saved at each evaluation (the CLI's: checkpoint-<step>/ folders). */
  resumeStore?: ResumeStore;
  /** Continue from resumeStore's newest state (the same options and data). */
  resume?: boolean;
}

/** What a training run gives back: the trainer's result, and whether the signal stopped it. */
export interface TrainOutcome extends ModeResult {
  /** True when `signal` stopped the run before its last step (`abortedAtStep` says where). */
  aborted: boolean;
}

/** The loaded model files: a checkpoint (LoadedCheckpoint less its folder) and tokenizer bytes. */
export type Checkpoint = Omit<LoadedCheckpoint, "tokenizerDir"> & { tokenizerDir?: string };

/**
 * A BERT sequence classifier and its tokenizer. Get one from `loadFromFiles`, `loadFromUrl`,
 * `loadFromHub` (mod.ts) or `loadModel` (deno.ts, folders). Each `train` call starts from the
 * loaded weights (as the CLI trains each mode from the same start); `predict`, `evaluate`,
 * `checkpointFiles` and `adapterFiles` use the last trained model, else the loaded one.
 * GPU work needs WebGPU: the first call that needs it runs initGpu().
 */
export class TextClassifier<C extends Checkpoint = Checkpoint> {
  #model: BertForSequenceClassification | null = null;
  #mode: Mode | null = null;
  #lora: LoraSpec | null = null;

  /**
   * @param checkpoint config, weights (name → F32), tokenizer and source name.
   * @param tokenizerFiles the tokenizer files as loaded, copied into saved checkpoints as they are.
   */
  constructor(
    readonly checkpoint: C,
    readonly tokenizerFiles: Map<string, Uint8Array>,
  ) {}

  get config(): BertConfig {
    return this.checkpoint.config;
  }

  get tokenizer(): BertTokenizer {
    return this.checkpoint.tokenizer;
  }

  /** Where the model came from (a folder, URL, hub id or "model files"). */
  get source(): string {
    return this.checkpoint.source;
  }

  /** The label names in id order (config.json's id2label; the id itself when unnamed). */
  get labels(): string[] {
    const c = this.config;
    return Array.from({ length: c.numLabels }, (_, i) => c.id2label[String(i)] ?? String(i));
  }

  /** The mode of the last training run, or null before any (or after loading an adapter). */
  get mode(): Mode | null {
    return this.#mode;
  }

  /**
   * Gives the model these labels (ids in this order): num_labels, id2label and label2id as
   * transformers writes them; a classifier of another size is replaced by a fresh one from `seed`
   * (transformers' ignore_mismatched_sizes), and `note` says so. Drops a trained model.
   */
  setLabels(names: string[], seed = 42, note: (msg: string) => void = () => {}): void {
    if (!names.length || new Set(names).size !== names.length || names.some((n) => !n)) {
      throw new UserError(`labels must be distinct non-empty names, got ${JSON.stringify(names)}`);
    }
    this.#drop();
    applyLabels(this.checkpoint as LoadedCheckpoint, names, seed, note);
  }

  /** The default tokens per text: 32, or max_position_embeddings when smaller. */
  get defaultMaxLength(): number {
    return defaultMaxLength(this.config);
  }

  /**
   * Token ids, attention mask and token type ids of a text or pair, padded or truncated to
   * `maxLength` (pairs longest_first, as Hugging Face's tokenizer).
   */
  tokenize(text: string, textPair?: string, maxLength = this.defaultMaxLength): TokenEncoding {
    checkMaxLength(maxLength, this.config);
    return textPair === undefined
      ? this.tokenizer.encode(text, maxLength)
      : this.tokenizer.encodePair(text, textPair, maxLength);
  }

  /** The examples with label ids; UserError names an unknown label and where it came from. */
  examples(items: LabelledText[], what = "examples"): Example[] {
    const names = this.labels;
    return items.map((x, i) => {
      const line = x.line ?? i + 1;
      const label = typeof x.label === "number" ? x.label : names.indexOf(x.label);
      if (!Number.isInteger(label) || label < 0 || label >= names.length) {
        throw new UserError(
          `${what} ${line}: label ${JSON.stringify(x.label)} is not one of the model's labels (${
            names.join(", ")
          })`,
        );
      }
      if (typeof x.text !== "string" || x.text.trim() === "") {
        throw new UserError(`${what} ${line}: no text`);
      }
      return {
        text: x.text,
        ...(x.textPair !== undefined ? { textPair: x.textPair } : {}),
        label,
        line,
      };
    });
  }

  /**
   * Fine-tunes from the loaded weights in `options.mode` on `train`, validating on `val` after
   * each epoch (and every evalSteps). Resolves when the run ends: its last step, early stopping,
   * or `callbacks.signal` (then `aborted` is true and the model holds the last step's weights).
   * @throws UserError for a bad option or label, or a loss that became NaN (LossIsNaN).
   */
  async train(
    train: LabelledText[],
    val: LabelledText[],
    options: TrainOptions,
    callbacks: TrainCallbacks = {},
  ): Promise<TrainOutcome> {
    const cfg = resolveTrainConfig(options, this.config);
    const trainEx = this.examples(train, "training example");
    const valEx = this.examples(val, "validation example");
    if (!trainEx.length) throw new UserError("train: no training examples");
    if (!valEx.length) throw new UserError("train: no validation examples");
    await initGpu();
    this.#drop();
    // The model in training is this classifier's from its first evaluation on, so a callback
    // can save it (checkpointFiles, adapterFiles) while the run goes on.
    const adopt = (model: BertForSequenceClassification) => {
      if (this.#model !== model) this.#set(model, cfg.mode, cfg.lora);
    };
    const { result, model } = await trainMode(
      this.checkpoint as LoadedCheckpoint,
      trainEx,
      valEx,
      cfg,
      {
        log: callbacks.log ?? (() => {}),
        onStep: callbacks.onStep,
        signal: callbacks.signal,
        progressBar: callbacks.progressBar,
        resumeStore: callbacks.resumeStore,
        resume: callbacks.resume,
        onEvaluate: async (m, ev, sofar, improved) => {
          adopt(m);
          await callbacks.onEvaluate?.(ev, sofar, improved);
        },
        onEpoch: async (m, r, sofar) => {
          adopt(m);
          await callbacks.onEpoch?.(r, sofar);
        },
      },
    );
    adopt(model);
    return { ...result, aborted: result.abortedAtStep != null };
  }

  /** The model predictions and training use: the last trained one, else built from the weights. */
  async model(): Promise<BertForSequenceClassification> {
    if (!this.#model) {
      await initGpu();
      this.#model = new BertForSequenceClassification(this.config, this.checkpoint.weights);
    }
    return this.#model;
  }

  /**
   * Makes `model` this classifier's current model (e.g. one with a PEFT adapter applied), in place
   * of a trained one, which is released. `mode` and `lora` say how it was trained, if known.
   */
  useModel(model: BertForSequenceClassification, mode: Mode | null = null, lora?: LoraSpec): void {
    this.#drop();
    this.#set(model, mode, lora ?? null);
  }

  /** Logits of each text (numLabels each), without gradients, `batchSize` texts per readback. */
  async logits(texts: TextInput[], opts: InferenceOptions = {}): Promise<Float32Array[]> {
    const len = checkMaxLength(opts.maxLength ?? this.defaultMaxLength, this.config);
    const enc = texts.map((t) =>
      encodeExample(this.tokenizer, typeof t === "string" ? { text: t } : t, len)
    );
    return await predictLogits(await this.model(), enc, opts.batchSize ?? 64, opts.onBatch);
  }

  /**
   * The label and probabilities of each text.
   * @throws UserError when the model's logits are not finite (weights that overflow float32).
   */
  async predict(texts: TextInput[], opts: InferenceOptions = {}): Promise<Prediction[]> {
    const names = this.labels;
    return (await this.logits(texts, opts)).map((l) => {
      const probs = softmax(l);
      const labelId = probs.indexOf(Math.max(...probs));
      return { label: names[labelId], labelId, probs, logits: Array.from(l) };
    });
  }

  /**
   * Metrics on labelled examples, computed as training's validation computes them (the `metrics`
   * of metrics.json and of `deno task evaluate --json`: accuracy, precision, recall, f1, auroc,
   * confusion, per class, macro, weighted, log loss).
   */
  async evaluate(examples: LabelledText[], opts: InferenceOptions = {}): Promise<Metrics> {
    const ex = this.examples(examples);
    // Metrics of nothing would read as accuracy 0, not as a mistake.
    if (!ex.length) throw new UserError("evaluate: no examples");
    const logits = await this.logits(ex, opts);
    return computeMetrics(logits.map((l) => softmax(l)), ex.map((e) => e.label));
  }

  /**
   * A transformers checkpoint as files (name → bytes): model.safetensors, config.json (with
   * id2label, label2id) and the tokenizer files, byte for byte what `deno task train --out`
   * writes for a full or head run. `initial`: the loaded weights rather than the trained ones.
   * @throws UserError after LoRA training: save an adapter (adapterFiles), or merge it.
   */
  async checkpointFiles(opts: { initial?: boolean } = {}): Promise<Map<string, Uint8Array>> {
    if (opts.initial) {
      await initGpu();
      const base = new BertForSequenceClassification(this.config, this.checkpoint.weights);
      try {
        return await checkpointFiles(base, this.tokenizerFiles);
      } finally {
        base.release();
      }
    }
    const model = await this.model();
    if (model.lora.size || model.loraEmbedding.size) {
      throw new UserError(
        "checkpointFiles: this model carries LoRA; save it with adapterFiles (a PEFT adapter), or merge it into the base with deno task merge",
      );
    }
    return await checkpointFiles(model, this.tokenizerFiles);
  }

  /**
   * A PEFT adapter as files: adapter_config.json and adapter_model.safetensors (LoRA A/B of each
   * target, the classifier as modules_to_save, the label names in the metadata), byte for byte
   * what `deno task train --mode lora --out` writes. `baseModel`: base_model_name_or_path
   * (default the source this classifier was loaded from).
   * @throws UserError unless the last training run was in lora mode.
   */
  async adapterFiles(opts: { baseModel?: string } = {}): Promise<Map<string, Uint8Array>> {
    if (this.#mode !== "lora" || !this.#lora || !this.#model) {
      throw new UserError("adapterFiles: train in lora mode first (there is no LoRA adapter)");
    }
    return await adapterFiles(this.#model, {
      spec: this.#lora,
      baseModel: opts.baseModel ?? this.source,
    });
  }

  /** Frees the GPU memory of the current model (the loaded weights stay in host memory). */
  release(): void {
    this.#drop();
  }

  #set(model: BertForSequenceClassification, mode: Mode | null, lora: LoraSpec | null): void {
    this.#model = model;
    this.#mode = mode;
    this.#lora = mode === "lora" ? lora : null;
  }

  #drop(): void {
    this.#model?.release();
    this.#model = null;
    this.#mode = null;
    this.#lora = null;
  }
}
