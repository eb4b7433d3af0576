// BertForSequenceClassification built from the engine's ops, parameters under transformers' names.
import { readTensors, Tensor } from "../tensor.ts";
import { UserError } from "../errors.ts";
import type { BertConfig } from "./config.ts";
import { linearPaths, paramShapes } from "./params.ts";
import type { Batch } from "../data/batches.ts";
import { add } from "../ops/add.ts";
import { embedding } from "../ops/embedding.ts";
import { embeddingSum } from "../ops/embedding_sum.ts";
import { layerNorm } from "../ops/layer_norm.ts";
import { residualLayerNorm } from "../ops/residual_layer_norm.ts";
import { dispose, tidy } from "../autograd/tape.ts";
import { dropout, type RowPlaces } from "../ops/dropout.ts";
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

let lastLayerRows: "cls" | "all" = "cls";

/**
 * Which rows the last encoder layer computes past its attention: "cls" (the default) only the
 * [CLS] rows the pooler reads, "all" every token's, as transformers does. The two are the same
 * function, dropout included; tests compare them.
 */
export function setLastLayerRows(rows: "cls" | "all"): void {
  lastLayerRows = rows;
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

  /** `withBias` false leaves the bias to the next kernel (residualLayerNorm folds it in). */
  private linear(
    path: string,
    x: Tensor,
    drop: (x: Tensor, p: number) => Tensor,
    withBias = true,
  ): Tensor {
    const w = this.p(`${path}.weight`), b = withBias ? this.p(`${path}.bias`) : null;
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
    if (batch.maxTypeId >= c.typeVocabSize) {
      // The lookup would read past the token-type table (transformers raises an IndexError).
      throw new UserError(
        `the model's config.json has type_vocab_size ${c.typeVocabSize}: it has no token type ` +
          `${batch.maxTypeId}, which the second text of a sentence pair takes; give single texts, ` +
          `or a model with type_vocab_size ≥ ${batch.maxTypeId + 1}`,
      );
    }
    let stream = 0;
    // Where the rows of a (rows, ·) tensor are in the padded (B·T, ·) layout the dropout masks are
    // drawn over (see dropout()): the packed rows' table, or all rows in order; the last layer's
    // [CLS] rows are at stride T (positions b·T) either way.
    const all: RowPlaces = batch.packed?.rowOf ?? 1;
    const drop = (x: Tensor, prob: number, rows: RowPlaces) =>
      opts.train && prob > 0 ? dropout(x, prob, opts.dropoutSeed ?? 0, stream++, rows) : x;
    const lin = (path: string, x: Tensor, rows: RowPlaces) =>
      this.linear(path, x, (x, p) => drop(x, p, rows));
    /** A dropout folded into a fused kernel (attention, residualLayerNorm), taking the next
     * stream as `drop` would, so the mask is the one dropout() would draw. */
    const dropSpec = (prob: number, rows: RowPlaces = 1) =>
      opts.train && prob > 0 ? { prob, seed: opts.dropoutSeed ?? 0, stream: stream++, rows } : null;
    // A sublayer's output: dense (its bias left out), dropout, residual and LayerNorm, the last
    // three with the bias in one kernel; the dropout takes the stream dropout() would have.
    const output = (path: string, x: Tensor, residual: Tensor, norm: string, rows: RowPlaces) => {
      const [w, b] = [this.p(`${norm}.weight`), this.p(`${norm}.bias`)];
      if (typeof rows !== "number" && opts.train && c.hiddenDropoutProb > 0) {
        // Packed rows' dropout reads their row table where the kernel would read the dense's
        // bias (WebGPU's 8 storage bindings): the dense adds its bias itself.
        const branch = lin(`${path}.dense`, x, rows);
        const folded = dropSpec(c.hiddenDropoutProb, rows)!;
        return residualLayerNorm(branch, null, residual, w, b, c.layerNormEps, folded);
      }
      const branch = this.linear(`${path}.dense`, x, (x, p) => drop(x, p, rows), false);
      const folded = dropSpec(c.hiddenDropoutProb, rows) ?? undefined;
      return residualLayerNorm(
        branch,
        this.p(`${path}.dense.bias`),
        residual,
        w,
        b,
        c.layerNormEps,
        folded,
        true, // nothing but this LayerNorm reads the dense output
      );
    };

    const e = "bert.embeddings";
    // Each block frees what no backward will read as soon as it is done (see tidy): with nothing
    // to backpropagate (head mode's encoder, evaluation), every intermediate but its result.
    // (word + position) + token type: one gather-and-sum kernel, then LayerNorm; with a LoRA on an
    // embedding, each lookup plus its LoRA, the last add inside the LayerNorm kernel.
    const tables = ["word", "position", "token_type"].map((n) => `${e}.${n}_embeddings`);
    const ids = [batch.ids, batch.positions, batch.typeIds];
    const [normW, normB] = [this.p(`${e}.LayerNorm.weight`), this.p(`${e}.LayerNorm.bias`)];
    let h = tidy(() =>
      drop(
        tables.some((t) => this.loraEmbedding.has(t))
          ? residualLayerNorm(
            add(this.embed(tables[0], ids[0]), this.embed(tables[1], ids[1])),
            null,
            this.embed(tables[2], ids[2]),
            normW,
            normB,
            c.layerNormEps,
          )
          : layerNorm(
            embeddingSum(
              [
                this.p(`${tables[0]}.weight`),
                this.p(`${tables[1]}.weight`),
                this.p(`${tables[2]}.weight`),
              ],
              [ids[0], ids[1], ids[2]],
            ),
            normW,
            normB,
            c.layerNormEps,
          ),
        c.hiddenDropoutProb,
        all,
      )
    );

    // Only the [CLS] rows of the last layer's output reach the pooler. Every token's K and V
    // still feed that layer's attention, but its queries and everything after run on the B [CLS]
    // rows alone (gathered; the gather's backward scatters their gradient back), each dropout
    // drawing the rows' masks at their places in the full tensors (row b·T of (B·T, ·)): the same
    // function as all rows, at (T - 1)/T less of the layer's work but K and V.
    const clsOnly = lastLayerRows === "cls" && c.numHiddenLayers > 0;
    for (let i = 0; i < c.numHiddenLayers; i++) {
      const l = `bert.encoder.layer.${i}`;
      const pruned = clsOnly && i === c.numHiddenLayers - 1;
      const rowsAt = pruned ? T : all;
      const input = h;
      h = tidy(() => {
        // The rows whose output is wanted: the queries' input and the attention's residual.
        const rows = pruned ? embedding(h, batch.clsRows) : h; // (R, H), or (B, H) pruned
        const merged = tidy(() =>
          selfAttention(
            lin(`${l}.attention.self.query`, rows, rowsAt),
            lin(`${l}.attention.self.key`, h, all),
            lin(`${l}.attention.self.value`, h, all),
            batch.mask,
            { batch: B, seqLen: T, heads: c.numAttentionHeads, clsOnly: pruned },
            dropSpec(c.attentionProbsDropoutProb),
            batch.packed,
          )
        );
        h = tidy(() =>
          output(`${l}.attention.output`, merged, rows, `${l}.attention.output.LayerNorm`, rowsAt)
        );
        const inter = tidy(() => gelu(lin(`${l}.intermediate.dense`, h, rowsAt)));
        return output(`${l}.output`, inter, h, `${l}.output.LayerNorm`, rowsAt);
      });
      dispose(input); // nothing but this layer's backwards reads the layer's input
    }
    // The [CLS] row of each sequence, (B, H): all the last layer made when it made no other.
    const cls = clsOnly ? h : embedding(h, batch.clsRows);
    const pooled = tanh(lin("bert.pooler.dense", cls, 1));
    return lin("classifier", drop(pooled, c.classifierDropout, 1), 1); // (B, numLabels)
  }

  /** Weights on the CPU under transformers' names, for saving. */
  async readWeights(): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
    const data = await readTensors([...this.params.values()]);
    return new Map(
      [...this.params].map(([name, t], i) => [name, { shape: [...t.shape], data: data[i] }]),
    );
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
