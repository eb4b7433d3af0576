// Every WGSL file under shaders/, bundled into the module as text (Deno's text imports, which
// esbuild also understands), so the engine needs no file system: the same code runs in Deno and
// in a browser bundle. tests/shaders_test.ts checks this list against the folder.
import activation from "../../shaders/activation.wgsl" with { type: "text" };
import add from "../../shaders/add.wgsl" with { type: "text" };
import bias from "../../shaders/bias.wgsl" with { type: "text" };
import cross_entropy from "../../shaders/cross_entropy.wgsl" with { type: "text" };
import dropout from "../../shaders/dropout.wgsl" with { type: "text" };
import embedding from "../../shaders/embedding.wgsl" with { type: "text" };
import layer_norm from "../../shaders/layer_norm.wgsl" with { type: "text" };
import matmul from "../../shaders/matmul.wgsl" with { type: "text" };
import matmul_shared from "../../shaders/matmul_shared.wgsl" with { type: "text" };
import matmul_vec4 from "../../shaders/matmul_vec4.wgsl" with { type: "text" };
import optim from "../../shaders/optim.wgsl" with { type: "text" };
import softmax from "../../shaders/softmax.wgsl" with { type: "text" };
import transpose from "../../shaders/transpose.wgsl" with { type: "text" };

/** WGSL source by file name under shaders/ (the name a Kernel gives). */
export const SHADERS: Readonly<Record<string, string>> = {
  "activation.wgsl": activation,
  "add.wgsl": add,
  "bias.wgsl": bias,
  "cross_entropy.wgsl": cross_entropy,
  "dropout.wgsl": dropout,
  "embedding.wgsl": embedding,
  "layer_norm.wgsl": layer_norm,
  "matmul.wgsl": matmul,
  "matmul_shared.wgsl": matmul_shared,
  "matmul_vec4.wgsl": matmul_vec4,
  "optim.wgsl": optim,
  "softmax.wgsl": softmax,
  "transpose.wgsl": transpose,
};
