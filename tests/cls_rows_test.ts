// The last encoder layer computed on the [CLS] rows alone (src/bert/model.ts, setLastLayerRows):
// dropout() and residualLayerNorm() on rows taken at a stride draw the masks of those rows'
// places in the full tensor, and attention for the [CLS] queries alone (fused and composed) is
// the full attention's [CLS] rows, against float64 references; and the pruned model is the same
// function as the all-rows one: logits and every gradient, in training with every dropout on and
// in evaluation, for full, head and LoRA training, through both attention paths.
import assert from "node:assert/strict";
import { assertClose, checkOp, randomVec, rng } from "./helpers.ts";
import * as R from "./reference/ops_ref.ts";
import { initGpu } from "../src/gpu/kernel.ts";
import { Tensor } from "../src/tensor.ts";
import { dropout } from "../src/ops/dropout.ts";
import { residualLayerNorm } from "../src/ops/residual_layer_norm.ts";
import { setRowReductionLayout } from "../src/ops/variants.ts";
import { attention, type AttentionDropout } from "../src/ops/attention.ts";
import { composedAttention, setAttentionPath } from "../src/nn/attention.ts";
import { BertForSequenceClassification, setLastLayerRows } from "../src/bert/model.ts";
import { stepGrads, tinyModel } from "./model_steps.ts";

const rand = rng(23);
const vec = (n: number, scale = 1) => randomVec(n, rand, scale);

/**
 * dropout()'s factor (1/(1 - prob) kept, else 0) for a (rows, cols) tensor whose row r is row
 * r·stride of the (rows·stride, cols) tensor the mask is drawn over: from the reference mask.
 */
function strideMask(
  rows: number,
  cols: number,
  stride: number,
  prob: number,
  seed: number,
  s: number,
) {
  const full = R.dropoutForwardRef(new Float64Array(rows * stride * cols).fill(1), prob, seed, s);
  return Float64Array.from({ length: rows * cols }, (_, i) => {
    const r = Math.floor(i / cols), c = i % cols;
    return full[r * stride * cols + c];
  });
}

Deno.test("dropout 7x13 at row stride 5: forward and dX use the mask of rows 0, 5, 10, … of a 35x13 tensor", async () => {
  const [rows, cols, stride, prob, seed, stream] = [7, 13, 5, 0.4, 77, 3];
  const mask = strideMask(rows, cols, stride, prob, seed, stream);
  // Rows at stride 1 draw other masks: the check below would catch a stride ignored.
  const plain = R.dropoutForwardRef(new Float64Array(rows * cols).fill(1), prob, seed, stream);
  assert.ok(plain.some((v, i) => v !== mask[i]), "the strided mask differs from the plain one");
  await checkOp({
    inputs: [{ data: vec(rows * cols), shape: [rows, cols], grad: true }],
    gpu: ([x]) => dropout(x, prob, seed, stream, stride),
    forward: ([x]) => x.map((v, i) => v * mask[i]),
    backward: (_xs, d) => [d.map((v, i) => v * mask[i])],
  });
  await initGpu();
  const x = Tensor.from(new Float32Array(4).fill(1), [2, 2]);
  assert.throws(() => dropout(x, 0.5, 0, 0, 0), /row stride must be a positive integer, got 0/);
  x.release();
});

for (const layout of ["thread", "workgroup"] as const) {
  for (const cols of [67, 68]) {
    Deno.test(`residualLayerNorm 5x${cols} at row stride 6, dropout 0.3, row per ${layout}: forward, dBranch, dBranchBias, dResidual, dWeight, dBias`, async () => {
      setRowReductionLayout(layout);
      try {
        const [rows, stride, prob, seed, stream, eps] = [5, 6, 0.3, 9, 4, 1e-12];
        const n = rows * cols;
        const mask = strideMask(rows, cols, stride, prob, seed, stream);
        const z = (br: Float64Array, bb: Float64Array, res: Float64Array) =>
          br.map((v, i) => (v + bb[i % cols]) * mask[i] + res[i]);
        await checkOp({
          inputs: [
            { data: vec(n, 3), shape: [rows, cols], grad: true },
            { data: vec(cols), shape: [cols], grad: true },
            { data: vec(n, 2), shape: [rows, cols], grad: true },
            { data: vec(cols).map((v) => 1 + 0.5 * v), shape: [cols], grad: true },
            { data: vec(cols), shape: [cols], grad: true },
          ],
          gpu: ([br, bb, res, w, b]) =>
            residualLayerNorm(br, bb, res, w, b, eps, { prob, seed, stream, rows: stride }),
          forward: ([br, bb, res, w, b]) =>
            R.layerNormForwardRef(z(br, bb, res), w, b, rows, cols, eps),
          backward: ([br, bb, res, w], d) => {
            const [dz, dW, dB] = R.layerNormBackwardRef(z(br, bb, res), w, d, rows, cols, eps);
            const dBranch = dz.map((v, i) => v * mask[i]);
            const dBranchBias = new Float64Array(cols);
            dBranch.forEach((v, i) => (dBranchBias[i % cols] += v));
            return [dBranch, dBranchBias, dz, dW, dB];
          },
        });
      } finally {
        setRowReductionLayout(null);
      }
    });
  }
}

// [CLS] queries alone against the float64 reference of full attention: Q (B, H) placed at rows
// b·T of a (B·T, H) Q whose other rows are zero, dO likewise (the other rows' outputs then add
// nothing to dK, dV); the output and dQ are the reference's rows b·T. Odd shapes as in
// ops_test.ts: T 7, 3 heads (of 8 for the fused kernel, 5 for the composed path), padded keys.
const CLS = { batch: 3, seqLen: 7, heads: 3, clsOnly: true };
for (
  const [name, attend, D] of [
    ["attention (fused)", attention, 8],
    ["composedAttention", composedAttention, 5],
  ] as const
) {
  for (const drop of [null, { prob: 0.4, seed: 11, stream: 4 }] as (AttentionDropout | null)[]) {
    Deno.test(`${name}, [CLS] queries alone (B 3, T 7, 3 heads of ${D}, padded keys, ${drop ? `dropout p ${drop.prob}` : "no dropout"}): forward, dQ, dK, dV`, async () => {
      const { batch: B, seqLen: T, heads } = CLS, H = heads * D;
      const n = B * heads * T * T;
      const f = drop
        ? R.dropoutForwardRef(new Float64Array(n).fill(1), drop.prob, drop.seed, drop.stream)
        : undefined;
      const mask = Float64Array.from(
        { length: B * T },
        (_, i) => (i % T < T - (i / T | 0) * 2 ? 1 : 0),
      );
      /** (B, H) rows placed at rows b·T of a zero (B·T, H). */
      const spread = (x: Float64Array) => {
        const out = new Float64Array(B * T * H);
        for (let b = 0; b < B; b++) out.set(x.subarray(b * H, (b + 1) * H), b * T * H);
        return out;
      };
      const clsRows = (x: Float64Array) =>
        Float64Array.from({ length: B * H }, (_, i) => x[Math.floor(i / H) * T * H + i % H]);
      await checkOp({
        inputs: [
          { data: vec(B * H, 2), shape: [B, H], grad: true },
          { data: vec(B * T * H, 2), shape: [B * T, H], grad: true },
          { data: vec(B * T * H), shape: [B * T, H], grad: true },
          { data: mask, shape: [B, T] },
        ],
        gpu: ([q, k, v, m]) => attend(q, k, v, m, CLS, drop),
        forward: ([q, k, v, m]) =>
          clsRows(R.attentionForwardRef(spread(q), k, v, m, B, T, heads, f)),
        backward: ([q, k, v, m], d) => {
          const [dQ, dK, dV] = R.attentionBackwardRef(
            spread(q),
            k,
            v,
            m,
            B,
            T,
            heads,
            spread(d),
            f,
          );
          return [clsRows(dQ), dK, dV, null];
        },
      });
    });
  }
}

/** Logits and every trainable tensor's gradient of one step, with the last layer on `rows`. */
async function step(
  model: BertForSequenceClassification,
  trainable: Map<string, Tensor>,
  train: boolean,
  rows: "cls" | "all",
): Promise<Map<string, Float32Array>> {
  setLastLayerRows(rows);
  try {
    return await stepGrads(model, trainable, train);
  } finally {
    setLastLayerRows("cls");
  }
}

for (const mode of ["full", "head", "lora"] as const) {
  for (const train of [true, false]) {
    for (const path of ["fused", "composed"] as const) {
      Deno.test(`BERT ${mode} ${train ? "training, dropout on" : "evaluation"}, ${path} attention: last layer on the [CLS] rows gives the all-rows logits and gradients`, async () => {
        await initGpu();
        const { model, trainable } = tinyModel(mode);
        setAttentionPath(path);
        let pruned, all;
        try {
          pruned = await step(model, trainable, train, "cls");
          all = await step(model, trainable, train, "all");
        } finally {
          setAttentionPath(null);
        }
        // The same arithmetic on the rows both compute; the weight gradients of the pruned
        // dense layers sum B rows where all rows sum B·T with zeros between them, so f32
        // summation order alone may differ (~1e-7). A mask drawn at a wrong place moves them
        // by ~1e-1.
        for (const [k, want] of all) {
          const got = pruned.get(k)!;
          if (k.endsWith("attention.self.key.bias")) {
            // Its true gradient is 0 (softmax ignores a per-row shift): rounding noise on both.
            const small = Math.max(...got.map(Math.abs), ...want.map(Math.abs));
            assert.ok(small < 1e-6, `${k}: gradient ${small} should be rounding noise`);
          } else assertClose(got, want, 1e-6, k);
        }
        model.release();
      });
    }
  }
}
