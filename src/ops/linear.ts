// linear: y (R, out) = x (R, in) · Wᵀ + b, W (out, in) as PyTorch stores it; bias fused.
// loraLinear adds s · (x · Aᵀ) · Bᵀ with A (r, in), B (out, r) in the same kernel's epilogue.
// A frozen W or b gets no gradient kernel at all.
import { Tensor } from "../tensor.ts";
import { accumulateGrad, record, temporary } from "../autograd/tape.ts";
import { accumulateMatmul, matmulRaw } from "./matmul.ts";
import { biasGrad, biasGradTransposed } from "./bias_add.ts";
import { transposedALayout } from "./variants.ts";
import { accumulateLowRank, loraDyProducts, lowRankMatmul } from "./low_rank.ts";

/** dYᵀ already written by the kernel that made dY (see offerTransposedGrad). */
const transposedGrads = new WeakMap<Tensor, Tensor>();

/**
 * Hands linear's backward a dYᵀ (out, R) that the kernel making its incoming gradient dY wrote
 * on the way (residualLayerNorm's column sums), so dW = dYᵀ·x skips its transpose pass. dYᵀ
 * must live until the step ends (a temporary) and match dY's final contents.
 */
export function offerTransposedGrad(dY: Tensor, dYt: Tensor): void {
  transposedGrads.set(dY, dYt);
}

function weightGrads(x: Tensor, weight: Tensor, bias: Tensor | null, dY: Tensor): void {
  const dYt = transposedGrads.get(dY);
  transposedGrads.delete(dY);
  if (dYt && weight.requiresGrad && !bias?.requiresGrad) {
    accumulateMatmul(weight, { a: dYt, b: x });
    dYt.release();
    return;
  }
  if (weight.requiresGrad && bias?.requiresGrad && transposedALayout() === "materialize") {
    // dYᵀ and the bias's column sum in one pass, then dW = dYᵀ·x untransposed.
    const { dBias, dOutT } = biasGradTransposed(dY);
    accumulateMatmul(weight, { a: dOutT, b: x });
    dOutT.release();
    accumulateGrad(bias, dBias);
    return;
  }
  if (weight.requiresGrad) accumulateMatmul(weight, { a: dY, b: x, transA: true });
  if (bias?.requiresGrad) accumulateGrad(bias, biasGrad(dY));
}

function checkShapes(x: Tensor, weight: Tensor, bias: Tensor | null): void {
  if (x.shape.length !== 2 || weight.shape.length !== 2 || x.shape[1] !== weight.shape[1]) {
    throw new Error(`linear: x [${x.shape}] does not match weight [${weight.shape}]`);
  }
  if (bias && bias.size !== weight.shape[0]) {
    throw new Error(`linear: bias [${bias.shape}] does not match weight [${weight.shape}]`);
  }
}

export function linear(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  checkShapes(x, weight, bias);
  const y = matmulRaw({ a: x, b: weight, transB: true, bias });
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(y, inputs, (dY) => {
    if (x.requiresGrad) accumulateMatmul(x, { a: dY, b: weight });
    weightGrads(x, weight, bias, dY);
  }, weight.requiresGrad ? [x, weight] : [weight]);
}

/**
 * `loraInput` is what the low-rank path reads: x itself, or dropout(x) for PEFT's lora_dropout
 * (then the dX term of the low-rank path flows back through that dropout, unfused).
 */
export function loraLinear(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  loraA: Tensor,
  loraB: Tensor,
  scale: number,
  loraInput: Tensor = x,
): Tensor {
  checkShapes(x, weight, bias);
  const [outF, inF] = weight.shape;
  const r = loraA.shape[0];
  if (loraA.shape[1] !== inF || loraB.shape[0] !== outF || loraB.shape[1] !== r) {
    throw new Error(
      `loraLinear: A [${loraA.shape}], B [${loraB.shape}] vs weight [${weight.shape}]`,
    );
  }
  const fused = loraInput === x;
  const xa = temporary(lowRankMatmul({ a: loraInput, b: loraA, transB: true })); // (R, r)
  const y = matmulRaw({
    a: x,
    b: weight,
    transB: true,
    bias,
    lowRank: { left: xa, right: loraB, r, strideN: r, strideR: 1, scale },
  });
  const inputs = [x, weight, loraA, loraB, ...(bias ? [bias] : []), ...(fused ? [] : [loraInput])];
  return record(y, inputs, (dY) => {
    const needDXa = loraInput.requiresGrad || loraA.requiresGrad;
    // dB = s·dYᵀ·xa and dXa = s·dY·B (R, r), in one dispatch where the kernels allow.
    let dXa: Tensor | null = null;
    if (loraB.requiresGrad && needDXa) dXa = loraDyProducts(dY, loraB, xa, scale);
    else if (loraB.requiresGrad) {
      accumulateLowRank(loraB, { a: dY, b: xa, transA: true, alpha: scale });
    } else if (needDXa) dXa = lowRankMatmul({ a: dY, b: loraB, alpha: scale });
    if (dXa) {
      if (loraA.requiresGrad) {
        accumulateLowRank(loraA, { a: dXa, b: loraInput, transA: true });
      }
      if (fused && x.requiresGrad) {
        // dX = dY · W + dXa · A, the low-rank term fused into the same matmul.
        accumulateMatmul(x, {
          a: dY,
          b: weight,
          lowRank: { left: dXa, right: loraA, r, strideN: 1, strideR: inF, scale: 1 },
        });
      } else if (!fused && loraInput.requiresGrad) {
        accumulateMatmul(loraInput, { a: dXa, b: loraA });
      }
      dXa.release();
    }
    if (!fused && x.requiresGrad) accumulateMatmul(x, { a: dY, b: weight });
    weightGrads(x, weight, bias, dY);
  }, [weight, loraA, loraB, xa, loraInput, ...(weight.requiresGrad ? [x] : [])]);
}
