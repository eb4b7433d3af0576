// deno task merge --model DIR --adapter DIR --out DIR: folds LoRA into the base weights,
// W ← W + (alpha/r)·B·A, and writes a plain checkpoint whose predictions equal base + adapter.
import { intFlag, parseFlags, run } from "./common.ts";
import { UserError } from "../errors.ts";
import { initGpu } from "../gpu/kernel.ts";
import { loadCheckpoint, saveCheckpoint } from "../bert/checkpoint.ts";
import { BertForSequenceClassification } from "../bert/model.ts";
import { loadAdapter } from "../io/peft.ts";
import { Tensor } from "../tensor.ts";

/** W (out, in) + scale · B (out, r) · A (r, in), accumulated in float64. */
export function mergeWeight(
  w: Float32Array,
  a: Float32Array,
  b: Float32Array,
  outF: number,
  inF: number,
  r: number,
  scale: number,
): Float32Array {
  const merged = new Float32Array(w.length);
  for (let o = 0; o < outF; o++) {
    for (let i = 0; i < inF; i++) {
      let s = 0;
      for (let q = 0; q < r; q++) s += b[o * r + q] * a[q * inF + i];
      merged[o * inF + i] = w[o * inF + i] + scale * s;
    }
  }
  return merged;
}

await run(async () => {
  const { values } = parseFlags("merge", {
    model: { type: "string" },
    adapter: { type: "string" },
    out: { type: "string" },
    tokenizer: { type: "string" },
    seed: { type: "string" },
  });
  if (!values.model || !values.adapter || !values.out) {
    throw new UserError("merge: --model DIR, --adapter DIR and --out DIR are required");
  }
  const ck = await loadCheckpoint(values.model, {
    seed: intFlag("seed", values.seed, 42),
    tokenizerDir: values.tokenizer,
  });
  await initGpu();
  const model = new BertForSequenceClassification(ck.config, ck.weights);
  const spec = await loadAdapter(values.adapter, model);
  for (const [path, l] of model.lora) {
    const w = model.p(`${path}.weight`);
    const [outF, inF] = w.shape;
    const merged = mergeWeight(
      await w.read(),
      await l.A.read(),
      await l.B.read(),
      outF,
      inF,
      spec.r,
      model.loraScale,
    );
    w.release();
    model.params.set(
      `${path}.weight`,
      Tensor.from(merged, [outF, inF], { name: `${path}.weight` }),
    );
    l.A.release();
    l.B.release();
  }
  model.lora.clear();
  await saveCheckpoint(values.out, model, ck.tokenizerDir);
  console.log(
    `merged ${values.adapter} (r ${spec.r}, alpha ${spec.alpha}) into ${values.model}: ${values.out}`,
  );
});
