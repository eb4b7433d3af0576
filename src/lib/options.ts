// The library's training options: the trainer's TrainConfig with the CLI's defaults filled in and
// every value checked, so a bad option is one UserError naming it (the CLI's flags are checked
// by its flag table; these are for callers of the library).
import { UserError } from "../errors.ts";
import type { BertConfig } from "../bert/config.ts";
import type { LoraSpec } from "../nn/lora.ts";
import { defaultMetricForBest, type Mode, type TrainConfig } from "../train/trainer.ts";

/**
 * What `TextClassifier.train` takes: `mode` and any of the trainer's options; the rest default
 * to the CLI's defaults (`deno task train --help`).
 */
export interface TrainOptions {
  /** "full": every weight; "head": the classifier only; "lora": LoRA matrices and the classifier. */
  mode: Mode;
  /** Passes over the training examples (default 2). */
  epochs?: number;
  /** Examples per optimizer step (default 16). */
  batchSize?: number;
  /** Tokens per example, [CLS] and [SEP] included (default 32, or max_position_embeddings). */
  maxLength?: number;
  /** Learning rate (default 5e-5). */
  lr?: number;
  /** torch.optim.AdamW (betas 0.9/0.999, eps 1e-8) or plain SGD (default "adamw"). */
  optimizer?: "adamw" | "sgd";
  /** Decoupled weight decay (AdamW) or L2 (SGD); default 0.01 for AdamW, 0 for SGD. */
  weightDecay?: number;
  /** Seeds shuffling, dropout, a fresh head and LoRA A (default 42). */
  seed?: number;
  /** Stop after this many optimizer steps across epochs (default: none). */
  maxSteps?: number | null;
  /** Shuffle each epoch's batches (default true). */
  shuffle?: boolean;
  /** Linear warmup over this share of the steps, then linear decay to 0 (default 0: constant). */
  warmupRatio?: number;
  /** Clip the global gradient norm as torch.nn.utils.clip_grad_norm_ (default: off). */
  maxGradNorm?: number | null;
  /** LoRA rank r (default 8), alpha (16; the update is scaled alpha/r), dropout (0), targets. */
  lora?: Partial<LoraSpec>;
  /** Examples per evaluation batch (default 64). */
  evalBatchSize?: number;
  /** Steps between loss readbacks, and so between onStep calls (default 10). */
  logEvery?: number;
  /** Also evaluate every N optimizer steps (each epoch's end is always evaluated). */
  evalSteps?: number | null;
  /** The metric that picks the best evaluation (default "f1", "macro_f1" for 3+ labels). */
  metricForBest?: string;
  /** Stop after N evaluations in a row without improvement (default: never). */
  earlyStoppingPatience?: number | null;
  /** "balanced": loss weighted per class as scikit-learn's compute_class_weight. */
  classWeights?: "balanced" | null;
}

/** 32 tokens, or the model's max_position_embeddings when that is smaller (the CLI's default). */
export function defaultMaxLength(config: BertConfig): number {
  return Math.min(32, config.maxPositionEmbeddings);
}

/** Checks a maxLength against the model: at least 2 ([CLS], [SEP]), at most its positions. */
export function checkMaxLength(n: number, config: BertConfig): number {
  // Not "train option": tokenize, predict and evaluate check their maxLength here too.
  if (!Number.isInteger(n) || n < 2) {
    throw new UserError(`maxLength must be an integer ≥ 2 ([CLS] and [SEP]), got ${shown(n)}`);
  }
  if (n > config.maxPositionEmbeddings) {
    throw new UserError(
      `maxLength ${n} exceeds the model's max_position_embeddings ${config.maxPositionEmbeddings}`,
    );
  }
  return n;
}

/** A value as an error shows it: a string quoted, so "0.1" is not mistaken for 0.1. */
const shown = (v: unknown) => (typeof v === "number" ? String(v) : JSON.stringify(v));

function checkInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) {
    throw new UserError(`train option ${name} must be an integer ≥ ${min}, got ${shown(v)}`);
  }
}

function checkNumber(name: string, v: number, lo: number, hi: number, loOpen: boolean): void {
  const ok = Number.isFinite(v) && (loOpen ? v > lo : v >= lo) && v < hi;
  if (!ok) {
    throw new UserError(
      `train option ${name} must be in ${loOpen ? "(" : "["}${lo}, ${hi}), got ${shown(v)}`,
    );
  }
}

/** The full TrainConfig for `options` on a model with `config`; UserError names a bad option. */
export function resolveTrainConfig(options: TrainOptions, config: BertConfig): TrainConfig {
  const o = options;
  if (!["full", "head", "lora"].includes(o.mode)) {
    throw new UserError(`train option mode must be full, head or lora, got ${o.mode}`);
  }
  const optimizer = o.optimizer ?? "adamw";
  if (optimizer !== "adamw" && optimizer !== "sgd") {
    throw new UserError(`train option optimizer must be adamw or sgd, got ${optimizer}`);
  }
  const cfg: TrainConfig = {
    mode: o.mode,
    epochs: o.epochs ?? 2,
    batchSize: o.batchSize ?? 16,
    maxLength: checkMaxLength(o.maxLength ?? defaultMaxLength(config), config),
    lr: o.lr ?? 5e-5,
    optimizer,
    weightDecay: o.weightDecay ?? (optimizer === "sgd" ? 0 : 0.01),
    seed: o.seed ?? 42,
    maxSteps: o.maxSteps ?? null,
    shuffle: o.shuffle ?? true,
    warmupRatio: o.warmupRatio ?? 0,
    maxGradNorm: o.maxGradNorm ?? null,
    lora: {
      r: o.lora?.r ?? 8,
      alpha: o.lora?.alpha ?? 16,
      dropout: o.lora?.dropout ?? 0,
      targets: o.lora?.targets ?? "all-linear",
    },
    evalBatchSize: o.evalBatchSize ?? 64,
    logEvery: o.logEvery ?? 10,
    evalSteps: o.evalSteps ?? null,
    metricForBest: o.metricForBest ?? defaultMetricForBest(config.numLabels),
    earlyStoppingPatience: o.earlyStoppingPatience ?? null,
    classWeights: o.classWeights ?? null,
  };
  checkInt("epochs", cfg.epochs, 1);
  checkInt("batchSize", cfg.batchSize, 1);
  checkNumber("lr", cfg.lr, 0, Infinity, true);
  checkNumber("weightDecay", cfg.weightDecay, 0, Infinity, false);
  checkInt("seed", cfg.seed, Number.MIN_SAFE_INTEGER);
  if (cfg.maxSteps !== null) checkInt("maxSteps", cfg.maxSteps, 1);
  checkNumber("warmupRatio", cfg.warmupRatio, 0, 1, false);
  if (cfg.maxGradNorm !== null) checkNumber("maxGradNorm", cfg.maxGradNorm, 0, Infinity, true);
  checkInt("lora.r", cfg.lora.r, 1);
  checkNumber("lora.alpha", cfg.lora.alpha, 0, Infinity, true);
  checkNumber("lora.dropout", cfg.lora.dropout, 0, 1, false);
  const t = cfg.lora.targets;
  if (
    t !== "all-linear" && !(Array.isArray(t) && t.length && t.every((x) => typeof x === "string"))
  ) {
    throw new UserError(`train option lora.targets must be "all-linear" or module names`);
  }
  checkInt("evalBatchSize", cfg.evalBatchSize, 1);
  checkInt("logEvery", cfg.logEvery, 1);
  if (cfg.evalSteps != null) checkInt("evalSteps", cfg.evalSteps, 1);
  if (cfg.earlyStoppingPatience != null) {
    checkInt("earlyStoppingPatience", cfg.earlyStoppingPatience, 1);
  }
  if (cfg.classWeights != null && cfg.classWeights !== "balanced") {
    throw new UserError(`train option classWeights must be "balanced", got ${cfg.classWeights}`);
  }
  return cfg;
}
