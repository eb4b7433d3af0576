// One bert-tiny training step, timed the same way in Deno and in a browser (bench/browser.ts):
// random init from the preset (vocabulary of bert-base-uncased), full fine-tuning with AdamW,
// batch 16 × 32 of synthetic ids. Needs nothing but WebGPU.
import { gpu, initGpu } from "../src/gpu/kernel.ts";
import { getAdapterName } from "../src/gpu/device.ts";
import { presetConfig } from "../src/bert/config.ts";
import { randomWeights } from "../src/bert/params.ts";
import { BertForSequenceClassification } from "../src/bert/model.ts";
import { type Encoding, makeBatch } from "../src/data/batches.ts";
import { backward, endStep } from "../src/autograd/tape.ts";
import { crossEntropy } from "../src/ops/cross_entropy.ts";
import { AdamW } from "../src/optim/adamw.ts";

/** bert-base-uncased's vocabulary size, which the presets take from their tokenizer. */
const VOCAB = 30522;

export interface StepTiming {
  adapter: string;
  batch: number;
  seqLen: number;
  /** The first step: pipeline compilation and first allocations. */
  warmupMs: number;
  /** Each timed step, submit to completion. */
  stepsMs: number[];
  /** The loss of one more (untimed) step: finite, or the timings are of a broken step. */
  loss: number;
}

/** Deterministic messages of 8…T tokens: [CLS], ordinary ids, [SEP], padding. */
function encodings(n: number, T: number): Encoding[] {
  return Array.from({ length: n }, (_, i) => {
    const len = 8 + (i * 7) % (T - 7);
    const ids = Array.from({ length: T }, (_, t) => {
      if (t === 0) return 101; // [CLS]
      if (t === len - 1) return 102; // [SEP]
      return t < len ? 1000 + (i * 31 + t * 17) % (VOCAB - 1000) : 0;
    });
    return { inputIds: ids, attentionMask: ids.map((_, t) => (t < len ? 1 : 0)) };
  });
}

/** A warm-up step then `steps` timed training steps of bert-tiny (full mode, AdamW lr 5e-5). */
export async function timeTrainSteps(steps: number, B = 16, T = 32): Promise<StepTiming> {
  const rt = await initGpu();
  const config = presetConfig("bert-tiny", VOCAB);
  const model = new BertForSequenceClassification(config, randomWeights(config, 42));
  const params = [...model.params.values()];
  params.forEach((p) => (p.requiresGrad = true));
  const opt = new AdamW(params, { lr: 5e-5 });
  const enc = encodings(B, T), labels = enc.map((_, i) => i % 2);
  let loss = NaN;
  const step = async (s: number, readLoss: boolean) => {
    const batch = makeBatch(enc, labels, config.vocabSize);
    const l = crossEntropy(model.forward(batch, { train: true, dropoutSeed: s }), batch.labels!);
    backward(l);
    opt.step();
    opt.zeroGrad();
    if (readLoss) loss = (await l.read())[0];
    endStep();
    rt.flush();
    await gpu().device.queue.onSubmittedWorkDone();
  };
  let t = performance.now();
  await step(0, false);
  const warmupMs = performance.now() - t;
  const stepsMs: number[] = [];
  for (let s = 1; s <= steps; s++) {
    t = performance.now();
    await step(s, false);
    stepsMs.push(performance.now() - t);
  }
  await step(steps + 1, true); // untimed: the loss readback would add a round trip
  opt.release();
  params.forEach((p) => p.release());
  return { adapter: getAdapterName(), batch: B, seqLen: T, warmupMs, stepsMs, loss };
}
