// Model-level comparison helpers shared by tests that check two ways of computing the same BERT
// (cls_rows_test.ts: the last layer on the [CLS] rows; packing_test.ts: packed batches): a tiny
// model in each training mode with every dropout on, and one step's logits and gradients.
import { randomVec, rng } from "./helpers.ts";
import { Tensor } from "../src/tensor.ts";
import { backward, endStep } from "../src/autograd/tape.ts";
import { BertForSequenceClassification } from "../src/bert/model.ts";
import { HEAD_KEYS } from "../src/bert/params.ts";
import { attachLora } from "../src/nn/lora.ts";
import { type Encoding, makeBatch } from "../src/data/batches.ts";
import { crossEntropy } from "../src/ops/cross_entropy.ts";
import { BATCH, LABELS, randomWeights, tinyConfig } from "./bert_fixture.ts";

export type Mode = "full" | "head" | "lora";

/**
 * A tiny model in `mode` and its trainable tensors by name; LoRA with nonzero B, lora_dropout.
 * Every dropout on: the hidden dropouts, the attention probabilities', the classifier's, and
 * (LoRA) lora_dropout on the input of each dense layer. `config` overrides tinyConfig's.
 */
export function tinyModel(mode: Mode, config: Record<string, unknown> = {}) {
  const c = tinyConfig({
    hidden_dropout_prob: 0.3,
    attention_probs_dropout_prob: 0.3,
    classifier_dropout: 0.2,
    ...config,
  });
  const model = new BertForSequenceClassification(c, randomWeights(c, 13));
  const trainable = new Map<string, Tensor>();
  if (mode === "full") { for (const [k, t] of model.params) trainable.set(k, t); }
  else for (const k of HEAD_KEYS) trainable.set(k, model.p(k));
  if (mode === "lora") {
    attachLora(model, { r: 2, alpha: 4, dropout: 0.3, targets: "all-linear" }, 5);
    model.loraDropout = 0.3;
    const r = rng(31);
    for (const [path, l] of model.lora) {
      // PEFT starts B at zero, where lora_dropout would change nothing forward: nonzero here.
      l.B.release();
      const B = Tensor.from(randomVec(l.B.size, r, 0.5), l.B.shape, { requiresGrad: true });
      model.lora.set(path, { A: l.A, B });
      trainable.set(`${path}.lora_A`, l.A).set(`${path}.lora_B`, B);
    }
  }
  for (const t of trainable.values()) t.requiresGrad = true;
  return { model, c, trainable };
}

/** Logits and every trainable tensor's gradient of one step (dropout seed 21) on a batch. */
export async function stepGrads(
  model: BertForSequenceClassification,
  trainable: Map<string, Tensor>,
  train: boolean,
  encodings: Encoding[] = BATCH,
  labels: number[] = LABELS,
): Promise<Map<string, Float32Array>> {
  const batch = makeBatch(encodings, labels, model.config.vocabSize);
  const logits = model.forward(batch, { train, dropoutSeed: 21 });
  backward(crossEntropy(logits, batch.labels!));
  const out = new Map([["logits", await logits.read()]]);
  for (const [k, t] of trainable) {
    out.set(k, await t.grad!.read());
    t.grad!.release();
    t.grad = null;
  }
  endStep();
  return out;
}
