// Float64 CPU references written from the maths (not from the shaders). Each op has a forward
// and a backward that, given dOut, returns the gradient of Σ out·dOut for each input.
export type Vec = Float64Array;

export function matmulForwardRef(
  a: Vec,
  b: Vec,
  batch: number,
  M: number,
  K: number,
  N: number,
  transA: boolean,
  transB: boolean,
): Vec {
  const c = new Float64Array(batch * M * N);
  for (let z = 0; z < batch; z++) {
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = transA ? a[z * M * K + k * M + m] : a[z * M * K + m * K + k];
          const bv = transB ? b[z * K * N + n * K + k] : b[z * K * N + k * N + n];
          s += av * bv;
        }
        c[z * M * N + m * N + n] = s;
      }
    }
  }
  return c;
}

/** dop(A) = dC·op(B)ᵀ and dop(B) = op(A)ᵀ·dC, stored back in A's and B's layouts. */
export function matmulBackwardRef(
  a: Vec,
  b: Vec,
  dC: Vec,
  batch: number,
  M: number,
  K: number,
  N: number,
  transA: boolean,
  transB: boolean,
): [Vec, Vec] {
  const dA = new Float64Array(a.length);
  const dB = new Float64Array(b.length);
  for (let z = 0; z < batch; z++) {
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        const g = dC[z * M * N + m * N + n];
        for (let k = 0; k < K; k++) {
          const ai = transA ? z * M * K + k * M + m : z * M * K + m * K + k;
          const bi = transB ? z * K * N + n * K + k : z * K * N + k * N + n;
          dA[ai] += g * b[bi];
          dB[bi] += g * a[ai];
        }
      }
    }
  }
  return [dA, dB];
}

/** y = x·Wᵀ + b + scale·(x·Aᵀ)·Bᵀ (lora omitted when A is null). */
export function loraLinearForwardRef(
  x: Vec,
  w: Vec,
  bias: Vec | null,
  A: Vec | null,
  B: Vec | null,
  rows: number,
  inF: number,
  outF: number,
  r: number,
  scale: number,
): Vec {
  const y = new Float64Array(rows * outF);
  for (let i = 0; i < rows; i++) {
    const xa = new Float64Array(r);
    if (A) {
      for (let q = 0; q < r; q++) {
        for (let k = 0; k < inF; k++) xa[q] += x[i * inF + k] * A[q * inF + k];
      }
    }
    for (let o = 0; o < outF; o++) {
      let s = bias ? bias[o] : 0;
      for (let k = 0; k < inF; k++) s += x[i * inF + k] * w[o * inF + k];
      if (B) { for (let q = 0; q < r; q++) s += scale * xa[q] * B[o * r + q]; }
      y[i * outF + o] = s;
    }
  }
  return y;
}

export function loraLinearBackwardRef(
  x: Vec,
  w: Vec,
  A: Vec | null,
  B: Vec | null,
  dY: Vec,
  rows: number,
  inF: number,
  outF: number,
  r: number,
  scale: number,
): { dX: Vec; dW: Vec; dBias: Vec; dA: Vec; dB: Vec } {
  const dX = new Float64Array(x.length), dW = new Float64Array(w.length);
  const dBias = new Float64Array(outF),
    dA = new Float64Array(r * inF),
    dB = new Float64Array(outF * r);
  for (let i = 0; i < rows; i++) {
    const xa = new Float64Array(r), dxa = new Float64Array(r);
    if (A && B) {
      for (let q = 0; q < r; q++) {
        for (let k = 0; k < inF; k++) xa[q] += x[i * inF + k] * A[q * inF + k];
      }
    }
    for (let o = 0; o < outF; o++) {
      const g = dY[i * outF + o];
      dBias[o] += g;
      for (let k = 0; k < inF; k++) {
        dX[i * inF + k] += g * w[o * inF + k];
        dW[o * inF + k] += g * x[i * inF + k];
      }
      if (A && B) {
        for (let q = 0; q < r; q++) {
          dB[o * r + q] += scale * g * xa[q];
          dxa[q] += scale * g * B[o * r + q];
        }
      }
    }
    if (A && B) {
      for (let q = 0; q < r; q++) {
        for (let k = 0; k < inF; k++) {
          dA[q * inF + k] += dxa[q] * x[i * inF + k];
          dX[i * inF + k] += dxa[q] * A[q * inF + k];
        }
      }
    }
  }
  return { dX, dW, dBias, dA, dB };
}

// erf to double precision: Taylor series near 0, continued fraction for erfc in the tails.
export function erfRef(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = ax, sum = ax;
    for (let n = 1; n < 100; n++) {
      term *= -ax * ax / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * sum * 2 / Math.sqrt(Math.PI);
  }
  return Math.sign(x) * (1 - erfcTailRef(ax));
}

/** erfc(x) for x ≥ 2.5 by Lentz's continued fraction. */
export function erfcTailRef(x: number): number {
  let f = x, C = x, D = 0;
  for (let n = 1; n < 300; n++) {
    const an = n / 2;
    D = x + an * D;
    D = 1 / D;
    C = x + an / C;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / (f * Math.sqrt(Math.PI));
}

export function normalCdfRef(v: number): number {
  if (v < -3.5) return 0.5 * erfcTailRef(-v / Math.SQRT2);
  return 0.5 * (1 + erfRef(v / Math.SQRT2));
}

export const geluForwardRef = (x: Vec): Vec => x.map((v) => v * normalCdfRef(v));
export const geluBackwardRef = (x: Vec, d: Vec): Vec =>
  x.map((v, i) => d[i] * (normalCdfRef(v) + v * Math.exp(-0.5 * v * v) / Math.sqrt(2 * Math.PI)));
export const tanhForwardRef = (x: Vec): Vec => x.map(Math.tanh);
export const tanhBackwardRef = (x: Vec, d: Vec): Vec =>
  x.map((v, i) => d[i] * (1 - Math.tanh(v) ** 2));

export function layerNormForwardRef(
  x: Vec,
  w: Vec,
  b: Vec,
  rows: number,
  cols: number,
  eps: number,
): Vec {
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * cols, (r + 1) * cols);
    const mean = row.reduce((s, v) => s + v, 0) / cols;
    const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / cols;
    const rstd = 1 / Math.sqrt(variance + eps);
    for (let c = 0; c < cols; c++) y[r * cols + c] = (row[c] - mean) * rstd * w[c] + b[c];
  }
  return y;
}

/** From y = x̂·w + b, x̂ = (x - μ)/σ: dX = (dx̂ - mean(dx̂) - x̂·mean(dx̂·x̂))/σ. */
export function layerNormBackwardRef(
  x: Vec,
  w: Vec,
  dY: Vec,
  rows: number,
  cols: number,
  eps: number,
): [Vec, Vec, Vec] {
  const dX = new Float64Array(x.length), dW = new Float64Array(cols), dB = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * cols, (r + 1) * cols);
    const mean = row.reduce((s, v) => s + v, 0) / cols;
    const rstd = 1 / Math.sqrt(row.reduce((s, v) => s + (v - mean) ** 2, 0) / cols + eps);
    const xh = Array.from(row, (v) => (v - mean) * rstd);
    const dxh = xh.map((_, c) => dY[r * cols + c] * w[c]);
    const m1 = dxh.reduce((s, v) => s + v, 0) / cols;
    const m2 = dxh.reduce((s, v, c) => s + v * xh[c], 0) / cols;
    for (let c = 0; c < cols; c++) {
      dX[r * cols + c] = rstd * (dxh[c] - m1 - xh[c] * m2);
      dW[c] += dY[r * cols + c] * xh[c];
      dB[c] += dY[r * cols + c];
    }
  }
  return [dX, dW, dB];
}

export const F32_MIN = -3.4028234663852886e38;

/** HF's extended attention mask: scores·scale + (1 - mask)·finfo(float32).min, softmax over keys. */
export function maskedSoftmaxForwardRef(
  s: Vec,
  mask: Vec,
  B: number,
  H: number,
  Tq: number,
  Tk: number,
  scale: number,
): Vec {
  const p = new Float64Array(s.length);
  for (let b = 0; b < B; b++) {
    for (let row = 0; row < H * Tq; row++) {
      const base = (b * H * Tq + row) * Tk;
      const z = Array.from(
        { length: Tk },
        (_, k) => s[base + k] * scale + (1 - mask[b * Tk + k]) * F32_MIN,
      );
      const mx = Math.max(...z);
      const e = z.map((v) => Math.exp(v - mx));
      const sum = e.reduce((a, v) => a + v, 0);
      for (let k = 0; k < Tk; k++) p[base + k] = e[k] / sum;
    }
  }
  return p;
}

export function maskedSoftmaxBackwardRef(
  p: Vec,
  dP: Vec,
  rows: number,
  Tk: number,
  scale: number,
): Vec {
  const dS = new Float64Array(p.length);
  for (let r = 0; r < rows; r++) {
    let dot = 0;
    for (let k = 0; k < Tk; k++) dot += p[r * Tk + k] * dP[r * Tk + k];
    for (let k = 0; k < Tk; k++) dS[r * Tk + k] = scale * p[r * Tk + k] * (dP[r * Tk + k] - dot);
  }
  return dS;
}

export function transpose12Ref(x: Vec, A: number, B: number, C: number, D: number): Vec {
  const y = new Float64Array(x.length);
  for (let a = 0; a < A; a++) {
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        for (let d = 0; d < D; d++) {
          y[((a * C + c) * B + b) * D + d] = x[((a * B + b) * C + c) * D + d];
        }
      }
    }
  }
  return y;
}

export function embeddingForwardRef(table: Vec, ids: number[], cols: number): Vec {
  const out = new Float64Array(ids.length * cols);
  ids.forEach((id, r) => out.set(table.subarray(id * cols, (id + 1) * cols), r * cols));
  return out;
}

export function embeddingBackwardRef(vocab: number, ids: number[], cols: number, dOut: Vec): Vec {
  const d = new Float64Array(vocab * cols);
  ids.forEach((id, r) => {
    for (let c = 0; c < cols; c++) d[id * cols + c] += dOut[r * cols + c];
  });
  return d;
}

/** Mean cross-entropy: the weighted mean with every class weight 1. */
export function crossEntropyForwardRef(logits: Vec, labels: number[], classes: number): number {
  return weightedCrossEntropyForwardRef(logits, labels, classes, new Array(classes).fill(1));
}

export function crossEntropyBackwardRef(
  logits: Vec,
  labels: number[],
  classes: number,
  dLoss: number,
): Vec {
  return weightedCrossEntropyBackwardRef(
    logits,
    labels,
    classes,
    new Array(classes).fill(1),
    dLoss,
  );
}

// The dropout RNG is a specification (PCG hash of (seed, stream, index)), so the reference
// implements the same function; its statistics are tested separately.
function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

export function dropoutKeepRef(n: number, prob: number, seed: number, stream: number): boolean[] {
  const key = pcgHash((seed ^ pcgHash((stream + 0x9E3779B9) >>> 0)) >>> 0);
  return Array.from({ length: n }, (_, i) => (pcgHash((i ^ key) >>> 0) >>> 8) / 16777216 >= prob);
}

export function dropoutForwardRef(x: Vec, prob: number, seed: number, stream: number): Vec {
  const keep = dropoutKeepRef(x.length, prob, seed, stream);
  return x.map((v, i) => keep[i] ? v / (1 - prob) : 0);
}

/** torch.optim.AdamW, one step; mutates p, m, v. */
export function adamwStepRef(
  p: Vec,
  g: Vec,
  m: Vec,
  v: Vec,
  t: number,
  o: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number },
): void {
  for (let i = 0; i < p.length; i++) {
    p[i] *= 1 - o.lr * o.weightDecay;
    m[i] = o.beta1 * m[i] + (1 - o.beta1) * g[i];
    v[i] = o.beta2 * v[i] + (1 - o.beta2) * g[i] * g[i];
    const bc1 = 1 - o.beta1 ** t, bc2 = 1 - o.beta2 ** t;
    p[i] -= (o.lr / bc1) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + o.eps);
  }
}

export function sgdStepRef(p: Vec, g: Vec, lr: number, weightDecay: number): void {
  for (let i = 0; i < p.length; i++) p[i] -= lr * (g[i] + weightDecay * p[i]);
}

/** Self-attention on (B·T, H) inputs with `heads` heads: O = softmax(QKᵀ/√d + maskAdd)·V. */
function attentionHeads(
  q: Vec,
  k: Vec,
  v: Vec,
  mask: Vec,
  B: number,
  T: number,
  heads: number,
  dO?: Vec,
  drop?: Vec,
) {
  const H = q.length / (B * T), D = H / heads, s = 1 / Math.sqrt(D);
  // Dropout's factor on P (B, heads, T, T): keep/(1 - prob), or 1 without dropout.
  const f = (b: number, h: number, i: number, j: number) =>
    drop ? drop[((b * heads + h) * T + i) * T + j] : 1;
  const out = new Float64Array(q.length),
    dQ = new Float64Array(q.length),
    dK = new Float64Array(q.length),
    dV = new Float64Array(q.length);
  const at = (b: number, t: number, h: number, d: number) => (b * T + t) * H + h * D + d;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < heads; h++) {
      const P: number[][] = [];
      for (let i = 0; i < T; i++) {
        const z = Array.from({ length: T }, (_, j) => {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q[at(b, i, h, d)] * k[at(b, j, h, d)];
          return dot * s + (1 - mask[b * T + j]) * F32_MIN;
        });
        const mx = Math.max(...z),
          e = z.map((x) => Math.exp(x - mx)),
          sum = e.reduce((a, x) => a + x, 0);
        P.push(e.map((x) => x / sum));
        for (let j = 0; j < T; j++) {
          const pt = P[i][j] * f(b, h, i, j);
          for (let d = 0; d < D; d++) out[at(b, i, h, d)] += pt * v[at(b, j, h, d)];
        }
      }
      if (!dO) continue;
      for (let i = 0; i < T; i++) {
        const dP = Array.from({ length: T }, (_, j) => {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += dO[at(b, i, h, d)] * v[at(b, j, h, d)];
          return dot * f(b, h, i, j);
        });
        const rowDot = P[i].reduce((a, p, j) => a + p * dP[j], 0);
        for (let j = 0; j < T; j++) {
          const dS = P[i][j] * (dP[j] - rowDot) * s;
          for (let d = 0; d < D; d++) {
            dQ[at(b, i, h, d)] += dS * k[at(b, j, h, d)];
            dK[at(b, j, h, d)] += dS * q[at(b, i, h, d)];
            dV[at(b, j, h, d)] += P[i][j] * f(b, h, i, j) * dO[at(b, i, h, d)];
          }
        }
      }
    }
  }
  return { out, dQ, dK, dV };
}

/** `drop` (B, heads, T, T), when given, multiplies P: dropout's keep/(1 - prob). */
export const attentionForwardRef = (
  q: Vec,
  k: Vec,
  v: Vec,
  mask: Vec,
  B: number,
  T: number,
  heads: number,
  drop?: Vec,
): Vec => attentionHeads(q, k, v, mask, B, T, heads, undefined, drop).out;

export function attentionBackwardRef(
  q: Vec,
  k: Vec,
  v: Vec,
  mask: Vec,
  B: number,
  T: number,
  heads: number,
  dO: Vec,
  drop?: Vec,
): [Vec, Vec, Vec] {
  const g = attentionHeads(q, k, v, mask, B, T, heads, dO, drop);
  return [g.dQ, g.dK, g.dV];
}

/** torch's F.cross_entropy(weight=w, reduction="mean"): Σ_n w[y_n]·nll_n / Σ_n w[y_n]. */
export function weightedCrossEntropyForwardRef(
  logits: Vec,
  labels: number[],
  classes: number,
  weights: number[],
): number {
  let total = 0, wsum = 0;
  labels.forEach((y, r) => {
    const row = logits.subarray(r * classes, (r + 1) * classes);
    const mx = Math.max(...row);
    const lse = mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0));
    total += weights[y] * (lse - row[y]);
    wsum += weights[y];
  });
  return total / wsum;
}

/** d/dlogits of the weighted mean: w[y_n]·(softmax - onehot)/Σ w[y]. */
export function weightedCrossEntropyBackwardRef(
  logits: Vec,
  labels: number[],
  classes: number,
  weights: number[],
  dLoss: number,
): Vec {
  const wsum = labels.reduce((s, y) => s + weights[y], 0);
  const d = new Float64Array(logits.length);
  labels.forEach((y, r) => {
    const row = logits.subarray(r * classes, (r + 1) * classes);
    const mx = Math.max(...row);
    const e = Array.from(row, (v) => Math.exp(v - mx));
    const sum = e.reduce((s, v) => s + v, 0);
    for (let c = 0; c < classes; c++) {
      d[r * classes + c] = dLoss * weights[y] * (e[c] / sum - (c === y ? 1 : 0)) / wsum;
    }
  });
  return d;
}
