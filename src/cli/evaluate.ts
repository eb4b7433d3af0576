// deno task evaluate --model DIR [--adapter DIR] --data FILE [--json] [--max-length N]
// The metrics of a saved model on a labelled file: the same encoding, batches and metrics as
// train's evaluation, so the numbers equal those train printed for the same model and data.
import { maxLength, runCommand } from "./common.ts";
import { ADAPTER_FLAG, MODEL_FLAG, TOKENIZER_FLAG } from "./model_flags.ts";
import type { CommandSpec, FlagTable } from "./flags.ts";
import { DATA_FLAGS, dataOptions } from "./data_flags.ts";
import { UserError } from "../errors.ts";
import { initGpu } from "../gpu/kernel.ts";
import { getAdapterName } from "../gpu/device.ts";
import { loadModel } from "../lib/deno.ts";
import { loadRecords, loadSummary } from "../data/dataset.ts";
import { toExamples } from "../data/labels.ts";
import { metricsReport } from "../train/report.ts";
import { Progress } from "../train/progress.ts";

const EVALUATE = {
  name: "evaluate",
  summary: "Prints the metrics of a saved model (and a LoRA adapter) on a labelled data file.",
  flags: {
    model: MODEL_FLAG,
    adapter: ADAPTER_FLAG,
    tokenizer: TOKENIZER_FLAG,
    data: {
      type: "string",
      arg: "FILE",
      path: "in",
      help: "the labelled data file (required; any format train reads)",
    },
    json: { type: "boolean", help: "print the metrics as one JSON object" },
    "max-length": {
      type: "int",
      min: 2,
      defaultText: "32, or the model's max_position_embeddings when smaller",
      help: "tokens per message (train's, to reproduce its numbers)",
    },
    "batch-size": { type: "int", default: 64, min: 1, help: "texts per evaluation batch" },
    seed: { type: "int", default: 42, help: "seeds a fresh head when the model has none" },
    ...DATA_FLAGS,
  },
  examples: [
    "--model runs/tiny/full --data test.csv",
    "--model bert-tiny --adapter runs/tiny/lora --data test.csv --json",
  ],
} as const satisfies CommandSpec<FlagTable>;

await runCommand(EVALUATE, async ({ values: v }) => {
  if (!v.model) throw new UserError("evaluate: --model DIR is required");
  if (!v.data) throw new UserError("evaluate: --data FILE (a labelled file) is required");
  const recs = await loadRecords(v.data, dataOptions(v));
  const clf = await loadModel(v.model, {
    seed: v.seed,
    tokenizer: v.tokenizer,
    adapter: v.adapter,
  });
  const ck = clf.checkpoint;
  const len = maxLength(v["max-length"], ck.config);
  const batchSize = v["batch-size"];
  // The model's own label order decides the ids; a label it does not know is an error.
  const labels = Array.from({ length: ck.config.numLabels }, (_, i) => ck.config.id2label[i]);
  const examples = toExamples(recs, labels, "model's");
  await initGpu();
  if (!v.json) {
    console.log(`GPU adapter: ${getAdapterName()}`);
    console.log(loadSummary(recs));
  }
  // The progress bar writes to stdout: none with --json, whose stdout is the JSON line.
  const progress = v.json ? null : new Progress("evaluate", examples.length);
  const m = await clf.evaluate(examples, {
    maxLength: len,
    batchSize,
    onBatch: (d) => progress?.update(d),
  });
  progress?.finish();
  clf.release();
  if (v.json) {
    console.log(JSON.stringify({
      model: ck.source,
      adapter: v.adapter ?? null,
      data: recs.where,
      labels,
      max_length: len,
      metrics: m,
    }));
  } else console.log(metricsReport(m, labels));
});
