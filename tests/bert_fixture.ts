// A tiny random BERT shared by model tests: config, float32 weights, a padded batch.
import { parseConfig, type BertConfig } from "../src/bert/config.ts";
import { paramShapes } from "../src/bert/params.ts";
import { rng } from "./helpers.ts";
import type { Encoding } from "../src/data/batches.ts";
import type { RefConfig } from "./reference/bert_ref.ts";

export function tinyConfig(overrides: Record<string, unknown> = {}): BertConfig {
  return parseConfig({
    vocab_size: 17, hidden_size: 8, num_hidden_layers: 2, num_attention_heads: 2,
    intermediate_size: 12, max_position_embeddings: 9, type_vocab_size: 2, layer_norm_eps: 1e-12,
    hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, initializer_range: 0.02,
    hidden_act: "gelu", id2label: { "0": "ham", "1": "spam" }, ...overrides,
  });
}

export const refConfig = (c: BertConfig): RefConfig => ({ hidden: c.hiddenSize, layers: c.numHiddenLayers, heads: c.numAttentionHeads, eps: c.layerNormEps });

/** Weights large enough that every nonlinearity matters (std 0.5, LayerNorm weights near 1). */
export function randomWeights(c: BertConfig, seed = 5): Map<string, Float32Array> {
  const rand = rng(seed);
  const w = new Map<string, Float32Array>();
  for (const [name, shape] of paramShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const base = name.includes("LayerNorm.weight") ? 1 : 0;
    w.set(name, Float32Array.from({ length: n }, () => base + 0.5 * rand()));
  }
  return w;
}

export const toF64 = (w: Map<string, Float32Array>) => new Map([...w].map(([k, v]) => [k, Float64Array.from(v)]));

/** Three sequences of length 6 with 0, 2 and 3 padding positions. */
export const BATCH: Encoding[] = [
  { inputIds: [2, 5, 9, 16, 4, 3], attentionMask: [1, 1, 1, 1, 1, 1] },
  { inputIds: [2, 7, 7, 3, 0, 0], attentionMask: [1, 1, 1, 1, 0, 0] },
  { inputIds: [2, 11, 3, 0, 0, 0], attentionMask: [1, 1, 1, 0, 0, 0] },
];
export const LABELS = [1, 0, 1];
