// The training worker: holds the model (a library TextClassifier, mod.ts) on this thread's WebGPU
// device, reads the data file with the CLI's readers (the same formats, labels and stratified
// split as `deno task train`), trains with per-step progress and a stop signal, and answers
// predictions and saves. Off the main thread, so the page stays responsive while a step runs.
/// <reference lib="webworker" />
import { zipSync } from "fflate";
import {
  getAdapterName,
  initGpu,
  loadFromFiles,
  loadFromHub,
  type TextClassifier,
} from "../mod.ts";
import { dataBytes } from "../src/data/read.ts";
import { parseRecords, type Records } from "../src/data/dataset.ts";
import { chooseLabels, oneClassWarning, toExamples } from "../src/data/labels.ts";
import { type Example, stratifiedSplit } from "../src/data/sms.ts";
import type { FromWorker, ToWorker, TrainOptions } from "./protocol.ts";

const send = (msg: FromWorker, transfer: Transferable[] = []) =>
  (self as unknown as DedicatedWorkerGlobalScope).postMessage(msg, transfer);

/** The share of the data held out for validation, as the CLI's --val-ratio default. */
const VAL_RATIO = 0.2;
/** The seed a model is first loaded with (the CLI's --seed default). */
const LOAD_SEED = 42;

let clf: TextClassifier | null = null;
/**
 * How the model was loaded: its loader (to load it again, see `classifierFor`), the seed, and the
 * labels its files declare (what the CLI's label choice sees, before a run's setLabels).
 */
let loaded: {
  load: (seed: number) => Promise<TextClassifier>;
  seed: number;
  id2label: Record<string, string>;
  numLabels: number;
} | null = null;
let records: Records | null = null;
let stop: AbortController | null = null;
/** Where loading notes go (a fresh classifier, unused tensors): shown with the model. */
let warnings: string[] | null = null;
const warn = (m: string) => void warnings?.push(m);

/** The data's labels, examples and split, as `deno task train` makes them. */
function prepareData(seed: number): { labels: string[]; train: Example[]; val: Example[] } {
  if (!clf || !records) throw new Error("choose a model and a data file first");
  const labels = chooseLabels(records, { modelLabels: loaded!.id2label });
  const all = toExamples(records, labels, "training");
  return { labels, ...stratifiedSplit(all, VAL_RATIO, seed, records.where) };
}

/** Loads a model (with LOAD_SEED) and says what it is. */
async function load(loader: (seed: number) => Promise<TextClassifier>): Promise<void> {
  const notes: string[] = [];
  warnings = notes;
  let next: TextClassifier;
  try {
    next = await loader(LOAD_SEED);
  } finally {
    warnings = null;
  }
  clf?.release();
  clf = next;
  loaded = {
    load: loader,
    seed: LOAD_SEED,
    id2label: { ...next.config.id2label },
    numLabels: next.config.numLabels,
  };
  await initGpu();
  send({
    type: "model",
    info: {
      source: next.source,
      adapter: getAdapterName(),
      layers: next.config.numHiddenLayers,
      hidden: next.config.hiddenSize,
      vocab: next.config.vocabSize,
      maxPositions: next.config.maxPositionEmbeddings,
      notes,
    },
  });
  if (records) describeData();
}

/**
 * The classifier for a run with `seed` and `labels`, as `deno task train` would load it. Weights
 * a checkpoint lacks (the classifier of a base model, or all of them) are initialised from the
 * seed, and an earlier run may have resized the classifier for other labels: then the model is
 * loaded again (from memory, or the cache for a hub id) before its labels are set.
 */
async function classifierFor(seed: number, labels: string[]): Promise<TextClassifier> {
  const reseed = clf!.checkpoint.newlyInitialized.length > 0 && loaded!.seed !== seed;
  if (reseed || clf!.config.numLabels !== loaded!.numLabels) {
    const next = await loaded!.load(seed);
    clf!.release();
    clf = next;
    loaded!.seed = seed;
  }
  clf!.setLabels(labels, seed);
  return clf!;
}

/** A model folder chosen in the page: its files by base name. */
function loadModel(source: string, files: Map<string, Uint8Array>): Promise<void> {
  return load((seed) => loadFromFiles(files, { source, seed, warn }));
}

/** A hub model, through the browser's Cache API: a second load makes no request. */
async function loadHub(id: string, endpoint?: string): Promise<void> {
  const cache = await caches.open("webgpu-bert-hub");
  await load((seed) =>
    loadFromHub(id, {
      seed,
      warn,
      cache,
      ...(endpoint ? { endpoint } : {}),
      onFile: (name, bytes) => send({ type: "loading", text: `${id}: ${name} (${bytes} bytes)` }),
    })
  );
}

function describeData(): void {
  if (!records) return;
  const n = records.records.length;
  let labels: string[] = [], train = 0, val = 0;
  let warning = "";
  if (clf) {
    const d = prepareData(LOAD_SEED);
    ({ labels, train: { length: train }, val: { length: val } } = d);
    // As the CLI: a warning of what one class means for the metrics, and training goes on.
    warning = oneClassWarning(d.train, labels) ?? "";
  }
  const blank = records.blank ? `, ${records.blank} blank lines skipped` : "";
  send({
    type: "data",
    info: {
      summary: `${records.where}: ${n} messages (${records.format})${blank}`,
      warning,
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
  if (!clf) throw new Error("choose a model first");
  const [p] = await clf.predict([text]);
  send({
    type: "prediction",
    text,
    label: p.label,
    probability: p.probs[p.labelId],
    probs: p.probs,
  });
}

async function train(o: TrainOptions): Promise<void> {
  // Before any await: Stop pressed while the model loads again (classifierFor; a hub model from
  // the cache, seconds for BERT-base) must still stop the run, at its first step boundary.
  stop = new AbortController();
  const { labels, train, val } = prepareData(o.seed);
  const clf = await classifierFor(o.seed, labels);
  const started = performance.now();
  let step = 0;
  const outcome = await clf.train(train, val, {
    mode: o.mode,
    epochs: o.epochs,
    lr: o.lr,
    lora: { r: o.loraRank },
    batchSize: o.batchSize,
    ...(o.maxLength !== null ? { maxLength: o.maxLength } : {}),
    seed: o.seed,
    maxSteps: o.maxSteps,
    // Every step's loss read back at once: the chart moves with each step.
    logEvery: 1,
  }, {
    signal: stop.signal,
    onStep: (s) => {
      step = s.step;
      send({
        type: "progress",
        progress: {
          step: s.step,
          totalSteps: s.totalSteps,
          epoch: s.epoch,
          losses: [s.loss],
          tokensPerSecond: s.tokens / s.elapsedSeconds,
          etaSeconds: s.etaSeconds,
        },
      });
    },
    onEvaluate: (ev) => {
      send({
        type: "evaluation",
        evaluation: { step: ev.step, epoch: ev.epoch, labels, metrics: ev.metrics },
      });
    },
  });
  stop = null;
  send({
    type: "done",
    stopped: outcome.aborted,
    steps: step,
    seconds: (performance.now() - started) / 1000,
  });
}

/** The trained model as the CLI's --out holds it (a checkpoint, or a LoRA adapter), zipped. */
async function save(): Promise<void> {
  if (!clf?.mode) throw new Error("train first");
  const files = clf.mode === "lora" ? await clf.adapterFiles() : await clf.checkpointFiles();
  const zip = zipSync(Object.fromEntries(files));
  const name = `webgpu-bert-${clf.mode}.zip`;
  send({ type: "saved", name, zip, files: [...files.keys()] }, [zip.buffer]);
}

let queue = Promise.resolve();

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const msg = e.data;
  // Stop cannot wait its turn: the run it stops holds the queue.
  if (msg.type === "stop") return void stop?.abort();
  // One request at a time, in order: a prediction waits for a load in progress.
  queue = queue.then(async () => {
    try {
      switch (msg.type) {
        case "load-model":
          return await loadModel(msg.source, new Map(msg.files));
        case "load-hub":
          return await loadHub(msg.id, msg.endpoint);
        case "load-data":
          return await loadData(msg.name, msg.bytes);
        case "train":
          return await train(msg.options);
        case "predict":
          return await predict(msg.text);
        case "save":
          return await save();
      }
    } catch (err) {
      stop = null;
      send({ type: "error", during: msg.type, message: (err as Error).message });
    }
  });
};
