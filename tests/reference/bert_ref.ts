// Float64 BertForSequenceClassification written from the maths of transformers' modeling_bert
// (eval mode: no dropout), with optional LoRA y = x·Wᵀ + b + s·(x·Aᵀ)·Bᵀ on Linears and PEFT's
// lora.Embedding e = W[x] + s·(Aᵀ[x])·Bᵀ on embeddings. Independent of the engine.
import { F32_MIN, normalCdfRef } from "./ops_ref.ts";

export interface RefConfig {
  hidden: number;
  layers: number;
  heads: number;
  eps: number;
}

export type Weights = Map<string, Float64Array>;
// Rows as plain number arrays inside: the same float64 arithmetic as typed arrays, without a
// typed array's allocation per row (thousands a forward, most of its time); the logits are
// returned as Float64Array rows.
type Matrix = number[][]; // rows

function linear(
  x: Matrix,
  w: Float64Array,
  b: Float64Array,
  outF: number,
  lora?: { A: Float64Array; B: Float64Array; r: number; scale: number },
): Matrix {
  const inF = x[0].length;
  return x.map((row) => {
    const y: number[] = new Array(outF);
    const xa: number[] = new Array(lora?.r ?? 0).fill(0);
    if (lora) {
      for (let q = 0; q < lora.r; q++) {
        for (let k = 0; k < inF; k++) xa[q] += row[k] * lora.A[q * inF + k];
      }
    }
    for (let o = 0; o < outF; o++) {
      let s = b[o];
      for (let k = 0; k < inF; k++) s += row[k] * w[o * inF + k];
      if (lora) {
        for (let q = 0; q < lora.r; q++) s += lora.scale * xa[q] * lora.B[o * lora.r + q];
      }
      y[o] = s;
    }
    return y;
  });
}

function layerNorm(x: Matrix, w: Float64Array, b: Float64Array, eps: number): Matrix {
  return x.map((row) => {
    const n = row.length;
    const mean = row.reduce((s, v) => s + v, 0) / n;
    const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
    return row.map((v, i) => (v - mean) / Math.sqrt(variance + eps) * w[i] + b[i]);
  });
}

const gelu = (v: number) => v * normalCdfRef(v);

export interface RefLora {
  r: number;
  scale: number;
  /** Linear path → A (r, in), B (out, r); r and scale per module when given. */
  adapters: Map<string, { A: Float64Array; B: Float64Array; r?: number; scale?: number }>;
  /** Embedding path (`bert.embeddings.word_embeddings`, …) → A (r, num), B (dim, r), PEFT's layout. */
  embeddings?: Map<string, { A: Float64Array; B: Float64Array; r: number; scale: number }>;
}

/** Logits (B, numLabels) for token ids (B, T) and attention mask (B, T). */
export function bertForwardRef(
  c: RefConfig,
  w: Weights,
  ids: number[][],
  mask: number[][],
  lora?: RefLora,
): Float64Array[] {
  const g = (k: string) => {
    const v = w.get(k);
    if (!v) throw new Error(`reference: missing ${k}`);
    return v;
  };
  const H = c.hidden, D = H / c.heads;
  const lin = (path: string, x: Matrix, outF: number) => {
    const a = lora?.adapters.get(path);
    return linear(
      x,
      g(`${path}.weight`),
      g(`${path}.bias`),
      outF,
      a && { A: a.A, B: a.B, r: a.r ?? lora!.r, scale: a.scale ?? lora!.scale },
    );
  };
  const out: Float64Array[] = [];
  for (let b = 0; b < ids.length; b++) {
    const T = ids[b].length;
    // Row `id` of an embedding table, plus s·Σ_q A[q, id]·B[i, q] when it carries LoRA.
    const emb = (name: string, id: number) => {
      const table = g(`bert.embeddings.${name}.weight`);
      const row: number[] = new Array(H);
      for (let i = 0; i < H; i++) row[i] = table[id * H + i];
      const l = lora?.embeddings?.get(`bert.embeddings.${name}`);
      if (l) {
        const num = l.A.length / l.r;
        for (let i = 0; i < H; i++) {
          for (let q = 0; q < l.r; q++) row[i] += l.scale * l.A[q * num + id] * l.B[i * l.r + q];
        }
      }
      return row;
    };
    let h: Matrix = ids[b].map((id, t) => {
      const [word, pos, type] = [
        emb("word_embeddings", id),
        emb("position_embeddings", t),
        emb("token_type_embeddings", 0),
      ];
      return word.map((v, i) => v + pos[i] + type[i]);
    });
    h = layerNorm(
      h,
      g("bert.embeddings.LayerNorm.weight"),
      g("bert.embeddings.LayerNorm.bias"),
      c.eps,
    );
    for (let l = 0; l < c.layers; l++) {
      const p = `bert.encoder.layer.${l}`;
      const q = lin(`${p}.attention.self.query`, h, H);
      const k = lin(`${p}.attention.self.key`, h, H);
      const v = lin(`${p}.attention.self.value`, h, H);
      const ctx: Matrix = Array.from({ length: T }, () => new Array(H).fill(0));
      for (let hd = 0; hd < c.heads; hd++) {
        for (let i = 0; i < T; i++) {
          const z: number[] = new Array(T);
          for (let j = 0; j < T; j++) {
            let s = 0;
            for (let d = 0; d < D; d++) s += q[i][hd * D + d] * k[j][hd * D + d];
            z[j] = s / Math.sqrt(D) + (1 - mask[b][j]) * F32_MIN;
          }
          const mx = Math.max(...z);
          const e: number[] = new Array(T);
          let sum = 0;
          for (let j = 0; j < T; j++) {
            e[j] = Math.exp(z[j] - mx);
            sum += e[j];
          }
          for (let j = 0; j < T; j++) {
            for (let d = 0; d < D; d++) ctx[i][hd * D + d] += e[j] / sum * v[j][hd * D + d];
          }
        }
      }
      const attn = lin(`${p}.attention.output.dense`, ctx, H);
      h = layerNorm(
        attn.map((r, i) => r.map((x, j) => x + h[i][j])),
        g(`${p}.attention.output.LayerNorm.weight`),
        g(`${p}.attention.output.LayerNorm.bias`),
        c.eps,
      );
      const inter = lin(`${p}.intermediate.dense`, h, g(`${p}.intermediate.dense.bias`).length).map(
        (r) => r.map(gelu),
      );
      const o = lin(`${p}.output.dense`, inter, H);
      h = layerNorm(
        o.map((r, i) => r.map((x, j) => x + h[i][j])),
        g(`${p}.output.LayerNorm.weight`),
        g(`${p}.output.LayerNorm.bias`),
        c.eps,
      );
    }
    const pooled = lin("bert.pooler.dense", [h[0]], H).map((r) => r.map(Math.tanh));
    out.push(Float64Array.from(lin("classifier", pooled, g("classifier.bias").length)[0]));
  }
  return out;
}

export function crossEntropyRef(logits: Float64Array[], labels: number[]): number {
  let total = 0;
  logits.forEach((row, i) => {
    const mx = Math.max(...row);
    total += mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0)) - row[labels[i]];
  });
  return total / labels.length;
}
