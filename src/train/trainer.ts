// One training run in one mode: the notebook's loop on the GPU, with the loss read every few
// steps (a readback waits for the GPU) and whole-set validation after each epoch.
import { Tensor } from "../tensor.ts";
import { gpu } from "../gpu/kernel.ts";
import { backward, endStep } from "../autograd/tape.ts";
import { BertForSequenceClassification } from "../bert/model.ts";
import type { LoadedCheckpoint } from "../bert/checkpoint.ts";
import { HEAD_KEYS } from "../bert/params.ts";
import { type Encoding, makeBatch } from "../data/batches.ts";
import type { Example } from "../data/sms.ts";
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
import { Progress } from "./progress.ts";
import { UserError } from "../errors.ts";

export type Mode = "full" | "head" | "lora";

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
  trainHead: boolean;
  evalBatchSize: number;
  /** Steps between loss readbacks. */
  logEvery: number;
}

export interface EpochResult {
  epoch: number;
  steps: number;
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
}

export class LossIsNaN extends UserError {}

export interface TrainHooks {
  /** Called after each epoch's evaluation, e.g. to save a checkpoint. */
  onEpoch?: (
    model: BertForSequenceClassification,
    result: EpochResult,
    sofar: ModeResult,
  ) => Promise<void>;
  log?: (line: string) => void;
}

/** Attaches LoRA in lora mode, marks the mode's trainable tensors requiresGrad, and returns them. */
export function trainableTensors(
  model: BertForSequenceClassification,
  cfg: Pick<TrainConfig, "mode" | "lora" | "trainHead" | "seed">,
): Tensor[] {
  const params = selectTrainable(model, cfg);
  params.forEach((t) => (t.requiresGrad = true));
  return params;
}

function selectTrainable(
  model: BertForSequenceClassification,
  cfg: Pick<TrainConfig, "mode" | "lora" | "trainHead" | "seed">,
): Tensor[] {
  if (cfg.mode === "full") return [...model.params.values()];
  const head = HEAD_KEYS.map((k) => model.p(k));
  if (cfg.mode === "head") return head;
  attachLora(model, cfg.lora, cfg.seed);
  model.loraDropout = cfg.lora.dropout;
  const lora = [...model.lora.values()].flatMap((l) => [l.A, l.B]);
  return cfg.trainHead ? [...lora, ...head] : lora;
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
  const rt = gpu();
  rt.pool.trim();
  rt.pool.resetPeak();
  const model = new BertForSequenceClassification(ck.config, ck.weights);
  const params = trainableTensors(model, cfg);
  const trainableParams = params.reduce((n, t) => n + t.size, 0);
  const opt: Optimizer = cfg.optimizer === "sgd"
    ? new SGD(params, { lr: cfg.lr, weightDecay: cfg.weightDecay })
    : new AdamW(params, { lr: cfg.lr, weightDecay: cfg.weightDecay });
  const clipper = cfg.maxGradNorm ? new GradClipper(opt, cfg.maxGradNorm) : null;

  const trainEnc = encodeAll(ck, train, cfg.maxLength), valEnc = encodeAll(ck, val, cfg.maxLength);
  const trainLabels = train.map((e) => e.label), valLabels = val.map((e) => e.label);
  const stepsPerEpoch = Math.ceil(train.length / cfg.batchSize);
  const totalSteps = Math.min(cfg.maxSteps ?? Infinity, cfg.epochs * stepsPerEpoch);
  const warmup = Math.ceil(cfg.warmupRatio * totalSteps);
  const lossLog = Tensor.zeros([cfg.logEvery]);
  const result: ModeResult = { mode: cfg.mode, trainableParams, epochs: [], losses: [] };
  let step = 0;

  try {
    for (let epoch = 1; epoch <= cfg.epochs && step < totalSteps; epoch++) {
      const order = [...train.keys()];
      if (cfg.shuffle) new Rng(deriveSeed(cfg.seed, `shuffle-${epoch}`)).shuffle(order);
      const progress = new Progress(
        `[${cfg.mode}] epoch ${epoch}/${cfg.epochs}`,
        Math.min(stepsPerEpoch, totalSteps - step),
      );
      const t0 = performance.now();
      let lossSum = 0, lossCount = 0, pending = 0, tokens = 0, epochSteps = 0;
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
          lossSum += values[i];
          result.losses.push(values[i]);
        }
        lossCount += values.length;
        pending = 0;
      };
      for (let b = 0; b < order.length && step < totalSteps; b += cfg.batchSize) {
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
        const loss = crossEntropy(logits, batch.labels!);
        rt.copy(loss.buffer, lossLog.buffer, 4, 0, pending * 4);
        backward(loss);
        clipper?.clip();
        opt.lr = cfg.lr * (cfg.warmupRatio > 0 ? linearWarmupDecay(step, warmup, totalSteps) : 1);
        opt.step();
        opt.zeroGrad();
        endStep();
        step++;
        epochSteps++;
        pending++;
        tokens += idx.length * cfg.maxLength;
        if (pending === cfg.logEvery) await readLosses();
        const rate = tokens / ((performance.now() - t0) / 1000);
        progress.update(
          epochSteps,
          `loss ${lossCount ? (lossSum / lossCount).toFixed(4) : "…"} ${rate.toFixed(0)} tok/s`,
        );
      }
      await readLosses();
      progress.finish();
      const trainSeconds = (performance.now() - t0) / 1000;
      const t1 = performance.now();
      const evalProgress = new Progress(`[${cfg.mode}] eval`, val.length);
      const logits = await predictLogits(
        model,
        valEnc,
        cfg.evalBatchSize,
        (d) => evalProgress.update(d),
      );
      evalProgress.finish();
      const evalSeconds = (performance.now() - t1) / 1000;
      const metrics = computeMetrics(logits.map((l) => softmax(l)), valLabels);
      const r: EpochResult = {
        epoch,
        steps: epochSteps,
        trainLoss: lossSum / Math.max(1, lossCount),
        metrics,
        trainSeconds,
        evalSeconds,
        tokensPerSecond: tokens / trainSeconds,
        peakBytes: rt.pool.peakBytes,
      };
      result.epochs.push(r);
      log(epochLine(cfg.mode, cfg.epochs, r));
      await hooks.onEpoch?.(model, r, result);
    }
  } finally {
    lossLog.release();
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
