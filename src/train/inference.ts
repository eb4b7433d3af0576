// Batched inference without gradients: logits for many encodings, read back once per batch.
import { endStep, noGrad } from "../autograd/tape.ts";
import type { BertForSequenceClassification } from "../bert/model.ts";
import { type Encoding, makeBatch } from "../data/batches.ts";
import { UserError } from "../errors.ts";

/**
 * Logits (numLabels each) of every encoding, in batches of `batchSize` with one readback each.
 * Throws UserError when a logit is NaN or ±Inf (weights that overflow float32): such a model has
 * no answer to give, and a label picked from NaN probabilities would be a silent wrong one.
 */
export async function predictLogits(
  model: BertForSequenceClassification,
  encodings: Encoding[],
  batchSize = 32,
  onBatch?: (done: number) => void,
): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  const L = model.config.numLabels;
  for (let i = 0; i < encodings.length; i += batchSize) {
    const chunk = encodings.slice(i, i + batchSize);
    const logits = noGrad(() =>
      model.forward(makeBatch(chunk, null, model.config.vocabSize), { train: false })
    );
    const flat = await logits.read();
    endStep();
    const bad = flat.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new UserError(
        `the model's logits hold ${flat[bad]} (input ${
          i + Math.floor(bad / L) + 1
        }): its weights ` +
          `overflow float32, so it has no prediction to give`,
      );
    }
    for (let b = 0; b < chunk.length; b++) out.push(flat.slice(b * L, (b + 1) * L));
    onBatch?.(Math.min(i + batchSize, encodings.length));
  }
  return out;
}

export function softmax(logits: ArrayLike<number>): number[] {
  const mx = Math.max(...Array.from(logits));
  const e = Array.from(logits, (v) => Math.exp(v - mx));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}
