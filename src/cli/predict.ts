// deno task predict --model DIR [--adapter DIR] [--json] TEXT...
import { intFlag, maxLength, parseFlags, run } from "./common.ts";
import { UserError } from "../errors.ts";
import { initGpu } from "../gpu/kernel.ts";
import { getAdapterName } from "../gpu/device.ts";
import { loadCheckpoint } from "../bert/checkpoint.ts";
import { BertForSequenceClassification } from "../bert/model.ts";
import { loadAdapter } from "../io/peft.ts";
import { predictLogits, softmax } from "../train/inference.ts";

await run(async () => {
  const { values, positionals } = parseFlags("predict", {
    model: { type: "string" },
    adapter: { type: "string" },
    tokenizer: { type: "string" },
    json: { type: "boolean", default: false },
    "max-length": { type: "string" },
    seed: { type: "string" },
  });
  if (!values.model) throw new UserError("predict: --model DIR is required");
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
