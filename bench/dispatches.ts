// Dispatches per kernel in one full fine-tuning step (random init from a preset, AdamW, batch
// 16 × 32): where a step's dispatches go. `deno run -A bench/dispatches.ts [--model bert-tiny]`.
import { gpu, initGpu } from "../src/gpu/kernel.ts";
import { presetConfig } from "../src/bert/config.ts";
import { randomWeights } from "../src/bert/params.ts";
import { BertForSequenceClassification } from "../src/bert/model.ts";
import { makeBatch } from "../src/data/batches.ts";
import { backward, endStep } from "../src/autograd/tape.ts";
import { crossEntropy } from "../src/ops/cross_entropy.ts";
import { AdamW } from "../src/optim/adamw.ts";
import { type Mode, trainableTensors } from "../src/train/trainer.ts";

const VOCAB = 30522;

/**
 * One training step of a random-init preset (`model`) in `mode` on a fixed synthetic batch of
 * B × T tokens (AdamW, dropout on), as bench/dispatches.ts and bench/profile.ts run it; `step(s)`
 * records step s (dropout seed s), `release()` frees the model and optimizer.
 */
export function syntheticTraining(
  model: string,
  mode: Mode,
  B = 16,
  T = 32,
): { step: (s: number) => void; release: () => void } {
  const config = presetConfig(model, VOCAB);
  const bert = new BertForSequenceClassification(config, randomWeights(config, 42));
  const params = trainableTensors(bert, {
    mode,
    lora: { r: 8, alpha: 16, dropout: 0, targets: "all-linear" },
    seed: 42,
  });
  const opt = new AdamW(params, { lr: 5e-5 });
  const enc = Array.from({ length: B }, (_, i) => {
    const ids = Array.from({ length: T }, (_, t) => (t === 0 ? 101 : 1000 + (i * 31 + t) % 999));
    return { inputIds: ids, attentionMask: ids.map((_, t) => (t < 8 + i % (T - 8) ? 1 : 0)) };
  });
  return {
    step: (s: number) => {
      const batch = makeBatch(enc, enc.map((_, i) => i % 2), config.vocabSize);
      backward(crossEntropy(bert.forward(batch, { train: true, dropoutSeed: s }), batch.labels!));
      opt.step();
      opt.zeroGrad();
      endStep();
    },
    release: () => {
      opt.release();
      bert.release();
    },
  };
}

/** Counts per `shader:entry` of one training step after a warm-up step, largest first. */
export async function stepDispatches(
  model: string,
  B = 16,
  T = 32,
): Promise<{ total: number; byKernel: [string, number][] }> {
  const rt = await initGpu();
  const { step, release } = syntheticTraining(model, "full", B, T);
  step(0);
  const before = new Map(rt.dispatchesByKernel), total0 = rt.dispatchCount;
  step(1);
  rt.flush();
  await gpu().device.queue.onSubmittedWorkDone();
  const byKernel = [...rt.dispatchesByKernel]
    .map(([k, n]): [string, number] => [k, n - (before.get(k) ?? 0)])
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  release();
  return { total: rt.dispatchCount - total0, byKernel };
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--model");
  const model = i >= 0 ? Deno.args[i + 1] : "bert-tiny";
  const { total, byKernel } = await stepDispatches(model);
  console.log(`${model}: ${total} dispatches per full step`);
  for (const [k, n] of byKernel) console.log(`${String(n).padStart(6)}  ${k}`);
}
