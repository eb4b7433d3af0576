// deno task merge --model DIR --adapter DIR --out DIR: folds LoRA into the base weights,
// W ← W + (alpha/r)·B·A, and writes a plain checkpoint whose predictions equal base + adapter.
import { runCommand } from "./common.ts";
import type { CommandSpec, FlagTable } from "./flags.ts";
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

const MERGE = {
  name: "merge",
  summary:
    "Folds a LoRA adapter into its base weights (W + (alpha/r)·B·A) and writes a plain checkpoint.",
  flags: {
    model: {
      type: "string",
      arg: "DIR|PRESET|HUB_ID",
      help: "the base model the LoRA adapter was trained on (required)",
    },
    adapter: {
      type: "string",
      arg: "DIR",
      path: "in",
      help: "the PEFT LoRA adapter folder (required)",
    },
    out: {
      type: "string",
      arg: "DIR",
      path: "out-dir",
      help: "folder for the merged checkpoint (required; new or empty)",
    },
    overwrite: { type: "boolean", help: "let --out replace a model saved there earlier" },
    tokenizer: {
      type: "string",
      arg: "DIR",
      path: "in",
      defaultText: "the model folder",
      help: "folder with vocab.txt or tokenizer.json",
    },
    seed: { type: "int", default: 42, help: "seeds a fresh head when the base has none" },
  },
  examples: ["--model bert-tiny --adapter runs/tiny/lora --out runs/tiny/merged"],
} as const satisfies CommandSpec<FlagTable>;

await runCommand(MERGE, async ({ values }) => {
  if (!values.model || !values.adapter || !values.out) {
    throw new UserError("merge: --model DIR, --adapter DIR and --out DIR are required");
  }
  const ck = await loadCheckpoint(values.model, {
    seed: values.seed,
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
