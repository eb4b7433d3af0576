// One training run in one mode: the notebook's loop on the GPU, with the loss read every few
// steps (a readback waits for the GPU) and whole-set validation after each epoch (and every
// --eval-steps), tracking the best evaluation, stopping early, and saving resume state. Portable:
// files, progress bars and the clock's display come through TrainHooks (the CLI's are Deno's).
import { Tensor } from "../tensor.ts";
import { gpu } from "../gpu/kernel.ts";
import { backward, endStep } from "../autograd/tape.ts";
import { BertForSequenceClassification } from "../bert/model.ts";
import type { LoadedCheckpoint } from "../bert/checkpoint_files.ts";
import { HEAD_KEYS } from "../bert/params.ts";
import { type Encoding, makeBatch } from "../data/batches.ts";
import type { Example } from "../data/example.ts";
import { encodeExample } from "../data/pairs.ts";
import { crossEntropy } from "../ops/cross_entropy.ts";
import { AdamW } from "../optim/adamw.ts";
import { SGD } from "../optim/sgd.ts";
import type { Optimizer } from "../optim/optimizer.ts";
import { GradClipper } from "../optim/clip.ts";
import { linearWarmupDecay } from "../optim/schedule.ts";
import { attachLora, type LoraSpec } from "../nn/lora.ts";
import { deriveSeed, Rng } from "../nn/init.ts";
import { computeMetrics, type Metrics } from "./metrics.ts";
import { predictLogits, softmax } from "./inference.ts";
import { UserError } from "../errors.ts";
import { balancedClassWeights } from "./class_weights.ts";
import { type BestCheckpoint, improves, metricValue } from "./selection.ts";
import { prCurve, rocCurve } from "./curves.ts";
import {
  applyResumeState,
  type EpochAccumulators,
  resumeStateFiles,
  type ResumeStore,
  type TrainerState,
} from "./resume_state.ts";

export type Mode = "full" | "head" | "lora";

/**
 * A full V8 collection when the process was started with --expose-gc (the train task is). Each
 * step drops JS wrappers of GPU objects (command encoders, bind groups) whose native memory V8
 * does not see, so without it host memory climbs for thousands of steps before V8 collects.
 */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

export interface TrainConfig {
  mode: Mode;
  epochs: number;
  batchSize: number;
  maxLength: number;
  lr: number;
  optimizer: "adamw" | "sgd";
  weightDecay: number;
  seed: number;
  maxSteps: number | null;
  shuffle: boolean;
  warmupRatio: number;
  maxGradNorm: number | null;
  lora: LoraSpec;
  evalBatchSize: number;
  /** Steps between loss readbacks. */
  logEvery: number;
  /** Also evaluate every N optimizer steps (each epoch's end is always evaluated). */
  evalSteps?: number | null;
  /** Key into the metrics object that picks the best evaluation (default defaultMetricForBest). */
  metricForBest?: string;
  /** Stop after this many evaluations in a row without improvement. */
  earlyStoppingPatience?: number | null;
  /** "balanced": cross-entropy weighted by n / (classes · count), as compute_class_weight. */
  classWeights?: "balanced" | null;
}

/** F1 for two labels, macro-F1 otherwise (the key the N-class metrics use). */
export const defaultMetricForBest = (numLabels: number) => (numLabels === 2 ? "f1" : "macro_f1");

/** One validation pass: after `step` optimizer steps, `epoch` fractional as transformers logs. */
export interface EvalResult {
  step: number;
  epoch: number;
  /** Mean training loss since the previous evaluation. */
  trainLoss: number;
  metrics: Metrics;
  evalSeconds: number;
}

export interface EpochResult {
  epoch: number;
  steps: number;
  /** Optimizer steps done at the end of this epoch. */
  step?: number;
  trainLoss: number;
  metrics: Metrics;
  trainSeconds: number;
  evalSeconds: number;
  tokensPerSecond: number;
  peakBytes: number;
}

export interface ModeResult {
  mode: Mode;
  trainableParams: number;
  epochs: EpochResult[];
  /** Per-step training losses, for charts. */
  losses: number[];
  /** Every evaluation, epoch ends and --eval-steps alike. */
  evaluations?: EvalResult[];
  /** The best evaluation by the metric for best (what OUT/best holds). */
  best?: BestCheckpoint | null;
  /** Set when early stopping ended the run: after this many steps. */
  stoppedEarlyAtStep?: number | null;
  /** Two labels: ROC (fpr, tpr) and precision-recall (recall, precision) of the last evaluation. */
  curves?: { roc: [number, number][]; pr: [number, number][] } | null;
  /** Set when TrainHooks.signal ended the run: after this many steps (no evaluation after it). */
  abortedAtStep?: number | null;
}

/** One optimizer step, reported when its loss has been read back (see TrainHooks.onStep). */
export interface StepInfo {
  /** Optimizer steps done, 1-based: this step's number. */
  step: number;
  /** Steps the run will take (epochs × batches per epoch, or maxSteps when fewer). */
  totalSteps: number;
  /** The epoch of this step, 1-based. */
  epoch: number;
  /** This step's mean cross-entropy over its batch (nats). */
  loss: number;
  /** Examples and tokens (batch × maxLength, padding included) trained so far in this call. */
  examples: number;
  tokens: number;
  /** Seconds since this call started training, evaluations included (wall clock). */
  elapsedSeconds: number;
  /** Seconds left at this call's rate so far (evaluations included): 0 at the last step. */
  etaSeconds: number;
}

/** A progress display (the CLI's terminal bar); `done` counts steps or evaluated examples. */
export interface ProgressBar {
  update(done: number, info?: string): void;
  finish(): void;
}

export class LossIsNaN extends UserError {}

export interface TrainHooks {
  /** Called after each epoch's evaluation, e.g. to save a checkpoint. */
  onEpoch?: (
    model: BertForSequenceClassification,
    result: EpochResult,
    sofar: ModeResult,
  ) => Promise<void>;
  /**
   * After every evaluation, before its resume state is saved (so a crash here redoes the steps):
   * save the model, and the best one when `improved`.
   */
  onEvaluate?: (
    model: BertForSequenceClassification,
    evaluation: EvalResult,
    sofar: ModeResult,
    improved: boolean,
  ) => Promise<void>;
  /** Where resume state goes at every evaluation (the CLI's: checkpoint-<step>/ in --out). */
  resumeStore?: ResumeStore;
  /** Continue from the newest state in resumeStore. */
  resume?: boolean;
  log?: (line: string) => void;
  /**
   * Called once per optimizer step, in step order, when the step's loss is read back: at once
   * for step 1, else every `logEvery` steps (set logEvery 1 to hear of each step as it ends).
   */
  onStep?: (info: StepInfo) => void;
  /**
   * Stops the run at the next step boundary: no further step, no evaluation, no resume state;
   * the result has `abortedAtStep` and the returned model holds the weights after that step.
   */
  signal?: AbortSignal;
  /** Makes a progress bar for an epoch's steps ("train") or an evaluation's examples ("eval"). */
  progressBar?: (label: string, total: number, kind: "train" | "eval") => ProgressBar;
}

const NO_BAR: ProgressBar = { update() {}, finish() {} };

/** Attaches LoRA in lora mode, marks the mode's trainable tensors requiresGrad, and returns them. */
export function trainableTensors(
  model: BertForSequenceClassification,
  cfg: Pick<TrainConfig, "mode" | "lora" | "seed">,
): Tensor[] {
  const params = selectTrainable(model, cfg);
  params.forEach((t) => (t.requiresGrad = true));
  return params;
}

function selectTrainable(
  model: BertForSequenceClassification,
  cfg: Pick<TrainConfig, "mode" | "lora" | "seed">,
): Tensor[] {
  if (cfg.mode === "full") return [...model.params.values()];
  const head = HEAD_KEYS.map((k) => model.p(k));
  if (cfg.mode === "head") return head;
  attachLora(model, cfg.lora, cfg.seed);
  model.loraDropout = cfg.lora.dropout;
  const lora = [...model.lora.values()].flatMap((l) => [l.A, l.B]);
  // As PEFT for SEQ_CLS: the classifier is a modules_to_save module, trained fully.
  return [...lora, ...head];
}

/** Each trainable tensor under a stable name: its parameter name, or `<module>.lora_A|B`. */
export function trainableNames(
  model: BertForSequenceClassification,
  params: Tensor[],
): Map<string, Tensor> {
  const byTensor = new Map<Tensor, string>();
  for (const [k, t] of model.params) byTensor.set(t, k);
  for (const [path, l] of model.lora) {
    byTensor.set(l.A, `${path}.lora_A`).set(l.B, `${path}.lora_B`);
  }
  return new Map(params.map((t) => [byTensor.get(t)!, t]));
}

/** FNV-1a over the examples, so a resume on other data is refused rather than silently mixed. */
function dataHash(examples: Example[]): string {
  let h = 2166136261;
  for (const e of examples) {
    for (const ch of `${e.label}\t${e.text}\t${e.textPair ?? ""}\n`) {
      h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
    }
  }
  return (h >>> 0).toString(16);
}

/** Metrics from logits, any number of labels (the one place the trainer turns logits into them). */
function evaluationMetrics(logits: ArrayLike<number>[], labels: number[]): Metrics {
  return computeMetrics(logits.map((l) => softmax(l)), labels);
}

export function encodeAll(
  ck: LoadedCheckpoint,
  examples: Example[],
  maxLength: number,
): Encoding[] {
  return examples.map((e) => encodeExample(ck.tokenizer, e, maxLength));
}

export async function trainMode(
  ck: LoadedCheckpoint,
  train: Example[],
  val: Example[],
  cfg: TrainConfig,
  hooks: TrainHooks = {},
): Promise<{ result: ModeResult; model: BertForSequenceClassification }> {
  const outside = [...train, ...val].find((e) => e.label >= ck.config.numLabels);
  if (outside) {
    throw new UserError(
      `line ${outside.line}: label id ${outside.label}, but the model has ${ck.config.numLabels} labels`,
    );
  }
  const log = hooks.log ?? console.log;
  const bar = hooks.progressBar ?? (() => NO_BAR);
  const started = performance.now();
  let examplesSeen = 0;
  const numLabels = ck.config.numLabels;
  const metricKey = cfg.metricForBest ?? defaultMetricForBest(numLabels);
  // An unknown metric name fails now, not after the first stretch of training.
  metricValue(evaluationMetrics([new Array(numLabels).fill(0)], [0]), metricKey);
  const rt = gpu();
  rt.pool.trim();
  rt.pool.resetPeak();
  const model = new BertForSequenceClassification(ck.config, ck.weights);
  const params = trainableTensors(model, cfg);
  const named = trainableNames(model, params);
  const trainableParams = params.reduce((n, t) => n + t.size, 0);
  const opt: Optimizer = cfg.optimizer === "sgd"
    ? new SGD(params, { lr: cfg.lr, weightDecay: cfg.weightDecay })
    : new AdamW(params, { lr: cfg.lr, weightDecay: cfg.weightDecay });
  const clipper = cfg.maxGradNorm ? new GradClipper(opt, cfg.maxGradNorm) : null;

  const trainEnc = encodeAll(ck, train, cfg.maxLength), valEnc = encodeAll(ck, val, cfg.maxLength);
  const trainLabels = train.map((e) => e.label), valLabels = val.map((e) => e.label);
  const labelNames = Array.from({ length: numLabels }, (_, i) => ck.config.id2label[i] ?? `${i}`);
  const weights = cfg.classWeights === "balanced"
    ? balancedClassWeights(trainLabels, numLabels, labelNames)
    : null;
  const classWeights = weights ? Tensor.from(weights, [numLabels]) : null;
  if (weights) {
    log(`[${cfg.mode}] class weights ${labelNames.map((l, i) => `${l} ${weights[i]}`).join(", ")}`);
  }
  const stepsPerEpoch = Math.ceil(train.length / cfg.batchSize);
  const totalSteps = Math.min(cfg.maxSteps ?? Infinity, cfg.epochs * stepsPerEpoch);
  const warmup = Math.ceil(cfg.warmupRatio * totalSteps);
  const lossLog = Tensor.zeros([cfg.logEvery]);
  let result: ModeResult = {
    mode: cfg.mode,
    trainableParams,
    epochs: [],
    losses: [],
    evaluations: [],
    best: null,
    stoppedEarlyAtStep: null,
    curves: null,
    abortedAtStep: null,
  };
  // What must not change between a run and its resumption (the model is the caller's --model).
  const fingerprint: Record<string, unknown> = {
    mode: cfg.mode,
    epochs: cfg.epochs,
    batchSize: cfg.batchSize,
    maxLength: cfg.maxLength,
    lr: cfg.lr,
    optimizer: cfg.optimizer,
    weightDecay: cfg.weightDecay,
    seed: cfg.seed,
    maxSteps: cfg.maxSteps,
    shuffle: cfg.shuffle,
    warmupRatio: cfg.warmupRatio,
    maxGradNorm: cfg.maxGradNorm,
    lora: cfg.mode === "lora" ? cfg.lora : null,
    evalSteps: cfg.evalSteps ?? null,
    metricForBest: metricKey,
    earlyStoppingPatience: cfg.earlyStoppingPatience ?? null,
    classWeights: cfg.classWeights ?? null,
    trainData: `${train.length} examples, FNV-1a ${dataHash(train)}`,
    valData: `${val.length} examples, FNV-1a ${dataHash(val)}`,
  };
  const epochOrder = (epoch: number) => {
    const order = [...train.keys()];
    if (cfg.shuffle) new Rng(deriveSeed(cfg.seed, `shuffle-${epoch}`)).shuffle(order);
    return order;
  };
  const freshSums = (): EpochAccumulators => ({
    lossSum: 0,
    lossCount: 0,
    tokens: 0,
    epochSteps: 0,
    trainMs: 0,
  });

  let step = 0, startEpoch = 1, patience = 0, stopped = false;
  let resumed: TrainerState | null = null;
  if (hooks.resume) {
    if (!hooks.resumeStore) throw new UserError("resume: no resume store to continue from");
    const { where: dir, files } = await hooks.resumeStore.load();
    resumed = applyResumeState(dir, files, named, opt, fingerprint);
    ({ step, epoch: startEpoch, patienceCounter: patience, stopped } = resumed);
    result = resumed.result;
    const where = step >= totalSteps || stopped
      ? "the run had finished"
      : `epoch ${startEpoch} of ${cfg.epochs}`;
    log(`[${cfg.mode}] resumed from ${dir}: step ${step} of ${totalSteps}, ${where}`);
  }

  const evaluate = async (epoch: number, sums: { loss: number; count: number }) => {
    const t1 = performance.now();
    const evalProgress = bar(`[${cfg.mode}] eval`, val.length, "eval");
    const logits = await predictLogits(
      model,
      valEnc,
      cfg.evalBatchSize,
      (d) => evalProgress.update(d),
    );
    evalProgress.finish();
    if (numLabels === 2) {
      const scores = logits.map((l) => softmax(l)[1]);
      result.curves = { roc: rocCurve(scores, valLabels), pr: prCurve(scores, valLabels) };
    }
    return {
      step,
      epoch,
      trainLoss: sums.loss / Math.max(1, sums.count),
      metrics: evaluationMetrics(logits, valLabels),
      evalSeconds: (performance.now() - t1) / 1000,
    } satisfies EvalResult;
  };
  /** Best and early-stopping bookkeeping, the caller's save, then the resume state. */
  const afterEvaluation = async (
    ev: EvalResult,
    next: Pick<TrainerState, "epoch" | "order" | "batchStart" | "accumulators">,
  ): Promise<boolean> => {
    result.evaluations!.push(ev);
    const value = metricValue(ev.metrics, metricKey);
    const improved = improves(value, result.best?.value, metricKey);
    if (improved) {
      result.best = { metric: metricKey, value: value!, step: ev.step, epoch: ev.epoch };
      patience = 0;
    } else patience++;
    const stop = cfg.earlyStoppingPatience != null && patience >= cfg.earlyStoppingPatience;
    if (stop) {
      result.stoppedEarlyAtStep = step;
      log(
        `[${cfg.mode}] early stopping at step ${step}: ${metricKey} did not improve on ${
          f4(result.best?.value ?? null)
        } (step ${result.best?.step}) for ${patience} evaluations`,
      );
    }
    await hooks.onEvaluate?.(model, ev, result, improved);
    if (hooks.resumeStore) {
      const files = await resumeStateFiles(named, opt, {
        version: 1,
        mode: cfg.mode,
        step,
        ...next,
        optimizer: { type: cfg.optimizer, stepCount: opt.stepCount, lr: opt.lr },
        schedule: { warmup, totalSteps },
        rng: { seed: cfg.seed, dropoutSeedOfNextStep: deriveSeed(cfg.seed, `dropout-${step}`) },
        patienceCounter: patience,
        stopped: stop,
        result,
        fingerprint,
      });
      await hooks.resumeStore.save(step, files);
    }
    return stop;
  };

  /** Steps done before this call (a resumed run's), left out of the rate behind etaSeconds. */
  const firstStep = step;
  try {
    const aborted = () => {
      if (!hooks.signal?.aborted) return false;
      result.abortedAtStep = step;
      return true;
    };
    for (let epoch = startEpoch; epoch <= cfg.epochs && step < totalSteps && !stopped; epoch++) {
      // A resume mid-epoch continues that epoch's order where its last save left it.
      const mid = resumed?.epoch === epoch && resumed.order ? resumed : null;
      const order = mid ? mid.order! : epochOrder(epoch);
      const acc = mid ? { ...mid.accumulators } : freshSums();
      const since = { loss: 0, count: 0 };
      let b = mid ? mid.batchStart : 0;
      const progress = bar(
        `[${cfg.mode}] epoch ${epoch}/${cfg.epochs}`,
        acc.epochSteps + Math.min(Math.ceil((order.length - b) / cfg.batchSize), totalSteps - step),
        "train",
      );
      let t0 = performance.now(), pending = 0;
      /** The batch size of each step whose loss is still pending. */
      const stepSizes: number[] = [];
      const readLosses = async () => {
        if (pending === 0) return;
        const values = (await lossLog.read()).subarray(0, pending);
        for (let i = 0; i < values.length; i++) {
          if (!Number.isFinite(values[i])) {
            throw new LossIsNaN(
              `the loss became ${values[i]} at step ${
                step - pending + i + 1
              }; training stopped (lower --lr or set --max-grad-norm); the last saved checkpoint is kept`,
            );
          }
          acc.lossSum += values[i];
          since.loss += values[i];
          result.losses.push(values[i]);
          if (hooks.onStep) {
            const examples = examplesSeen - stepSizes.slice(i + 1).reduce((a, n) => a + n, 0);
            const n = step - pending + i + 1, elapsed = (performance.now() - started) / 1000;
            hooks.onStep({
              step: n,
              totalSteps,
              epoch,
              loss: values[i],
              examples,
              tokens: examples * cfg.maxLength,
              elapsedSeconds: elapsed,
              etaSeconds: elapsed / (n - firstStep) * (totalSteps - n),
            });
          }
        }
        stepSizes.length = 0;
        acc.lossCount += values.length;
        since.count += values.length;
        pending = 0;
      };
      for (; b < order.length && step < totalSteps; b += cfg.batchSize) {
        if (aborted()) break;
        const idx = order.slice(b, b + cfg.batchSize);
        const batch = makeBatch(
          idx.map((i) => trainEnc[i]),
          idx.map((i) => trainLabels[i]),
          ck.config.vocabSize,
        );
        const logits = model.forward(batch, {
          train: true,
          dropoutSeed: deriveSeed(cfg.seed, `dropout-${step}`),
        });
        const loss = crossEntropy(logits, batch.labels!, classWeights ?? undefined);
        rt.copy(loss.buffer, lossLog.buffer, 4, 0, pending * 4);
        backward(loss);
        clipper?.clip();
        opt.lr = cfg.lr * (cfg.warmupRatio > 0 ? linearWarmupDecay(step, warmup, totalSteps) : 1);
        opt.step();
        opt.zeroGrad();
        endStep();
        step++;
        if (step % 100 === 0) collectGarbage();
        acc.epochSteps++;
        pending++;
        acc.tokens += idx.length * cfg.maxLength;
        examplesSeen += idx.length;
        stepSizes.push(idx.length);
        // The first step's loss is read at once, so the progress line shows a loss from step 1.
        if (pending === cfg.logEvery || step === 1) await readLosses();
        const rate = acc.tokens / ((acc.trainMs + performance.now() - t0) / 1000);
        progress.update(
          acc.epochSteps,
          `loss ${acc.lossCount ? (acc.lossSum / acc.lossCount).toFixed(4) : "…"} ${
            rate.toFixed(0)
          } tok/s`,
        );
        const epochEnds = b + cfg.batchSize >= order.length || step >= totalSteps;
        if (cfg.evalSteps && step % cfg.evalSteps === 0 && !epochEnds) {
          await readLosses();
          acc.trainMs += performance.now() - t0;
          const ev = await evaluate(epoch - 1 + acc.epochSteps / stepsPerEpoch, since);
          log(evalLine(cfg.mode, ev));
          since.loss = since.count = 0;
          const next = { epoch, order, batchStart: b + cfg.batchSize, accumulators: { ...acc } };
          stopped = await afterEvaluation(ev, next);
          t0 = performance.now();
          if (stopped) break;
        }
      }
      await readLosses();
      progress.finish();
      acc.trainMs += performance.now() - t0;
      // An abort during the epoch's last step skips its evaluation too.
      if (stopped || result.abortedAtStep != null || aborted()) break;
      const ev = await evaluate(epoch - 1 + acc.epochSteps / stepsPerEpoch, since);
      const trainSeconds = acc.trainMs / 1000;
      const r: EpochResult = {
        epoch,
        steps: acc.epochSteps,
        step,
        trainLoss: acc.lossSum / Math.max(1, acc.lossCount),
        metrics: ev.metrics,
        trainSeconds,
        evalSeconds: ev.evalSeconds,
        tokensPerSecond: acc.tokens / trainSeconds,
        peakBytes: rt.pool.peakBytes,
      };
      result.epochs.push(r);
      log(epochLine(cfg.mode, cfg.epochs, r));
      await hooks.onEpoch?.(model, r, result);
      const next = { epoch: epoch + 1, order: null, batchStart: 0, accumulators: freshSums() };
      stopped = await afterEvaluation(ev, next);
    }
  } finally {
    lossLog.release();
    classWeights?.release();
    clipper?.release();
    opt.release();
  }
  return { result, model };
}

const f4 = (v: number | null) => v === null ? "undefined" : v.toFixed(4);
export const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

export function epochLine(mode: string, epochs: number, r: EpochResult): string {
  const m = r.metrics;
  if (m.numLabels > 2) {
    return `[${mode}] epoch ${r.epoch}/${epochs}: train loss ${f4(r.trainLoss)} | val acc ${
      f4(m.accuracy)
    } macro precision ${f4(m.precision)} recall ${f4(m.recall)} f1 ${f4(m.f1)} auroc ${
      f4(m.auroc)
    } log loss ${f4(m.logLoss)} | confusion ${JSON.stringify(m.confusion)} | train ${
      r.trainSeconds.toFixed(1)
    } s, eval ${r.evalSeconds.toFixed(1)} s | ${r.tokensPerSecond.toFixed(0)} tok/s | peak ${
      mib(r.peakBytes)
    }`;
  }
  return `[${mode}] epoch ${r.epoch}/${epochs}: train loss ${f4(r.trainLoss)} | val acc ${
    f4(m.accuracy)
  } precision ${f4(m.precision)} recall ${f4(m.recall)} f1 ${f4(m.f1)} auroc ${
    f4(m.auroc)
  } | confusion [[tn ${m.confusion[0][0]}, fp ${m.confusion[0][1]}], [fn ${m.confusion[1][0]}, tp ${
    m.confusion[1][1]
  }]] | train ${r.trainSeconds.toFixed(1)} s, eval ${r.evalSeconds.toFixed(1)} s | ${
    r.tokensPerSecond.toFixed(0)
  } tok/s | peak ${mib(r.peakBytes)}`;
}

export function evalLine(mode: string, ev: EvalResult): string {
  const m = ev.metrics;
  // N labels: the averages are macro, and log loss is shown, as in the epoch line.
  const many = m.numLabels > 2;
  return `[${mode}] step ${ev.step} (epoch ${ev.epoch.toFixed(2)}): train loss ${
    f4(ev.trainLoss)
  } | val acc ${f4(m.accuracy)} ${many ? "macro " : ""}precision ${f4(m.precision)} recall ${
    f4(m.recall)
  } f1 ${f4(m.f1)} auroc ${f4(m.auroc)}${many ? ` log loss ${f4(m.logLoss)}` : ""} | eval ${
    ev.evalSeconds.toFixed(1)
  } s`;
}
