// Parameter names and shapes of BertForSequenceClassification, exactly as transformers writes them.
import type { BertConfig } from "./config.ts";
import { deriveSeed, normalArray, Rng } from "../nn/init.ts";

export type Shapes = Map<string, number[]>;

export const HEAD_KEYS = ["classifier.weight", "classifier.bias"];

/** The Linear modules by path, in forward order (LoRA targets). */
export function linearPaths(c: BertConfig): string[] {
  const paths: string[] = [];
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const l = `bert.encoder.layer.${i}`;
    paths.push(
      `${l}.attention.self.query`,
      `${l}.attention.self.key`,
      `${l}.attention.self.value`,
      `${l}.attention.output.dense`,
      `${l}.intermediate.dense`,
      `${l}.output.dense`,
    );
  }
  paths.push("bert.pooler.dense", "classifier");
  return paths;
}

export function paramShapes(c: BertConfig): Shapes {
  const H = c.hiddenSize, I = c.intermediateSize;
  const s: Shapes = new Map();
  s.set("bert.embeddings.word_embeddings.weight", [c.vocabSize, H]);
  s.set("bert.embeddings.position_embeddings.weight", [c.maxPositionEmbeddings, H]);
  s.set("bert.embeddings.token_type_embeddings.weight", [c.typeVocabSize, H]);
  s.set("bert.embeddings.LayerNorm.weight", [H]);
  s.set("bert.embeddings.LayerNorm.bias", [H]);
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const l = `bert.encoder.layer.${i}`;
    for (const m of ["query", "key", "value"]) {
      s.set(`${l}.attention.self.${m}.weight`, [H, H]);
      s.set(`${l}.attention.self.${m}.bias`, [H]);
    }
    s.set(`${l}.attention.output.dense.weight`, [H, H]);
    s.set(`${l}.attention.output.dense.bias`, [H]);
    s.set(`${l}.attention.output.LayerNorm.weight`, [H]);
    s.set(`${l}.attention.output.LayerNorm.bias`, [H]);
    s.set(`${l}.intermediate.dense.weight`, [I, H]);
    s.set(`${l}.intermediate.dense.bias`, [I]);
    s.set(`${l}.output.dense.weight`, [H, I]);
    s.set(`${l}.output.dense.bias`, [H]);
    s.set(`${l}.output.LayerNorm.weight`, [H]);
    s.set(`${l}.output.LayerNorm.bias`, [H]);
  }
  s.set("bert.pooler.dense.weight", [H, H]);
  s.set("bert.pooler.dense.bias", [H]);
  s.set("classifier.weight", [c.numLabels, H]);
  s.set("classifier.bias", [c.numLabels]);
  return s;
}

/** transformers' BertPreTrainedModel._init_weights: normal(0, range) for Linear and Embedding
 * weights (the padding row zeroed), zero biases, LayerNorm weight 1 and bias 0. */
export function initParam(name: string, shape: number[], c: BertConfig, rng: Rng): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  if (name.includes("LayerNorm.weight")) return new Float32Array(n).fill(1);
  if (name.endsWith(".bias")) return new Float32Array(n);
  const w = normalArray(n, c.initializerRange, rng);
  if (name === "bert.embeddings.word_embeddings.weight") {
    w.fill(0, c.padTokenId * shape[1], (c.padTokenId + 1) * shape[1]);
  }
  return w;
}

/**
 * Every parameter freshly initialised from `seed` (initParam): the encoder from the "init" stream,
 * the classifier from the "classifier" stream, so a fresh head is the same with or without
 * pretrained encoder weights.
 */
export function randomWeights(config: BertConfig, seed: number): Map<string, Float32Array> {
  const rng = new Rng(deriveSeed(seed, "init"));
  const headRng = new Rng(deriveSeed(seed, "classifier"));
  const weights = new Map<string, Float32Array>();
  for (const [name, shape] of paramShapes(config)) {
    weights.set(name, initParam(name, shape, config, HEAD_KEYS.includes(name) ? headRng : rng));
  }
  return weights;
}

export function countParams(shapes: Iterable<number[]>): number {
  let n = 0;
  for (const s of shapes) n += s.reduce((a, b) => a * b, 1);
  return n;
}
