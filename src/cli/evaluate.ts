// deno task evaluate --model DIR [--adapter DIR] --data FILE [--json] [--max-length N]
// The metrics of a saved model on a labelled file: the same encoding, batches and metrics as
// train's evaluation, so the numbers equal those train printed for the same model and data.
import { intFlag, maxLength, parseFlags, run } from "./common.ts";
import { DATA_FLAGS, dataOptions } from "./data_flags.ts";
import { UserError } from "../errors.ts";
import { initGpu } from "../gpu/kernel.ts";
import { getAdapterName } from "../gpu/device.ts";
import { loadCheckpoint } from "../bert/checkpoint.ts";
import { BertForSequenceClassification } from "../bert/model.ts";
import { loadAdapter } from "../io/peft.ts";
import { loadRecords, loadSummary } from "../data/dataset.ts";
import { toExamples } from "../data/labels.ts";
import { encodeAll } from "../train/trainer.ts";
import { predictLogits, softmax } from "../train/inference.ts";
import { computeMetrics } from "../train/metrics.ts";
import { metricsReport } from "../train/report.ts";
import { Progress } from "../train/progress.ts";

await run(async () => {
  const { values: v } = parseFlags("evaluate", {
    model: { type: "string" },
    adapter: { type: "string" },
    tokenizer: { type: "string" },
    data: { type: "string" },
    json: { type: "boolean", default: false },
    "max-length": { type: "string" },
    "batch-size": { type: "string" },
    seed: { type: "string" },
    ...DATA_FLAGS,
  });
  if (!v.model) throw new UserError("evaluate: --model DIR is required");
  if (!v.data) throw new UserError("evaluate: --data FILE (a labelled file) is required");
  const recs = await loadRecords(v.data, dataOptions(v));
  const ck = await loadCheckpoint(v.model, {
    seed: intFlag("seed", v.seed, 42),
    tokenizerDir: v.tokenizer,
  });
  const len = maxLength(v["max-length"], ck.config);
  const batchSize = intFlag("batch-size", v["batch-size"], 64);
  if (batchSize < 1) throw new UserError(`--batch-size must be positive, got ${batchSize}`);
  // The model's own label order decides the ids; a label it does not know is an error.
  const labels = Array.from({ length: ck.config.numLabels }, (_, i) => ck.config.id2label[i]);
  const examples = toExamples(recs, labels, "model's");
  await initGpu();
  if (!v.json) {
    console.log(`adapter: ${getAdapterName()}`);
    console.log(loadSummary(recs));
  }
  const model = new BertForSequenceClassification(ck.config, ck.weights);
  if (v.adapter) await loadAdapter(v.adapter, model);
  // The progress bar writes to stdout: none with --json, whose stdout is the JSON line.
  const progress = v.json ? null : new Progress("evaluate", examples.length);
  const logits = await predictLogits(
    model,
    encodeAll(ck, examples, len),
    batchSize,
    (d) => progress?.update(d),
  );
  progress?.finish();
  model.release();
  const m = computeMetrics(logits.map((l) => softmax(l)), examples.map((e) => e.label));
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
