// deno task merge --model DIR --adapter DIR --out DIR: folds LoRA into the base weights,
// W ← W + scaling·B·A for a Linear (scaling alpha/r, or alpha/√r with use_rslora, per module
// under rank_pattern/alpha_pattern) and W ← W + scaling·(B·A)ᵀ for an Embedding (PEFT's
// get_delta_weight); the adapter's biases and modules_to_save weights are already in place after
// loading. Writes a plain checkpoint whose predictions equal base + adapter.
import { runCommand } from "./common.ts";
import { TOKENIZER_FLAG } from "./model_flags.ts";
import type { CommandSpec, FlagTable } from "./flags.ts";
import { clearEarlierRun } from "./paths.ts";
import { UserError } from "../errors.ts";
import { initGpu } from "../gpu/kernel.ts";
import { loadCheckpoint, saveCheckpoint } from "../bert/checkpoint.ts";
import { BertForSequenceClassification } from "../bert/model.ts";
import { applyAdapterLabels, loadAdapter, transpose } from "../io/peft.ts";
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
    tokenizer: TOKENIZER_FLAG,
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
  await applyAdapterLabels(ck, values.adapter, values.seed);
  await initGpu();
  const model = new BertForSequenceClassification(ck.config, ck.weights);
  const loaded = await loadAdapter(values.adapter, model);
  const setWeight = (path: string, data: Float32Array, shape: readonly number[]) => {
    model.p(`${path}.weight`).release();
    model.params.set(`${path}.weight`, Tensor.from(data, shape, { name: `${path}.weight` }));
  };
  for (const [path, l] of model.lora) {
    const w = model.p(`${path}.weight`);
    const [outF, inF] = w.shape, r = l.A.shape[0];
    const a = await l.A.read(), b = await l.B.read();
    setWeight(
      path,
      mergeWeight(await w.read(), a, b, outF, inF, r, l.scale ?? model.loraScale),
      w.shape,
    );
    l.A.release();
    l.B.release();
  }
  for (const [path, l] of model.loraEmbedding) {
    // W (num, dim) + Aᵀ (num, r) · (scaling·B)ᵀ (r, dim): mergeWeight with Aᵀ as "B" and sBᵀ as "A".
    const w = model.p(`${path}.weight`);
    const [num, dim] = w.shape, r = l.At.shape[1];
    const sBt = transpose(await l.sB.read(), dim, r);
    setWeight(path, mergeWeight(await w.read(), sBt, await l.At.read(), num, dim, r, 1), w.shape);
    l.At.release();
    l.sB.release();
  }
  model.lora.clear();
  model.loraEmbedding.clear();
  if (values.overwrite) {
    await clearEarlierRun(values.out, [ck.source, ck.tokenizerDir, values.adapter]);
  }
  await saveCheckpoint(values.out, model, ck.tokenizerDir);
  const c = loaded.config;
  console.log(
    `merged ${values.adapter} (r ${c.r}, alpha ${c.alpha}; ${loaded.adapted.length} LoRA modules, ${loaded.replaced.length} replaced tensors) into ${values.model}: ${values.out}`,
  );
});
