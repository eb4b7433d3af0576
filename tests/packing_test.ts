// Packed batches (src/data/batches.ts): the encoder computing only the real tokens' rows (plus
// filler up to a bucket) is the same function as the padded layout's: logits and every
// gradient, in training with every dropout on (masks drawn at the padded places) and in
// evaluation, for full, head and LoRA training, through both attention paths and both choices
// of the last layer's rows; and the rows a batch packs are the ones its docstring promises.
import assert from "node:assert/strict";
import { assertClose, checkOp, randomVec, rng } from "./helpers.ts";
import * as R from "./reference/ops_ref.ts";
import { gpu, initGpu } from "../src/gpu/kernel.ts";
import { BufferPool } from "../src/gpu/buffer_pool.ts";
import { Tensor } from "../src/tensor.ts";
import { backward, endStep } from "../src/autograd/tape.ts";
import { setLastLayerRows } from "../src/bert/model.ts";
import { selfAttention, setAttentionPath } from "../src/nn/attention.ts";
import { dropout } from "../src/ops/dropout.ts";
import { residualLayerNorm } from "../src/ops/residual_layer_norm.ts";
import { setRowReductionLayout } from "../src/ops/variants.ts";
import {
  type Encoding,
  makeBatch,
  PACK_BUCKET,
  packedRows,
  packedTables,
  setPacking,
} from "../src/data/batches.ts";
import { type Mode, stepGrads, tinyModel } from "./model_steps.ts";

const rand = rng(29);
const vec = (n: number, scale = 1) => randomVec(n, rand, scale);
const T = 9;
const seq = (ids: number[], types?: number[]): Encoding => ({
  inputIds: [...ids, ...Array(T - ids.length).fill(0)],
  attentionMask: [...ids.map(() => 1), ...Array(T - ids.length).fill(0)],
  ...(types ? { tokenTypeIds: [...types, ...Array(T - types.length).fill(0)] } : {}),
});
/**
 * Seven sequences of T 9, 30 real tokens of 63 positions: one full, one of length 2, a sentence
 * pair (token types 0 0 0 1 1), and others; packed into 32 rows, two of them filler (positions
 * 11 and 12, the lowest padding positions: the length-2 sequence's).
 */
const PACK_BATCH: Encoding[] = [
  seq([2, 5, 9, 16, 4, 3, 7, 8, 3]),
  seq([2, 3]),
  seq([2, 7, 3, 11, 3], [0, 0, 0, 1, 1]),
  seq([2, 11, 3]),
  seq([2, 6, 10, 3]),
  seq([2, 13, 14, 15, 12, 3]),
  seq([2]),
];
const PACK_LABELS = [1, 0, 1, 1, 0, 0, 1];
const REAL = PACK_BATCH.reduce((n, e) => n + e.attentionMask.reduce((a, b) => a + b, 0), 0);
const maskOf = (b: Encoding[]) => b.flatMap((e) => e.attentionMask);
/** A u32 tensor's values (Tensor.read() reads f32). */
const readU32 = async (t: Tensor) =>
  Array.from(new Uint32Array(await gpu().read(t.buffer, t.bytes)));

Deno.test("packedRows: every real token and [CLS], then the lowest padding positions up to a multiple of 32, capped at B·T", () => {
  assert.equal(REAL, 30);
  const rows = packedRows(maskOf(PACK_BATCH), 7, T);
  assert.equal(rows.length, PACK_BUCKET);
  const real = maskOf(PACK_BATCH).flatMap((m, i) => (m ? [i] : []));
  assert.deepEqual(rows, [...real, 11, 12].sort((a, b) => a - b));
  // 33 real positions take the next bucket, 64, capped at B·T = 36: every row.
  const full = [1, 1, 1, 1, 1, 1, 1, 1, 1];
  const mask4 = [full, full, full, [1, 1, 1, 1, 1, 1, 0, 0, 0]].flat();
  assert.equal(packedRows(mask4, 4, T).length, 36);
  // A sequence with no real token keeps all its positions; one whose [CLS] is masked keeps it.
  const odd = [[0, 0, 0], [0, 1, 0]].flat();
  assert.deepEqual(packedRows(odd, 2, 3), [0, 1, 2, 3, 4, 5]);
});

Deno.test("makeBatch: packed, the rows and [CLS] rows of the packed layout; off, or nothing to drop, every position", async () => {
  await initGpu();
  const packed = makeBatch(PACK_BATCH, PACK_LABELS, 17);
  assert.equal(packed.rows, 32);
  assert.equal(packed.ids.size, 32);
  const rows = packedRows(maskOf(PACK_BATCH), 7, T);
  assert.deepEqual(
    await readU32(packed.clsRows),
    PACK_BATCH.map((_, b) => rows.indexOf(b * T)),
  );
  assert.deepEqual(await readU32(packed.packed!.rowOf), rows);
  const ids = PACK_BATCH.flatMap((e) => e.inputIds);
  assert.deepEqual(await readU32(packed.ids), rows.map((i) => ids[i]));
  assert.deepEqual(await readU32(packed.positions), rows.map((i) => i % T));
  setPacking(false);
  try {
    const padded = makeBatch(PACK_BATCH, PACK_LABELS, 17);
    assert.equal(padded.rows, 63);
    assert.equal(padded.packed, null);
  } finally {
    setPacking(true);
  }
  const fullRows = makeBatch([PACK_BATCH[0]], [1], 17);
  assert.equal(fullRows.packed, null, "a batch with no padding computes every row as it is");
  endStep();
});

Deno.test("dropout with a row table: row r takes the mask of row rowOf[r] of the full tensor", async () => {
  await initGpu();
  const [cols, prob, seed, stream] = [13, 0.4, 77, 3];
  const places = [0, 3, 4, 9, 10, 11, 20];
  const full = R.dropoutForwardRef(new Float64Array(21 * cols).fill(1), prob, seed, stream);
  const x = randomVec(places.length * cols, rng(3));
  const xt = Tensor.from(x, [places.length, cols], { requiresGrad: true });
  const table = Tensor.from(places, [places.length], { dtype: "u32" });
  const y = dropout(xt, prob, seed, stream, table);
  const d = randomVec(places.length * cols, rng(4));
  backward(y, Tensor.from(d, [places.length, cols]));
  const factor = (i: number) => full[places[Math.floor(i / cols)] * cols + i % cols];
  assertClose(await y.read(), x.map((v, i) => v * factor(i)), 1e-6, "y");
  assertClose(await xt.grad!.read(), d.map((v, i) => v * factor(i)), 1e-6, "dX");
  endStep();
  [xt, table].forEach((t) => t.release());
});

for (const layout of ["thread", "workgroup"] as const) {
  for (const cols of [67, 68]) {
    Deno.test(`residualLayerNorm 5x${cols} with a row table, dropout 0.3, row per ${layout}: the masks of rows 1, 2, 6, 7, 11 of a 12x${cols} tensor; forward, dBranch, dResidual, dWeight, dBias`, async () => {
      setRowReductionLayout(layout);
      await initGpu();
      const places = [1, 2, 6, 7, 11];
      const table = Tensor.from(places, [places.length], { dtype: "u32" });
      try {
        const [rows, prob, seed, stream, eps] = [places.length, 0.3, 9, 4, 1e-12];
        const n = rows * cols;
        const full = R.dropoutForwardRef(new Float64Array(12 * cols).fill(1), prob, seed, stream);
        const mask = Float64Array.from(
          { length: n },
          (_, i) => full[places[Math.floor(i / cols)] * cols + i % cols],
        );
        const z = (br: Float64Array, res: Float64Array) => br.map((v, i) => v * mask[i] + res[i]);
        await checkOp({
          inputs: [
            { data: vec(n, 3), shape: [rows, cols], grad: true },
            { data: vec(n, 2), shape: [rows, cols], grad: true },
            { data: vec(cols).map((v) => 1 + 0.5 * v), shape: [cols], grad: true },
            { data: vec(cols), shape: [cols], grad: true },
          ],
          gpu: ([br, res, w, b]) =>
            residualLayerNorm(br, null, res, w, b, eps, { prob, seed, stream, rows: table }),
          forward: ([br, res, w, b]) => R.layerNormForwardRef(z(br, res), w, b, rows, cols, eps),
          backward: ([br, res, w], d) => {
            const [dz, dW, dB] = R.layerNormBackwardRef(z(br, res), w, d, rows, cols, eps);
            return [dz.map((v, i) => v * mask[i]), dz, dW, dB];
          },
        });
        const x = Tensor.from(new Float32Array(n), [rows, cols]);
        const c = Tensor.from(new Float32Array(cols), [cols]);
        assert.throws(
          () => residualLayerNorm(x, c, x, c, c, eps, { prob, seed, stream, rows: table }),
          /a row table must be .* with no branch bias/,
        );
        [x, c].forEach((t) => t.release());
      } finally {
        setRowReductionLayout(null);
        table.release();
      }
    });
  }
}

// Attention on packed rows against the float64 reference of padded attention, odd shapes as in
// ops_test.ts (B 3, T 7, 3 heads of 8 for the fused kernel, 5 for the composed path), with
// sequences of 7, 5 and 3 tokens: 15 rows computed, the 15th a filler (padding position 12,
// computed but masked); positions not computed are zero rows of the padded Q, K, V and dO, and
// must get no output or gradient. Tensors start as NaN (checkOp's poison): a kernel reading a
// row or scratch entry it never wrote fails.
const ATT = { batch: 3, seqLen: 7, heads: 3 };
const ATT_MASK = [7, 5, 3].flatMap((n) => Array.from({ length: 7 }, (_, t) => (t < n ? 1 : 0)));
const ATT_ROWS = [...ATT_MASK.flatMap((m, i) => (m ? [i] : [])), 12].sort((a, b) => a - b);
for (
  const [path, D] of [["fused", 8], ["composed", 5]] as const
) {
  for (const drop of [null, { prob: 0.4, seed: 11, stream: 4 }]) {
    for (const clsOnly of [false, true]) {
      Deno.test(`selfAttention (${path}) on packed rows${clsOnly ? ", [CLS] queries alone" : ""} (B 3, T 7, 3 heads of ${D}, 15 of 21 rows, ${drop ? `dropout p ${drop.prob}` : "no dropout"}): forward, dQ, dK, dV`, async () => {
        await initGpu();
        const { batch: B, seqLen: T, heads } = ATT, H = heads * D, N = ATT_ROWS.length;
        const shape = { ...ATT, clsOnly };
        const tables = packedTables(ATT_MASK, ATT_ROWS, B, T);
        const u32 = (a: ArrayLike<number>) => Tensor.from(a, [a.length], { dtype: "u32" });
        const packed = {
          keys: u32(tables.keys),
          padded: u32(tables.padded),
          rowOf: u32(ATT_ROWS),
        };
        const f = drop
          ? R.dropoutForwardRef(
            new Float64Array(B * heads * T * T).fill(1),
            drop.prob,
            drop.seed,
            drop.stream,
          )
          : undefined;
        const m = Float64Array.from(ATT_MASK);
        const Qrows = clsOnly ? B : N;
        const qPlace = (r: number) => (clsOnly ? r * T : ATT_ROWS[r]);
        /** Rows placed at their positions of a zero (B·T, H). */
        const spread = (x: Float64Array, place: (r: number) => number) => {
          const out = new Float64Array(B * T * H);
          for (let r = 0; r < x.length / H; r++) {
            out.set(x.subarray(r * H, (r + 1) * H), place(r) * H);
          }
          return out;
        };
        const take = (x: Float64Array, rows: number, place: (r: number) => number) =>
          Float64Array.from(
            { length: rows * H },
            (_, i) => x[place(Math.floor(i / H)) * H + i % H],
          );
        const kPlace = (r: number) => ATT_ROWS[r];
        setAttentionPath(path);
        try {
          await checkOp({
            inputs: [
              { data: vec(Qrows * H, 2), shape: [Qrows, H], grad: true },
              { data: vec(N * H, 2), shape: [N, H], grad: true },
              { data: vec(N * H), shape: [N, H], grad: true },
              { data: m, shape: [B, T] },
            ],
            gpu: ([q, k, v, mask]) => selfAttention(q, k, v, mask, shape, drop, packed),
            forward: ([q, k, v]) =>
              take(
                R.attentionForwardRef(
                  spread(q, qPlace),
                  spread(k, kPlace),
                  spread(v, kPlace),
                  m,
                  B,
                  T,
                  heads,
                  f,
                ),
                Qrows,
                qPlace,
              ),
            backward: ([q, k, v], d) => {
              const [dQ, dK, dV] = R.attentionBackwardRef(
                spread(q, qPlace),
                spread(k, kPlace),
                spread(v, kPlace),
                m,
                B,
                T,
                heads,
                spread(d, qPlace),
                f,
              );
              return [take(dQ, Qrows, qPlace), take(dK, N, kPlace), take(dV, N, kPlace), null];
            },
          });
        } finally {
          setAttentionPath(null);
          Object.values(packed).forEach((t) => t.release());
        }
      });
    }
  }
}

/** One step of `model` with packing on or off. */
async function step(
  m: ReturnType<typeof tinyModel>,
  train: boolean,
  packing: boolean,
): Promise<Map<string, Float32Array>> {
  setPacking(packing);
  try {
    return await stepGrads(m.model, m.trainable, train, PACK_BATCH, PACK_LABELS);
  } finally {
    setPacking(true);
  }
}

/** Packed equals padded: logits and every gradient, to f32 rounding. */
function assertSame(packed: Map<string, Float32Array>, padded: Map<string, Float32Array>) {
  for (const [k, want] of padded) {
    const got = packed.get(k)!;
    if (k.endsWith("attention.self.key.bias")) {
      // Its true gradient is 0 (softmax ignores a per-row shift): rounding noise on both.
      const small = Math.max(...got.map(Math.abs), ...want.map(Math.abs));
      assert.ok(small < 1e-6, `${k}: gradient ${small} should be rounding noise`);
    } else assertClose(got, want, 1e-5, k);
  }
}

for (const mode of ["full", "head", "lora"] as Mode[]) {
  for (const last of ["cls", "all"] as const) {
    for (const path of ["fused", "composed"] as const) {
      Deno.test(`BERT ${mode} training, every dropout on, ${path} attention, last layer on ${last} rows: packed batch gives the padded logits and gradients`, async () => {
        await initGpu();
        // Odd sizes: FFN 13, 3 labels; max_position_embeddings for T 9.
        const m = tinyModel(mode, { intermediate_size: 13, max_position_embeddings: 9 });
        setAttentionPath(path);
        setLastLayerRows(last);
        try {
          const padded = await step(m, true, false);
          const packed = await step(m, true, true);
          assertSame(packed, padded);
          // The check has teeth: another dropout seed moves the gradients.
          assert.ok(padded.size > 2);
        } finally {
          setAttentionPath(null);
          setLastLayerRows("cls");
          m.model.release();
        }
      });
    }
  }
}

for (const path of ["fused", "composed"] as const) {
  Deno.test(`BERT evaluation, ${path} attention: packed batch gives the padded logits`, async () => {
    await initGpu();
    const m = tinyModel("lora", { intermediate_size: 13 });
    setAttentionPath(path);
    try {
      assertSame(await step(m, false, true), await step(m, false, false));
    } finally {
      setAttentionPath(null);
      m.model.release();
    }
  });
}

Deno.test("BufferPool: a request takes a free buffer of its size, else the smallest of up to twice its size, else a new one, retiring the largest free one of over half its size", async () => {
  const pool = new BufferPool((await initGpu()).device);
  const [a, b] = [pool.acquire(1024), pool.acquire(1600)];
  [a, b].forEach((x) => pool.release(x));
  assert.equal(pool.acquire(1024), a, "its own size first");
  assert.equal(pool.acquire(800), b, "then up to twice its size");
  pool.release(a);
  pool.release(b);
  assert.equal(pool.acquire(700), a, "the smallest that fits");
  const c = pool.acquire(400);
  assert.ok(c !== b && c.size === 400, "more than twice its size: a new buffer");
  assert.equal(pool.allocatedBytes, 1024 + 1600 + 400);
  pool.release(c);
  const d = pool.acquire(1800); // b (1600, free) is retired for it; c (400) is not
  assert.ok(d !== b && d.size === 1808);
  // b stays counted until destroyed: its last use may still be running on the GPU.
  assert.equal(pool.allocatedBytes, 1024 + 1600 + 400 + 1808);
  const retired = pool.takeRetired();
  assert.deepEqual(retired, [b]);
  pool.destroyTaken(retired);
  assert.equal(pool.allocatedBytes, 1024 + 400 + 1808);
  const e = pool.acquire(1600);
  assert.ok(e !== b, "a retired buffer is never handed out again");
  [a, d, e].forEach((x) => pool.release(x));
  pool.trim();
});

Deno.test("packed batches of four sizes in turn (SMS-like: 288 to 448 of 512 rows, growing) take about the pool memory of padded ones, not one step's worth per size", async () => {
  const rt = await initGpu();
  const L = 32;
  const m = tinyModel("lora", { max_position_embeddings: L });
  const seqOf = (len: number): Encoding => ({
    inputIds: Array.from({ length: L }, (_, t) => (t === 0 ? 2 : t < len ? 5 + t % 11 : 0)),
    attentionMask: Array.from({ length: L }, (_, t) => (t < len ? 1 : 0)),
  });
  // 16 sequences of T 32 with 280, 340, 400 and 440 real tokens: 288 to 448 rows.
  const batches = [280, 340, 400, 440].map((real) =>
    Array.from({ length: 16 }, (_, b) => seqOf(Math.floor(real / 16) + (b < real % 16 ? 1 : 0)))
  );
  const labels = Array.from({ length: 16 }, (_, i) => i % 2);
  const grown = async (packing: boolean) => {
    await rt.device.queue.onSubmittedWorkDone();
    rt.pool.trim();
    rt.pool.resetPeak();
    const base = rt.pool.allocatedBytes;
    setPacking(packing);
    try {
      for (let round = 0; round < 2; round++) {
        for (const batch of batches) await stepGrads(m.model, m.trainable, true, batch, labels);
      }
    } finally {
      setPacking(true);
    }
    return rt.pool.peakBytes - base;
  };
  try {
    const rows = batches.map((b) => packedRows(maskOf(b), 16, L).length);
    assert.deepEqual(rows, [288, 352, 416, 448]);
    const padded = await grown(false), packed = await grown(true);
    // An exact-size pool held 2.2× padded's here, 1.7× with reuse of larger buffers alone; with
    // retirement 1.22×: a retired buffer counts until the submit after its retirement, while its
    // larger replacement is already allocated.
    assert.ok(packed <= 1.4 * padded, `packed ${packed} bytes against padded ${padded}`);
  } finally {
    m.model.release();
  }
});

Deno.test("Runtime.unsubmittedUse: a buffer is in unsubmitted use from its recorded use to the next submit; the pool destroys a retired buffer at once when it is not", async () => {
  const rt = await initGpu();
  rt.flush();
  const a = rt.pool.acquire(4096);
  assert.ok(!rt.unsubmittedUse(a), "never used");
  rt.clear(a);
  assert.ok(rt.unsubmittedUse(a), "cleared in the open encoder");
  rt.flush();
  assert.ok(!rt.unsubmittedUse(a), "submitted");
  rt.pool.release(a);
  // A pool told that nothing unsubmitted uses its buffers retires straight into destruction.
  const pool = new BufferPool(rt.device, () => false);
  pool.release(pool.acquire(1600));
  const b = pool.acquire(1800);
  assert.equal(pool.allocatedBytes, 1808, "the 1600-byte buffer is gone at once");
  assert.deepEqual(pool.takeRetired(), []);
  pool.release(b);
  pool.trim();
});
