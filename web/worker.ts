// The training worker: holds the model on this thread's WebGPU device, reads the data file with
// the CLI's readers (the same formats, labels and stratified split), trains through the library
// (mod.ts), and answers predictions and saves. Off the main thread, so the page stays responsive.
/// <reference lib="webworker" />
import {
  BertForSequenceClassification,
  getAdapterName,
  initGpu,
  type LoadedCheckpoint,
  parseCheckpoint,
} from "../mod.ts";
import { dataBytes } from "../src/data/read.ts";
import { parseRecords, type Records } from "../src/data/dataset.ts";
import { applyLabels, chooseLabels, oneClassWarning, toExamples } from "../src/data/labels.ts";
import { type Example, stratifiedSplit } from "../src/data/sms.ts";
import { predictLogits, softmax } from "../src/train/inference.ts";
import { encodeExample } from "../src/data/pairs.ts";
import type { FromWorker, ToWorker, TrainOptions } from "./protocol.ts";

type Checkpoint = Omit<LoadedCheckpoint, "tokenizerDir">;

const send = (msg: FromWorker, transfer: Transferable[] = []) =>
  (self as unknown as DedicatedWorkerGlobalScope).postMessage(msg, transfer);

let ck: Checkpoint | null = null;
/** The model files as chosen: the tokenizer files go into a saved checkpoint unchanged. */
let modelFiles = new Map<string, Uint8Array>();
let records: Records | null = null;
/** The model predictions use: the trained one after training, else the loaded one. */
let model: BertForSequenceClassification | null = null;
let gpuReady: Promise<unknown> | null = null;

/** The data's labels, examples and split, as `deno task train` makes them (seed and 80/20). */
function prepareData(seed: number): { labels: string[]; train: Example[]; val: Example[] } {
  if (!ck || !records) throw new Error("choose a model and a data file first");
  const labels = chooseLabels(records, { modelLabels: ck.config.id2label });
  const all = toExamples(records, labels, "training");
  const { train, val } = stratifiedSplit(all, 0.2, seed, records.where);
  return { labels, train, val };
}

async function loadModel(source: string, files: [string, Uint8Array][]): Promise<void> {
  gpuReady ??= initGpu();
  await gpuReady;
  const notes: string[] = [];
  modelFiles = new Map(files);
  ck = await parseCheckpoint(modelFiles, { seed: 42, source, warn: (m) => notes.push(m) });
  model?.release();
  model = null;
  send({
    type: "model",
    info: {
      source,
      adapter: getAdapterName(),
      layers: ck.config.numHiddenLayers,
      hidden: ck.config.hiddenSize,
      vocab: ck.config.vocabSize,
      maxPositions: ck.config.maxPositionEmbeddings,
      notes,
    },
  });
  if (records) describeData();
}

function describeData(): void {
  if (!records) return;
  const n = records.records.length;
  let labels: string[] = [], train = 0, val = 0;
  if (ck) {
    const d = prepareData(42);
    labels = d.labels;
    train = d.train.length;
    val = d.val.length;
  }
  const blank = records.blank ? `, ${records.blank} blank lines skipped` : "";
  send({
    type: "data",
    info: {
      summary: `${records.where}: ${n} messages (${records.format})${blank}`,
      labels,
      train,
      val,
    },
  });
}

async function loadData(name: string, bytes: Uint8Array): Promise<void> {
  records = await parseRecords(dataBytes(name, bytes));
  describeData();
}

async function predict(text: string): Promise<void> {
  if (!ck) throw new Error("choose a model first");
  model ??= new BertForSequenceClassification(ck.config, ck.weights);
  const maxLength = Math.min(32, ck.config.maxPositionEmbeddings);
  const [logits] = await predictLogits(model, [encodeExample(ck.tokenizer, { text }, maxLength)]);
  const probs = softmax(logits);
  const best = probs.indexOf(Math.max(...probs));
  send({
    type: "prediction",
    text,
    label: model.config.id2label[String(best)] ?? String(best),
    probability: probs[best],
    probs,
  });
}

function train(_options: TrainOptions): void {
  const { labels, train } = prepareData(_options.seed);
  const warn = oneClassWarning(train, labels);
  if (warn) throw new Error(warn);
  applyLabels(ck as LoadedCheckpoint, labels, _options.seed, () => {});
  throw new Error("training in the page waits for the library's train API");
}

let queue = Promise.resolve();

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const msg = e.data;
  if (msg.type === "stop") return; // (handled once training runs through the library)
  // One request at a time, in order: a prediction waits for a load in progress.
  queue = queue.then(async () => {
    try {
      switch (msg.type) {
        case "load-model":
          return await loadModel(msg.source, msg.files);
        case "load-data":
          return await loadData(msg.name, msg.bytes);
        case "train":
          return train(msg.options);
        case "predict":
          return await predict(msg.text);
        case "save":
          throw new Error("saving waits for the library's save API");
      }
    } catch (err) {
      send({ type: "error", message: (err as Error).message });
    }
  });
};
