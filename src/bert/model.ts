// BertForSequenceClassification built from the engine's ops, parameters under transformers' names.
import { Tensor } from "../tensor.ts";
import type { BertConfig } from "./config.ts";
import { linearPaths, paramShapes } from "./params.ts";
import type { Batch } from "../data/batches.ts";
import { add } from "../ops/add.ts";
import { embedding } from "../ops/embedding.ts";
import { layerNorm } from "../ops/layer_norm.ts";
import { tidy } from "../autograd/tape.ts";
import { dropout } from "../ops/dropout.ts";
import { linear, loraLinear } from "../ops/linear.ts";
import { gelu, tanh } from "../ops/activation.ts";
import { selfAttention } from "../nn/attention.ts";

export interface LoraWeights {
  A: Tensor; // (r, in)
  B: Tensor; // (out, r)
  /** This module's scaling (a loaded adapter's rank/alpha pattern); else the model's loraScale. */
  scale?: number;
}

/** PEFT lora.Embedding, out = W[x] + scaling · (Aᵀ[x]) · Bᵀ, stored ready for that formula. */
export interface LoraEmbedding {
  At: Tensor; // (num_embeddings, r) = lora_embedding_Aᵀ
  sB: Tensor; // (dim, r) = scaling · lora_embedding_B
}

export interface ForwardOptions {
  /** Dropout on (training) or off (evaluation). */
  train: boolean;
  /** Names this step's dropout masks; each dropout site takes the next stream. */
  dropoutSeed?: number;
}

export class BertForSequenceClassification {
  readonly params: Map<string, Tensor> = new Map();
  readonly lora: Map<string, LoraWeights> = new Map();
  readonly loraEmbedding: Map<string, LoraEmbedding> = new Map();
  loraScale = 0;
  /** PEFT's lora_dropout: applied to the LoRA path's input only, in training. */
  loraDropout = 0;

  constructor(readonly config: BertConfig, weights: Map<string, Float32Array>) {
    for (const [name, shape] of paramShapes(config)) {
      const data = weights.get(name);
      if (!data) throw new Error(`model: no weights for ${name}`);
      this.params.set(name, Tensor.from(data, shape, { name }));
    }
  }

  p(name: string): Tensor {
    const t = this.params.get(name);
    if (!t) throw new Error(`model: unknown parameter ${name}`);
    return t;
  }

  linearPaths(): string[] {
    return linearPaths(this.config);
  }

  private linear(path: string, x: Tensor, drop: (x: Tensor, p: number) => Tensor): Tensor {
    const w = this.p(`${path}.weight`), b = this.p(`${path}.bias`);
    const l = this.lora.get(path);
    if (!l) return linear(x, w, b);
    return loraLinear(x, w, b, l.A, l.B, l.scale ?? this.loraScale, drop(x, this.loraDropout));
  }

  /** An embedding lookup, plus its LoRA when an adapter put one there. */
  private embed(path: string, ids: Tensor): Tensor {
    const out = embedding(this.p(`${path}.weight`), ids);
    const l = this.loraEmbedding.get(path);
    return l ? add(out, linear(embedding(l.At, ids), l.sB, null)) : out;
  }

  forward(batch: Batch, opts: ForwardOptions): Tensor {
    const c = this.config;
    const B = batch.size, T = batch.seqLen;
    let stream = 0;
    const drop = (x: Tensor, prob: number) =>
      opts.train && prob > 0 ? dropout(x, prob, opts.dropoutSeed ?? 0, stream++) : x;
    const lin = (path: string, x: Tensor) => this.linear(path, x, drop);

    const e = "bert.embeddings";
    const summed = add(
      add(
        this.embed(`${e}.word_embeddings`, batch.ids),
        this.embed(`${e}.position_embeddings`, batch.positions),
      ),
      this.embed(`${e}.token_type_embeddings`, batch.typeIds),
    );
    let h = drop(
      layerNorm(
        summed,
        this.p(`${e}.LayerNorm.weight`),
        this.p(`${e}.LayerNorm.bias`),
        c.layerNormEps,
      ),
      c.hiddenDropoutProb,
    );

    for (let i = 0; i < c.numHiddenLayers; i++) {
      const l = `bert.encoder.layer.${i}`;
      // Frees what no backward will read as soon as the layer is done (see tidy).
      h = tidy(() => {
        const merged = selfAttention(
          lin(`${l}.attention.self.query`, h),
          lin(`${l}.attention.self.key`, h),
          lin(`${l}.attention.self.value`, h),
          batch.mask,
          { batch: B, seqLen: T, heads: c.numAttentionHeads },
          (probs) => drop(probs, c.attentionProbsDropoutProb),
        );
        const attn = drop(lin(`${l}.attention.output.dense`, merged), c.hiddenDropoutProb);
        h = layerNorm(
          add(attn, h),
          this.p(`${l}.attention.output.LayerNorm.weight`),
          this.p(`${l}.attention.output.LayerNorm.bias`),
          c.layerNormEps,
        );
        const inter = gelu(lin(`${l}.intermediate.dense`, h));
        const out = drop(lin(`${l}.output.dense`, inter), c.hiddenDropoutProb);
        h = layerNorm(
          add(out, h),
          this.p(`${l}.output.LayerNorm.weight`),
          this.p(`${l}.output.LayerNorm.bias`),
          c.layerNormEps,
        );
        return h;
      });
    }
    const cls = embedding(h, batch.clsRows); // the [CLS] row of each sequence, (B, H)
    const pooled = tanh(lin("bert.pooler.dense", cls));
    return lin("classifier", drop(pooled, c.classifierDropout)); // (B, numLabels)
  }

  /** Weights on the CPU under transformers' names, for saving. */
  async readWeights(): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [name, t] of this.params) {
      out.set(name, { shape: [...t.shape], data: await t.read() });
    }
    return out;
  }

  release(): void {
    for (const t of this.params.values()) t.release();
    for (const l of this.lora.values()) {
      l.A.release();
      l.B.release();
    }
    for (const l of this.loraEmbedding.values()) {
      l.At.release();
      l.sB.release();
    }
    this.params.clear();
    this.lora.clear();
    this.loraEmbedding.clear();
  }
}
