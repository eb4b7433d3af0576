// residualLayerNorm: y = LayerNorm(dropout(branch + branchBias) + residual), BERT's sublayer
// output (BertSelfOutput / BertOutput) in one kernel instead of dropout, add and LayerNorm, and a
// backward that also folds in the dropout's backward and the branch bias's gradient. Two kernel
// shapes, as layerNorm (src/ops/variants.ts).
import { Tensor } from "../tensor.ts";
import { gpu, grid1d } from "../gpu/kernel.ts";
import { rowGrid, rowReductionLayout, transposedALayout } from "./variants.ts";
import { offerTransposedGrad } from "./linear.ts";
import { accumulateGrad, record, temporary } from "../autograd/tape.ts";
import { type RowPlaces, rowPlaces } from "./dropout.ts";

/** The dropout on the branch: the mask dropout(branch, prob, seed, stream, rows) draws. */
export interface FoldedDropout {
  prob: number;
  seed: number;
  stream: number;
  /**
   * Where the rows are in the tensor the mask is drawn over (see dropout()); default 1. A row
   * table takes the branch bias's binding: it needs branchBias null (the dense adds its bias).
   */
  rows?: RowPlaces;
}

/**
 * branch, residual (R, C); branchBias (C) or null (the bias of the linear that made `branch`,
 * left out of its matmul so its gradient comes from the column sums here); weight, bias (C).
 * Without `dropout` (evaluation, prob 0) the branch passes unchanged. Returns y (R, C).
 * `transposeBranchGrad`: where linear materializes dYᵀ for its weight gradient, the column-sum
 * pass also writes dBranchᵀ and offers it to that linear (offerTransposedGrad). Only for a branch
 * that nothing else reads: another consumer adding to its gradient would leave dBranchᵀ stale.
 */
export function residualLayerNorm(
  branch: Tensor,
  branchBias: Tensor | null,
  residual: Tensor,
  weight: Tensor,
  bias: Tensor,
  eps: number,
  dropout?: FoldedDropout,
  transposeBranchGrad = false,
): Tensor {
  const cols = branch.shape[branch.shape.length - 1];
  const rows = branch.size / cols;
  if (residual.size !== branch.size || residual.shape.at(-1) !== cols) {
    throw new Error(
      `residualLayerNorm: branch [${branch.shape}] and residual [${residual.shape}] differ`,
    );
  }
  if (weight.size !== cols || bias.size !== cols || (branchBias && branchBias.size !== cols)) {
    throw new Error(
      `residualLayerNorm: weight [${weight.shape}] / bias [${bias.shape}] / branch bias ` +
        `[${branchBias?.shape ?? ""}] vs branch [${branch.shape}]`,
    );
  }
  const prob = dropout?.prob ?? 0;
  if (!(prob >= 0 && prob < 1)) {
    throw new Error(`residualLayerNorm: dropout probability must be in [0, 1), got ${prob}`);
  }
  const places = prob > 0 ? dropout?.rows ?? 1 : 1;
  const { rowStride, table } = rowPlaces(places, rows, "residualLayerNorm");
  if (table && branchBias) {
    // The table takes the branch bias's binding (see FoldedDropout.rows).
    throw new Error(`residualLayerNorm: a row table must be given with no branch bias`);
  }
  const rt = gpu();
  const perThread = cols % 4 === 0 && rowReductionLayout() === "thread";
  const vec4 = cols % 4 === 0;
  const launch = perThread ? grid1d(rows, 64) : rowGrid(rows);
  const ints = [
    rows,
    cols,
    (dropout?.seed ?? 0) >>> 0,
    (dropout?.stream ?? 0) >>> 0,
    rowStride,
    table ? 1 : 0,
  ];
  const floats = [eps, prob];
  const common = { HAS_DROPOUT: prob > 0 ? 1 : 0, HAS_BRANCH_BIAS: branchBias ? 1 : 0 };
  const kernel = (name: string, constants: Record<string, number>) => ({
    shader: "residual_layer_norm.wgsl",
    entry: perThread ? `${name}_rows4` : name,
    constants: { ...common, ...constants },
  });
  const y = Tensor.empty(branch.shape);
  const z = temporary(Tensor.empty(branch.shape));
  const stats = temporary(Tensor.empty([rows, 2])); // (mean, rstd) per row
  rt.dispatch(
    kernel("residual_layer_norm_forward", {}),
    [
      branch.buffer,
      table?.buffer ?? branchBias?.buffer ?? rt.dummy,
      residual.buffer,
      weight.buffer,
      bias.buffer,
      y.buffer,
      z.buffer,
      stats.buffer,
    ],
    ints,
    floats,
    launch,
  );
  const inputs = [branch, residual, weight, bias, ...(branchBias ? [branchBias] : [])];
  return record(y, inputs, (dOut) => {
    const biasGrad = branchBias?.requiresGrad ?? false;
    let dBranchT: Tensor | null = null;
    const dBranch = branch.requiresGrad || biasGrad ? Tensor.empty(branch.shape) : null;
    const into = residual.requiresGrad ? residual.grad : null; // accumulate in place
    const dResidual = residual.requiresGrad && !into ? Tensor.empty(residual.shape) : null;
    if (dBranch || residual.requiresGrad) {
      rt.dispatch(
        kernel("residual_layer_norm_backward", {
          HAS_RESIDUAL_GRAD: residual.requiresGrad ? 1 : 0,
          ACC_RESIDUAL: into ? 1 : 0,
          HAS_BRANCH_GRAD: dBranch ? 1 : 0,
        }),
        [
          z.buffer,
          weight.buffer,
          dOut.buffer,
          stats.buffer,
          (into ?? dResidual)?.buffer ?? rt.dummy,
          dBranch?.buffer ?? rt.dummy,
          // Not rt.dummy, which a writable binding above may already be.
          table?.buffer ?? temporary(Tensor.empty([4], "u32")).buffer,
        ],
        ints,
        floats,
        launch,
      );
    }
    if (weight.requiresGrad || bias.requiresGrad || biasGrad) {
      const dWeight = Tensor.empty([cols]), dBias = Tensor.empty([cols]);
      const dBranchBias = biasGrad ? Tensor.empty([cols]) : null;
      // dBranchᵀ rides on the column sums of dBranch, so only with a branch bias to sum.
      const writeT = transposeBranchGrad && biasGrad && branch.requiresGrad && !branch.grad &&
        transposedALayout() === "materialize";
      dBranchT = writeT ? temporary(Tensor.empty([cols, rows])) : null;
      // Absent outputs get scratch buffers of their own: WebGPU refuses one buffer (rt.dummy)
      // bound to two writable bindings, or to a writable and a read-only one, of a dispatch.
      const scratch = () => temporary(Tensor.empty([4])).buffer;
      rt.dispatch(
        {
          shader: "residual_layer_norm.wgsl",
          entry: vec4
            ? "residual_layer_norm_backward_params4"
            : "residual_layer_norm_backward_params",
          constants: { HAS_BRANCH_BIAS: biasGrad ? 1 : 0, WRITE_TRANSPOSED: writeT ? 1 : 0 },
        },
        [
          z.buffer,
          dOut.buffer,
          stats.buffer,
          dBranch?.buffer ?? rt.dummy,
          dWeight.buffer,
          dBias.buffer,
          dBranchBias?.buffer ?? scratch(),
          dBranchT?.buffer ?? scratch(),
        ],
        ints,
        floats,
        [Math.ceil((vec4 ? cols / 4 : cols) / 64)],
      );
      if (weight.requiresGrad) accumulateGrad(weight, dWeight);
      else dWeight.release();
      if (bias.requiresGrad) accumulateGrad(bias, dBias);
      else dBias.release();
      if (dBranchBias) accumulateGrad(branchBias!, dBranchBias);
    }
    if (dResidual) accumulateGrad(residual, dResidual);
    if (dBranch && branch.requiresGrad) {
      accumulateGrad(branch, dBranch);
      if (dBranchT) offerTransposedGrad(dBranch, dBranchT);
    } else dBranch?.release();
  }, [z, stats, weight]);
}
