// deno task predict --model DIR [--adapter DIR] [--json] TEXT...
import { maxLength, runCommand } from "./common.ts";
import type { CommandSpec, FlagTable } from "./flags.ts";
import { UserError } from "../errors.ts";
import { initGpu } from "../gpu/kernel.ts";
import { getAdapterName } from "../gpu/device.ts";
import { loadCheckpoint } from "../bert/checkpoint.ts";
import { BertForSequenceClassification } from "../bert/model.ts";
import { loadAdapter } from "../io/peft.ts";
import { predictLogits, softmax } from "../train/inference.ts";

const PREDICT = {
  name: "predict",
  summary: "Classifies each TEXT as ham or spam with a trained model (and a LoRA adapter).",
  positionals: { name: "TEXT...", help: "messages to classify, one argument each" },
  flags: {
    model: {
      type: "string",
      arg: "DIR|PRESET|HUB_ID",
      help: "the trained model folder (required), a hub id, or a preset",
    },
    adapter: {
      type: "string",
      arg: "DIR",
      path: "in",
      help: "a saved PEFT LoRA adapter folder to apply to the model",
    },
    tokenizer: {
      type: "string",
      arg: "DIR",
      path: "in",
      defaultText: "the model folder",
      help: "folder with vocab.txt or tokenizer.json",
    },
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
  },
  examples: [
    '--model runs/tiny/full "WINNER!! You have been selected to receive a £900 prize reward!"',
    '--model bert-tiny --adapter runs/tiny/lora --json "see you at 8?"',
  ],
} as const satisfies CommandSpec<FlagTable>;

await runCommand(PREDICT, async ({ values, positionals }) => {
  if (!values.model) throw new UserError("predict: --model DIR is required");
  if (positionals.length === 0) throw new UserError("predict: give one or more TEXT arguments");
  const ckpt = await loadCheckpoint(values.model, {
    seed: values.seed,
    tokenizerDir: values.tokenizer,
  });
  const len = maxLength(values["max-length"], ckpt.config);
  await initGpu();
  if (!values.json) console.error(`GPU adapter: ${getAdapterName()}`);
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
