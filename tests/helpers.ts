// One helper checks an op: GPU forward and input gradients vs the float64 reference, and the
// reference's gradients vs central finite differences of Σ ref(x)·dOut.
import assert from "node:assert/strict";
import { initGpu } from "../src/gpu/kernel.ts";
import { Tensor } from "../src/tensor.ts";
import { backward, endStep } from "../src/autograd/tape.ts";
import * as R from "./reference/ops_ref.ts";
import type { Vec } from "./reference/ops_ref.ts";
import { matmul } from "../src/ops/matmul.ts";
import { linear, loraLinear } from "../src/ops/linear.ts";
import { setTransposedALayout } from "../src/ops/variants.ts";

// Silences lavapipe's warning under Deno; the browser test page imports this file without Deno.
export const XDG = typeof Deno === "undefined"
  ? undefined
  : Deno.env.get("XDG_RUNTIME_DIR") ?? Deno.env.set("XDG_RUNTIME_DIR", "/tmp");

/** Whether a file exists (for tests that skip when ../shared or a tool is absent). */
export function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Deterministic uniform(-1, 1) values (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

export function randomVec(n: number, rand: () => number, scale = 1): Float64Array {
  return Float64Array.from({ length: n }, () => rand() * scale);
}

/** Norm-wise relative error max|got - want| / max|want|; NaN anywhere (poison) counts as ∞. */
export function relError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  assert.equal(got.length, want.length, "length mismatch");
  let diff = 0, scale = 0;
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(got[i])) return Infinity;
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

export function assertClose(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: number,
  what: string,
) {
  const e = relError(got, want);
  assert.ok(e <= tol, `${what}: relative error ${e.toExponential(2)} > ${tol}`);
}

/** The f32 value the GPU sees, so references start from exactly the same inputs. */
export const f32 = (v: Float64Array): Float64Array => Float64Array.from(Float32Array.from(v));

export interface OpInput {
  data: Float64Array;
  shape: number[];
  grad?: boolean;
}

export interface OpCheck {
  inputs: OpInput[];
  gpu: (ts: Tensor[]) => Tensor;
  forward: (xs: Vec[]) => Vec;
  backward: (xs: Vec[], dOut: Vec) => (Vec | null)[];
  /** Relative tolerance for f32 vs float64 (default 1e-5); say why when looser. */
  tol?: number;
  seed?: number;
}

/** Central differences of L(x) = Σ forward(x)·dOut, on up to `samples` elements per input. */
export function finiteDifferenceCheck(c: OpCheck, xs: Vec[], dOut: Vec, samples = 24): void {
  const analytic = c.backward(xs, dOut);
  const loss = () => c.forward(xs).reduce((s, v, i) => s + v * dOut[i], 0);
  const rand = rng(7);
  c.inputs.forEach((inp, k) => {
    if (!inp.grad) return;
    const g = analytic[k]!;
    const idx = xs[k].length <= samples
      ? [...xs[k].keys()]
      : Array.from({ length: samples }, () => Math.floor((rand() + 1) / 2 * xs[k].length));
    const h = 1e-6;
    const got: number[] = [], want: number[] = [];
    for (const i of idx) {
      const v = xs[k][i];
      xs[k][i] = v + h;
      const up = loss();
      xs[k][i] = v - h;
      const down = loss();
      xs[k][i] = v;
      want.push((up - down) / (2 * h));
      got.push(g[i]);
    }
    // Float64 central differences with h = 1e-6 are accurate to ~1e-8 relative here.
    assertClose(got, want, 1e-6, `finite differences, input ${k}`);
  });
}

export async function checkOp(c: OpCheck): Promise<void> {
  await initGpu();
  const rand = rng(c.seed ?? 1);
  const xs = c.inputs.map((i) => f32(i.data));
  const want = c.forward(xs);
  const dOut = f32(randomVec(want.length, rand));
  finiteDifferenceCheck(c, xs, dOut);

  Tensor.poison = true;
  try {
    const ts = c.inputs.map((inp, k) => Tensor.from(xs[k], inp.shape, { requiresGrad: inp.grad }));
    const out = c.gpu(ts);
    const tol = c.tol ?? 1e-5;
    assertClose(await out.read(), want, tol, "forward");
    const wantGrads = c.backward(xs, dOut);
    if (c.inputs.some((i) => i.grad)) {
      backward(out, Tensor.from(dOut, out.shape));
      for (let k = 0; k < ts.length; k++) {
        if (!c.inputs[k].grad) continue;
        assert.ok(ts[k].grad, `input ${k} got no gradient`);
        assertClose(await ts[k].grad!.read(), wantGrads[k]!, tol, `gradient of input ${k}`);
      }
    }
    endStep();
    ts.forEach((t) => t.release());
  } finally {
    Tensor.poison = false;
  }
}

/** op(A)·op(B) with A (batch?, M, K) or stored transposed, likewise B: forward, dA, dB. */
/** Runs a check under both ways of computing Aᵀ·B (src/ops/variants.ts), so each is verified. */
async function underBothTransposedA(run: () => Promise<void>): Promise<void> {
  for (const layout of ["in-kernel", "materialize"] as const) {
    setTransposedALayout(layout);
    try {
      await run();
    } finally {
      setTransposedALayout(null);
    }
  }
}

export function checkMatmul(
  transA: boolean,
  transB: boolean,
  [batch, M, K, N]: number[],
  rand: () => number,
): Promise<void> {
  const dims = (rows: number, cols: number, t: boolean) => {
    const shape = t ? [cols, rows] : [rows, cols];
    return batch > 1 ? [batch, ...shape] : shape;
  };
  return underBothTransposedA(() =>
    checkOp({
      inputs: [
        { data: randomVec(batch * M * K, rand), shape: dims(M, K, transA), grad: true },
        { data: randomVec(batch * K * N, rand), shape: dims(K, N, transB), grad: true },
      ],
      gpu: ([a, b]) => matmul(a, b, transA, transB),
      forward: ([a, b]) => R.matmulForwardRef(a, b, batch, M, K, N, transA, transB),
      backward: ([a, b], d) => R.matmulBackwardRef(a, b, d, batch, M, K, N, transA, transB),
    })
  );
}

/** linear with a trainable weight and bias: forward, dX, dWeight, dBias. */
export function checkLinear(
  rows: number,
  inF: number,
  outF: number,
  rand: () => number,
): Promise<void> {
  return underBothTransposedA(() =>
    checkOp({
      inputs: [
        { data: randomVec(rows * inF, rand), shape: [rows, inF], grad: true },
        { data: randomVec(outF * inF, rand), shape: [outF, inF], grad: true },
        { data: randomVec(outF, rand), shape: [outF], grad: true },
      ],
      gpu: ([x, w, b]) => linear(x, w, b),
      forward: ([x, w, b]) => R.loraLinearForwardRef(x, w, b, null, null, rows, inF, outF, 0, 0),
      backward: ([x, w], d) => {
        const g = R.loraLinearBackwardRef(x, w, null, null, d, rows, inF, outF, 0, 0);
        return [g.dX, g.dW, g.dBias];
      },
    })
  );
}

/** Central differences (h = 1e-5, float64) of a scalar loss for every element of x. */
export function fdGrad(x: Float64Array, loss: () => number): Float64Array {
  const h = 1e-5;
  return x.map((v, i) => {
    x[i] = v + h;
    const up = loss();
    x[i] = v - h;
    const down = loss();
    x[i] = v;
    return (up - down) / (2 * h);
  });
}

/** loraLinear (W and b trainable or frozen): forward and the gradients of every trainable input. */
export function checkLoraLinear(
  rows: number,
  inF: number,
  outF: number,
  r: number,
  scale: number,
  trainBase: boolean,
  rand: () => number,
): Promise<void> {
  return underBothTransposedA(() =>
    checkOp({
      inputs: [
        { data: randomVec(rows * inF, rand), shape: [rows, inF], grad: true },
        { data: randomVec(outF * inF, rand), shape: [outF, inF], grad: trainBase },
        { data: randomVec(outF, rand), shape: [outF], grad: trainBase },
        { data: randomVec(r * inF, rand), shape: [r, inF], grad: true },
        { data: randomVec(outF * r, rand), shape: [outF, r], grad: true },
      ],
      gpu: ([x, w, b, a, bb]) => loraLinear(x, w, b, a, bb, scale),
      forward: ([x, w, b, a, bb]) =>
        R.loraLinearForwardRef(x, w, b, a, bb, rows, inF, outF, r, scale),
      backward: ([x, w, _b, a, bb], d) => {
        const g = R.loraLinearBackwardRef(x, w, a, bb, d, rows, inF, outF, r, scale);
        return [g.dX, trainBase ? g.dW : null, trainBase ? g.dBias : null, g.dA, g.dB];
      },
    })
  );
}
