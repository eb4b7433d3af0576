// deno task params --model DIR|PRESET --mode full|head|lora [--lora-rank R] [--lora-targets ...]
import { runCommand } from "./common.ts";
import type { CommandSpec, FlagTable } from "./flags.ts";
import { UserError } from "../errors.ts";
import { presetConfig, PRESETS } from "../bert/config.ts";
import { countParams, HEAD_KEYS, linearPaths, paramShapes } from "../bert/params.ts";
import { matchTargets, parseTargets } from "../nn/lora.ts";
import {
  DEFAULT_TOKENIZER,
  presetTokenizer,
  readConfig,
  readTokenizer,
} from "../bert/checkpoint.ts";

const PARAMS = {
  name: "params",
  summary: "Counts a model's total and trainable parameters in full, head or lora mode.",
  flags: {
    model: {
      type: "string",
      default: DEFAULT_TOKENIZER,
      arg: "DIR|PRESET",
      help:
        "a model folder (config.json) or a preset (bert-tiny, bert-mini, bert-small, bert-base)",
    },
    tokenizer: {
      type: "string",
      arg: "DIR",
      path: "in",
      defaultText: "../shared/models/bert-base-uncased",
      help: "the vocabulary a preset takes its size from",
    },
    mode: {
      type: "string",
      default: "full",
      choices: ["full", "head", "lora"],
      help: "which parameters train",
    },
    "lora-rank": { type: "int", default: 8, min: 1, help: "LoRA rank r" },
    "lora-targets": {
      type: "string",
      default: "all-linear",
      arg: "NAMES",
      help: "all-linear, or module names such as query,value",
    },
  },
  examples: ["--model ../shared/models/bert-base-uncased --mode lora --lora-rank 8"],
} as const satisfies CommandSpec<FlagTable>;

await runCommand(PARAMS, async ({ values }) => {
  const spec = values.model;
  const config = spec in PRESETS
    ? presetConfig(
      spec,
      (await readTokenizer(values.tokenizer ?? (await presetTokenizer(spec)))).tokens
        .length,
    )
    : await readConfig(spec);
  const shapes = paramShapes(config);
  const total = countParams(shapes.values());
  let trainable: number;
  let all = total;
  if (values.mode === "full") trainable = total;
  else if (values.mode === "head") trainable = countParams(HEAD_KEYS.map((k) => shapes.get(k)!));
  else if (values.mode === "lora") {
    const r = values["lora-rank"];
    const paths = matchTargets(linearPaths(config), parseTargets(values["lora-targets"]));
    trainable = paths.reduce((n, p) => {
      const [outF, inF] = shapes.get(`${p}.weight`)!;
      return n + r * (inF + outF);
    }, 0);
    // The classifier trains fully (PEFT modules_to_save for SEQ_CLS), never through LoRA.
    trainable += countParams(HEAD_KEYS.map((k) => shapes.get(k)!));
    // PEFT's "all params" counts the frozen base, the LoRA matrices and the classifier twice (the
    // frozen original and the trained copy of ModulesToSaveWrapper): base + trainable.
    all = total + trainable;
  } else throw new UserError(`--mode must be full, head or lora, got "${values.mode}"`);
  const fmt = (n: number) => n.toLocaleString("en-US");
  console.log(`model: ${spec}`);
  console.log(`mode: ${values.mode}`);
  console.log(
    `total parameters: ${fmt(all)}${
      all === total ? "" : ` (as PEFT counts: the base model's ${fmt(total)} plus the trainable)`
    }`,
  );
  console.log(`trainable parameters: ${fmt(trainable)}`);
});
