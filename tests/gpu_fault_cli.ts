// A command that forces one WebGPU fault through the engine and otherwise behaves as the CLI's
// commands do (src/cli/common.ts run()): gpu_limits_test.ts runs it and checks the one-line error,
// the exit code and that nothing was printed or saved.
// deno run -A tests/gpu_fault_cli.ts alloc|validation|pipeline|lost|save [DIR]
import { run } from "../src/cli/common.ts";
import { initGpu } from "../src/gpu/kernel.ts";
import { Tensor } from "../src/tensor.ts";
import { add } from "../src/ops/add.ts";
import { BertForSequenceClassification } from "../src/bert/model.ts";
import { saveCheckpoint } from "../src/bert/checkpoint.ts";
import { randomWeights, tinyConfig } from "./bert_fixture.ts";

const [mode, dir] = Deno.args;

await run(async () => {
  const rt = await initGpu();
  const x = Tensor.from([1, 2, 3, 4], [4]);
  if (mode === "alloc") {
    // One byte past the adapter's largest buffer.
    Tensor.empty([Math.ceil((rt.device.limits.maxBufferSize + 1) / 4)]);
  } else if (mode === "validation" || mode === "save") {
    // A binding whose offset breaks minStorageBufferOffsetAlignment: a real validation error, in
    // an unscoped call, so it surfaces only at the next readback.
    const bad = { buffer: x.buffer, offset: 4, size: 8, first: 1, count: 2 };
    rt.dispatch({ shader: "add.wgsl", entry: "accumulate" }, [bad, x.buffer], [2], [], [1]);
  } else if (mode === "pipeline") {
    // An entry point the shader does not have: pipeline creation fails validation.
    rt.dispatch({ shader: "add.wgsl", entry: "no_such_entry" }, [x.buffer, x.buffer], [4], [], [1]);
  } else if (mode === "lost") {
    rt.device.destroy();
  } else throw new Error(`unknown mode ${mode}`);
  if (mode === "save") {
    const c = tinyConfig();
    await saveCheckpoint(dir, new BertForSequenceClassification(c, randomWeights(c)), dir);
  }
  console.log(`result ${Array.from(await add(x, x).read())}`);
});
