// Messages between the page (web/main.ts) and the training worker (web/worker.ts). Bytes travel
// as transferred ArrayBuffers (Uint8Array views), never copied twice.
import type { Metrics } from "../src/train/metrics.ts";

/** The training options the page offers (the CLI's flags of the same names). */
export interface TrainOptions {
  mode: "full" | "head" | "lora";
  epochs: number;
  lr: number;
  loraRank: number;
  batchSize: number;
  maxLength: number | null;
  seed: number;
  maxSteps: number | null;
}

export type ToWorker =
  /** A model folder's files by base name (config.json, vocab.txt, model.safetensors, …). */
  | { type: "load-model"; source: string; files: [string, Uint8Array][] }
  /** A hub id; `endpoint` replaces https://huggingface.co (a mirror, or a test's server). */
  | { type: "load-hub"; id: string; endpoint?: string }
  | { type: "load-data"; name: string; bytes: Uint8Array }
  | { type: "train"; options: TrainOptions }
  | { type: "stop" }
  | { type: "predict"; text: string }
  | { type: "save" };

export interface ModelInfo {
  source: string;
  adapter: string;
  layers: number;
  hidden: number;
  vocab: number;
  maxPositions: number;
  /** Warnings loading printed (a fresh classifier, random init). */
  notes: string[];
}

export interface DataInfo {
  summary: string;
  labels: string[];
  train: number;
  val: number;
  /** What one training class means for the metrics (the CLI's warning); "" otherwise. */
  warning: string;
}

export interface Progress {
  step: number;
  totalSteps: number;
  epoch: number;
  /** Training losses of the steps since the previous progress message, in order. */
  losses: number[];
  tokensPerSecond: number;
  /** Seconds left at the current rate. */
  etaSeconds: number;
}

export interface Evaluation {
  step: number;
  epoch: number;
  labels: string[];
  metrics: Metrics;
}

export type FromWorker =
  | { type: "loading"; text: string }
  | { type: "model"; info: ModelInfo }
  | { type: "data"; info: DataInfo }
  | { type: "progress"; progress: Progress }
  | { type: "evaluation"; evaluation: Evaluation }
  | { type: "done"; stopped: boolean; steps: number; seconds: number }
  | { type: "prediction"; text: string; label: string; probability: number; probs: number[] }
  /** The trained checkpoint or adapter: the files the CLI writes to --out, zipped. */
  | { type: "saved"; name: string; zip: Uint8Array; files: string[] }
  /** `during`: the request that failed (the page shows the message beside its control). */
  | { type: "error"; during: ToWorker["type"]; message: string };
