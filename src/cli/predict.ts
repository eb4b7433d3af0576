// deno task predict --model DIR [--adapter DIR] [--json] TEXT...
// deno task predict --model DIR [--adapter DIR] --data FILE --out FILE.jsonl|FILE.csv
import { intFlag, maxLength, parseFlags, run } from "./common.ts";
import { UserError } from "../errors.ts";
import { initGpu } from "../gpu/kernel.ts";
import { getAdapterName } from "../gpu/device.ts";
import { loadCheckpoint } from "../bert/checkpoint.ts";
import { BertForSequenceClassification } from "../bert/model.ts";
import { loadAdapter } from "../io/peft.ts";
import { predictLogits, softmax } from "../train/inference.ts";
import { DATA_FLAGS, dataOptions } from "./data_flags.ts";
import { predictFile } from "./predict_file.ts";

await run(async () => {
  const { values, positionals } = parseFlags("predict", {
    model: { type: "string" },
    adapter: { type: "string" },
    tokenizer: { type: "string" },
    json: { type: "boolean", default: false },
    "max-length": { type: "string" },
    seed: { type: "string" },
    // A whole file (issue 11): --data FILE --out FILE.jsonl|csv, in batches, with progress.
    data: { type: "string" },
    out: { type: "string" },
    "batch-size": { type: "string" },
    ...DATA_FLAGS,
  });
  if (!values.model) throw new UserError("predict: --model DIR is required");
  if (values.data || values.out) {
    if (!values.data || !values.out) {
      throw new UserError("predict: --data FILE and --out FILE.jsonl|FILE.csv go together");
    }
    if (positionals.length) throw new UserError("predict: give TEXT arguments or --data, not both");
    return await predictFile({
      model: values.model,
      adapter: values.adapter,
      tokenizer: values.tokenizer,
      data: values.data,
      out: values.out,
      maxLength: values["max-length"],
      batchSize: intFlag("batch-size", values["batch-size"], 64),
      seed: intFlag("seed", values.seed, 42),
      dataOptions: dataOptions(values),
    });
  }
  if (positionals.length === 0) throw new UserError("predict: give one or more TEXT arguments");
  const ckpt = await loadCheckpoint(values.model, {
    seed: intFlag("seed", values.seed, 42),
    tokenizerDir: values.tokenizer,
  });
  const len = maxLength(values["max-length"], ckpt.config);
  await initGpu();
  if (!values.json) console.error(`adapter: ${getAdapterName()}`);
  const model = new BertForSequenceClassification(ckpt.config, ckpt.weights);
  if (values.adapter) await loadAdapter(values.adapter, model);
  const logits = await predictLogits(model, positionals.map((t) => ckpt.tokenizer.encode(t, len)));
  positionals.forEach((text, i) => {
    const probs = softmax(logits[i]);
    const best = probs.indexOf(Math.max(...probs));
    const label = ckpt.config.id2label[String(best)] ?? String(best);
    if (values.json) {
      console.log(JSON.stringify({ text, label, probs, logits: Array.from(logits[i]) }));
    } else console.log(`${label.padEnd(6)} ${probs.map((p) => p.toFixed(4)).join(" ")}  ${text}`);
  });
});
