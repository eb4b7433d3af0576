// predict --data FILE --out FILE.jsonl|FILE.csv: every row of a data file (any format, label
// column optional) through the model in batches, written atomically: per row the text (and pair
// text), the predicted label and the probability of each label.
import { stringify } from "csv-stringify/sync";
import { maxLength } from "./common.ts";
import { UserError } from "../errors.ts";
import { initGpu } from "../gpu/kernel.ts";
import { getAdapterName } from "../gpu/device.ts";
import { loadCheckpoint } from "../bert/checkpoint.ts";
import { BertForSequenceClassification } from "../bert/model.ts";
import { applyAdapterLabels, loadAdapter } from "../io/peft.ts";
import { type DataOptions, loadRecords, loadSummary } from "../data/dataset.ts";
import { encodeExample } from "../data/pairs.ts";
import { predictLogits, softmax } from "../train/inference.ts";
import { argmax } from "../train/metrics.ts";
import { Progress } from "../train/progress.ts";
import { writeFileAtomic } from "../io/atomic.ts";

export interface PredictFileOptions {
  model: string;
  adapter?: string;
  tokenizer?: string;
  data: string;
  out: string;
  maxLength?: number;
  batchSize: number;
  seed: number;
  dataOptions: DataOptions;
}

export async function predictFile(o: PredictFileOptions): Promise<void> {
  const kind = /\.jsonl$/i.test(o.out) ? "jsonl" : /\.csv$/i.test(o.out) ? "csv" : null;
  if (!kind) throw new UserError(`${o.out}: --out must end in .jsonl or .csv`);
  if (o.batchSize < 1) throw new UserError(`--batch-size must be positive, got ${o.batchSize}`);
  const recs = await loadRecords(o.data, o.dataOptions, false);
  const ck = await loadCheckpoint(o.model, { seed: o.seed, tokenizerDir: o.tokenizer });
  if (o.adapter) await applyAdapterLabels(ck, o.adapter, o.seed);
  const len = maxLength(o.maxLength, ck.config);
  const labels = Array.from({ length: ck.config.numLabels }, (_, i) => ck.config.id2label[i]);
  await initGpu();
  console.log(`GPU adapter: ${getAdapterName()}`);
  console.log(loadSummary(recs));
  const model = new BertForSequenceClassification(ck.config, ck.weights);
  if (o.adapter) await loadAdapter(o.adapter, model);
  const progress = new Progress("predict", recs.records.length);
  const logits = await predictLogits(
    model,
    recs.records.map((r) => encodeExample(ck.tokenizer, r, len)),
    o.batchSize,
    (d) => progress.update(d),
  );
  progress.finish();
  model.release();
  const pair = recs.records.some((r) => r.textPair !== undefined);
  const rows = recs.records.map((r, i) => {
    const probs = softmax(logits[i]);
    return { text: r.text, textPair: r.textPair, label: labels[argmax(probs)], probs };
  });
  let body: string;
  if (kind === "jsonl") {
    body = rows.map((r) =>
      JSON.stringify({
        text: r.text,
        ...(pair ? { text_pair: r.textPair } : {}),
        label: r.label,
        probs: r.probs,
      }) + "\n"
    ).join("");
  } else {
    const header = [
      "text",
      ...(pair ? ["text_pair"] : []),
      "label",
      ...labels.map((l) => `p_${l}`),
    ];
    body = stringify([
      header,
      ...rows.map((r) => [r.text, ...(pair ? [r.textPair] : []), r.label, ...r.probs.map(String)]),
    ]);
  }
  await writeFileAtomic(o.out, body);
  console.log(`${o.out}: ${rows.length} predictions (${kind})`);
}
