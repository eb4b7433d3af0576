// deno task predict --model DIR [--adapter DIR] [--json] TEXT...
// deno task predict --model DIR [--adapter DIR] --data FILE --out FILE.jsonl|FILE.csv
import { maxLength, runCommand } from "./common.ts";
import { ADAPTER_FLAG, MODEL_FLAG, TOKENIZER_FLAG } from "./model_flags.ts";
import type { CommandSpec, FlagTable } from "./flags.ts";
import { UserError } from "../errors.ts";
import { initGpu } from "../gpu/kernel.ts";
import { getAdapterName } from "../gpu/device.ts";
import { loadModel } from "../lib/deno.ts";
import { DATA_FLAGS, dataOptions } from "./data_flags.ts";
import { predictFile } from "./predict_file.ts";

const PREDICT = {
  name: "predict",
  summary: "Classifies each TEXT as ham or spam with a trained model (and a LoRA adapter).",
  positionals: { name: "TEXT...", help: "messages to classify, one argument each (or --data)" },
  flags: {
    model: MODEL_FLAG,
    adapter: ADAPTER_FLAG,
    tokenizer: TOKENIZER_FLAG,
    json: {
      type: "boolean",
      help: 'one JSON line per text: {"text", "label", "probs", "logits"}',
    },
    "max-length": {
      type: "int",
      min: 2,
      defaultText: "32, or the model's max_position_embeddings when smaller",
      help: "tokens per message",
    },
    seed: { type: "int", default: 42, help: "seeds a fresh head when the model has none" },
    // A whole file (issue 11): --data FILE --out FILE.jsonl|csv, in batches, with progress.
    data: {
      type: "string",
      arg: "FILE",
      path: "in",
      help: "predict every text of a data file (any format train reads)",
    },
    out: {
      type: "string",
      arg: "FILE.jsonl|FILE.csv",
      path: "out-file",
      help: "where --data's predictions go: JSON lines or CSV (text, label, probs)",
    },
    "batch-size": { type: "int", default: 64, min: 1, help: "texts per batch with --data" },
    ...DATA_FLAGS,
  },
  examples: [
    '--model runs/tiny/full "WINNER!! You have been selected to receive a £900 prize reward!"',
    '--model bert-tiny --adapter runs/tiny/lora --json "see you at 8?"',
    "--model runs/tiny/full --data messages.csv --out predictions.jsonl",
  ],
} as const satisfies CommandSpec<FlagTable>;

await runCommand(PREDICT, async ({ values, positionals }) => {
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
      batchSize: values["batch-size"],
      seed: values.seed,
      dataOptions: dataOptions(values),
    });
  }
  if (positionals.length === 0) throw new UserError("predict: give one or more TEXT arguments");
  const clf = await loadModel(values.model, {
    seed: values.seed,
    tokenizer: values.tokenizer,
    adapter: values.adapter,
  });
  const len = maxLength(values["max-length"], clf.config);
  await initGpu();
  if (!values.json) console.error(`GPU adapter: ${getAdapterName()}`);
  const predictions = await clf.predict(positionals, { maxLength: len, batchSize: 32 });
  positionals.forEach((text, i) => {
    const { label, probs, logits } = predictions[i];
    if (values.json) console.log(JSON.stringify({ text, label, probs, logits }));
    else console.log(`${label.padEnd(6)} ${probs.map((p) => p.toFixed(4)).join(" ")}  ${text}`);
  });
});
