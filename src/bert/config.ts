// BertConfig from a Hugging Face config.json, validated, and the random-init presets.
import { UserError } from "../errors.ts";

export interface BertConfig {
  vocabSize: number;
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  intermediateSize: number;
  maxPositionEmbeddings: number;
  typeVocabSize: number;
  layerNormEps: number;
  hiddenDropoutProb: number;
  attentionProbsDropoutProb: number;
  /** Dropout before the classifier: classifier_dropout, or hidden_dropout_prob when null. */
  classifierDropout: number;
  initializerRange: number;
  numLabels: number;
  id2label: Record<string, string>;
  padTokenId: number;
  /** The config.json object as read, written back with our changes on save. */
  raw: Record<string, unknown>;
}

export const PRESETS: Record<string, [layers: number, hidden: number, heads: number, ffn: number]> =
  {
    "bert-tiny": [2, 128, 2, 512],
    "bert-mini": [4, 256, 4, 1024],
    "bert-small": [4, 512, 8, 2048],
    "bert-base": [12, 768, 12, 3072],
  };

const DEFAULT_LABELS = { "0": "ham", "1": "spam" };

function num(raw: Record<string, unknown>, key: string, file: string, fallback?: number): number {
  const v = raw[key] ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new UserError(`${file}: "${key}" must be a number, found ${JSON.stringify(raw[key])}`);
  }
  return v;
}

/** Dropout probabilities as torch.nn.Dropout takes them; 1 would zero every activation. */
function prob(raw: Record<string, unknown>, key: string, file: string, fallback: number): number {
  const p = num(raw, key, file, fallback);
  if (p < 0 || p >= 1) throw new UserError(`${file}: "${key}" ${p} must be in [0, 1)`);
  return p;
}

/**
 * id2label decides the number of labels, as in transformers' PretrainedConfig; its keys must be
 * 0..n-1. A num_labels that disagrees is an error here (transformers warns and overrides it).
 */
function labelCount(raw: Record<string, unknown>, file: string): number {
  const id2label = raw.id2label;
  if (id2label === undefined || id2label === null) return num(raw, "num_labels", file, 2);
  if (typeof id2label !== "object" || Array.isArray(id2label)) {
    throw new UserError(`${file}: "id2label" must be an object, found ${JSON.stringify(id2label)}`);
  }
  const keys = Object.keys(id2label);
  const n = keys.length;
  const want = Array.from({ length: n }, (_, i) => String(i));
  if (n === 0 || keys.map(Number).sort((a, b) => a - b).map(String).join() !== want.join()) {
    throw new UserError(
      `${file}: "id2label" keys must be the label ids 0..${n - 1}, found ${JSON.stringify(keys)}`,
    );
  }
  if (raw.num_labels !== undefined && raw.num_labels !== n) {
    throw new UserError(
      `${file}: "num_labels" ${
        JSON.stringify(raw.num_labels)
      } disagrees with "id2label", which has ${n} labels (transformers takes id2label)`,
    );
  }
  return n;
}

export function parseConfig(raw: Record<string, unknown>, file = "config.json"): BertConfig {
  // BertConfig's defaults are "gelu" and "absolute"; the engine implements only these.
  if (raw.hidden_act !== undefined && raw.hidden_act !== "gelu") {
    throw new UserError(
      `${file}: hidden_act ${
        JSON.stringify(raw.hidden_act)
      } is not implemented (only "gelu", the exact erf GELU)`,
    );
  }
  if (raw.position_embedding_type !== undefined && raw.position_embedding_type !== "absolute") {
    throw new UserError(
      `${file}: position_embedding_type ${
        JSON.stringify(raw.position_embedding_type)
      } is not implemented (only "absolute")`,
    );
  }
  // Fields that change what BertForSequenceClassification computes in ways the engine does not
  // implement: another architecture's config, a causal (decoder) mask, or a loss other than
  // softmax cross-entropy (transformers: num_labels 1 means regression, MSE).
  if (raw.model_type !== undefined && raw.model_type !== "bert") {
    throw new UserError(
      `${file}: model_type ${JSON.stringify(raw.model_type)} is not supported (only "bert")`,
    );
  }
  if (raw.is_decoder === true) {
    throw new UserError(
      `${file}: is_decoder true (a causal attention mask) is not implemented; only encoders`,
    );
  }
  if (
    raw.problem_type !== undefined && raw.problem_type !== null &&
    raw.problem_type !== "single_label_classification"
  ) {
    throw new UserError(
      `${file}: problem_type ${
        JSON.stringify(raw.problem_type)
      } is not implemented (only "single_label_classification", softmax cross-entropy)`,
    );
  }
  const numLabels = labelCount(raw, file);
  if (numLabels < 2) {
    throw new UserError(
      `${file}: ${numLabels} label (transformers treats num_labels 1 as regression); a classifier needs at least 2`,
    );
  }
  const id2label = raw.id2label as Record<string, string> | undefined;
  const labels = id2label && !/^LABEL_\d+$/.test(Object.values(id2label)[0] ?? "")
    ? id2label
    : numLabels === 2
    ? DEFAULT_LABELS
    : Object.fromEntries(Array.from({ length: numLabels }, (_, i) => [String(i), `LABEL_${i}`]));
  const hiddenDropoutProb = prob(raw, "hidden_dropout_prob", file, 0.1);
  const c: BertConfig = {
    vocabSize: num(raw, "vocab_size", file),
    hiddenSize: num(raw, "hidden_size", file),
    numHiddenLayers: num(raw, "num_hidden_layers", file),
    numAttentionHeads: num(raw, "num_attention_heads", file),
    intermediateSize: num(raw, "intermediate_size", file),
    maxPositionEmbeddings: num(raw, "max_position_embeddings", file, 512),
    typeVocabSize: num(raw, "type_vocab_size", file, 2),
    layerNormEps: num(raw, "layer_norm_eps", file, 1e-12),
    hiddenDropoutProb,
    attentionProbsDropoutProb: prob(raw, "attention_probs_dropout_prob", file, 0.1),
    // BertForSequenceClassification: classifier_dropout if not None else hidden_dropout_prob.
    classifierDropout: raw.classifier_dropout === null || raw.classifier_dropout === undefined
      ? hiddenDropoutProb
      : prob(raw, "classifier_dropout", file, 0),
    initializerRange: num(raw, "initializer_range", file, 0.02),
    numLabels,
    id2label: labels,
    padTokenId: num(raw, "pad_token_id", file, 0),
    raw,
  };
  // torch's LayerNorm divides by sqrt(var + eps): a negative eps gives NaN wherever var < -eps.
  if (!(c.layerNormEps >= 0)) {
    throw new UserError(`${file}: "layer_norm_eps" must not be negative, found ${c.layerNormEps}`);
  }
  if (c.hiddenSize % c.numAttentionHeads !== 0) {
    throw new UserError(
      `${file}: hidden_size ${c.hiddenSize} is not a multiple of num_attention_heads ${c.numAttentionHeads}`,
    );
  }
  const sizes = [
    ["vocab_size", c.vocabSize],
    ["hidden_size", c.hiddenSize],
    ["num_hidden_layers", c.numHiddenLayers],
    ["num_attention_heads", c.numAttentionHeads],
    ["intermediate_size", c.intermediateSize],
    ["max_position_embeddings", c.maxPositionEmbeddings],
    ["type_vocab_size", c.typeVocabSize],
  ] as const;
  for (const [k, v] of sizes) {
    if (!Number.isInteger(v) || v <= 0) {
      throw new UserError(`${file}: "${k}" must be a positive integer, found ${v}`);
    }
  }
  return c;
}

/** config.json's text, parsed and validated (parseConfig); `file` names it in errors. */
export function parseConfigText(text: string, file = "config.json"): BertConfig {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${file}: invalid JSON (${(e as Error).message})`);
  }
  return parseConfig(raw, file);
}

export function presetConfig(name: string, vocabSize: number): BertConfig {
  const [layers, hidden, heads, ffn] = PRESETS[name];
  return parseConfig({
    architectures: ["BertForSequenceClassification"],
    model_type: "bert",
    vocab_size: vocabSize,
    hidden_size: hidden,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    intermediate_size: ffn,
    hidden_act: "gelu",
    max_position_embeddings: 512,
    type_vocab_size: 2,
    layer_norm_eps: 1e-12,
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    initializer_range: 0.02,
    pad_token_id: 0,
    id2label: DEFAULT_LABELS,
    label2id: { ham: 0, spam: 1 },
  }, name);
}

/** config.json as transformers would write it for a sequence classifier. */
export function configJson(c: BertConfig): Record<string, unknown> {
  return {
    ...c.raw,
    architectures: ["BertForSequenceClassification"],
    num_labels: undefined,
    id2label: c.id2label,
    label2id: Object.fromEntries(Object.entries(c.id2label).map(([k, v]) => [v, Number(k)])),
  };
}
