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

const VOCAB = 30522;

/** Counts per `shader:entry` of one training step after a warm-up step, largest first. */
export async function stepDispatches(
  model: string,
  B = 16,
  T = 32,
): Promise<{ total: number; byKernel: [string, number][] }> {
  const rt = await initGpu();
  const config = presetConfig(model, VOCAB);
  const bert = new BertForSequenceClassification(config, randomWeights(config, 42));
  const params = [...bert.params.values()];
  params.forEach((p) => (p.requiresGrad = true));
  const opt = new AdamW(params, { lr: 5e-5 });
  const enc = Array.from({ length: B }, (_, i) => {
    const ids = Array.from({ length: T }, (_, t) => (t === 0 ? 101 : 1000 + (i * 31 + t) % 999));
    return { inputIds: ids, attentionMask: ids.map((_, t) => (t < 8 + i % (T - 8) ? 1 : 0)) };
  });
  const step = (s: number) => {
    const batch = makeBatch(enc, enc.map((_, i) => i % 2), config.vocabSize);
    backward(crossEntropy(bert.forward(batch, { train: true, dropoutSeed: s }), batch.labels!));
    opt.step();
    opt.zeroGrad();
    endStep();
  };
  step(0);
  const before = new Map(rt.dispatchesByKernel), total0 = rt.dispatchCount;
  step(1);
  rt.flush();
  await gpu().device.queue.onSubmittedWorkDone();
  const byKernel = [...rt.dispatchesByKernel]
    .map(([k, n]): [string, number] => [k, n - (before.get(k) ?? 0)])
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  opt.release();
  params.forEach((p) => p.release());
  return { total: rt.dispatchCount - total0, byKernel };
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--model");
  const model = i >= 0 ? Deno.args[i + 1] : "bert-tiny";
  const { total, byKernel } = await stepDispatches(model);
  console.log(`${model}: ${total} dispatches per full step`);
  for (const [k, n] of byKernel) console.log(`${String(n).padStart(6)}  ${k}`);
}
