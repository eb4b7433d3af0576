// Every WGSL file under shaders/, bundled into the module as text (Deno's text imports, which
// esbuild also understands), so the engine needs no file system: the same code runs in Deno and
// in a browser bundle. tests/shaders_test.ts checks this list against the folder.
import activation from "../../shaders/activation.wgsl" with { type: "text" };
import add from "../../shaders/add.wgsl" with { type: "text" };
import attention from "../../shaders/attention.wgsl" with { type: "text" };
import bias from "../../shaders/bias.wgsl" with { type: "text" };
import cross_entropy from "../../shaders/cross_entropy.wgsl" with { type: "text" };
import dropout from "../../shaders/dropout.wgsl" with { type: "text" };
import dropout_mask from "../../shaders/dropout_mask.wgsl" with { type: "text" };
import embedding from "../../shaders/embedding.wgsl" with { type: "text" };
import embedding_sum from "../../shaders/embedding_sum.wgsl" with { type: "text" };
import layer_norm from "../../shaders/layer_norm.wgsl" with { type: "text" };
import low_rank from "../../shaders/low_rank.wgsl" with { type: "text" };
import matmul from "../../shaders/matmul.wgsl" with { type: "text" };
import matmul_epilogue from "../../shaders/matmul_epilogue.wgsl" with { type: "text" };
import matmul_shared from "../../shaders/matmul_shared.wgsl" with { type: "text" };
import matmul_vec4 from "../../shaders/matmul_vec4.wgsl" with { type: "text" };
import optim from "../../shaders/optim.wgsl" with { type: "text" };
import residual_layer_norm from "../../shaders/residual_layer_norm.wgsl" with { type: "text" };
import row_reduce from "../../shaders/row_reduce.wgsl" with { type: "text" };
import softmax from "../../shaders/softmax.wgsl" with { type: "text" };
import transpose from "../../shaders/transpose.wgsl" with { type: "text" };

/** WGSL source by file name under shaders/ (the name a Kernel gives). */
export const SHADERS: Readonly<Record<string, string>> = {
  "activation.wgsl": activation,
  "add.wgsl": add,
  "attention.wgsl": attention,
  "bias.wgsl": bias,
  "cross_entropy.wgsl": cross_entropy,
  "dropout.wgsl": dropout,
  "dropout_mask.wgsl": dropout_mask,
  "embedding.wgsl": embedding,
  "embedding_sum.wgsl": embedding_sum,
  "layer_norm.wgsl": layer_norm,
  "low_rank.wgsl": low_rank,
  "matmul.wgsl": matmul,
  "matmul_epilogue.wgsl": matmul_epilogue,
  "matmul_shared.wgsl": matmul_shared,
  "matmul_vec4.wgsl": matmul_vec4,
  "optim.wgsl": optim,
  "residual_layer_norm.wgsl": residual_layer_norm,
  "row_reduce.wgsl": row_reduce,
  "softmax.wgsl": softmax,
  "transpose.wgsl": transpose,
};

/**
 * Files compiled before a shader's own text (WGSL has no import): the functions they share.
 * dropout_mask.wgsl is the one dropout mask, so fused attention and the fused residual LayerNorm
 * drop what dropout drops; row_reduce.wgsl holds the LayerNorm kernels' row sums; matmul_epilogue.wgsl the two matmul
 * tiles' bindings and epilogue.
 */
export const PRELUDES: Readonly<Record<string, readonly string[]>> = {
  "attention.wgsl": ["dropout_mask.wgsl"],
  "dropout.wgsl": ["dropout_mask.wgsl"],
  "layer_norm.wgsl": ["row_reduce.wgsl"],
  "matmul.wgsl": ["matmul_epilogue.wgsl"],
  "matmul_shared.wgsl": ["matmul_epilogue.wgsl"],
  "residual_layer_norm.wgsl": ["dropout_mask.wgsl", "row_reduce.wgsl"],
};
