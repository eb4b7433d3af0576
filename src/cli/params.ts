// deno task params --model DIR|PRESET --mode full|head|lora [--lora-rank R] [--lora-targets ...]
import { intFlag, parseFlags, run } from "./common.ts";
import { UserError } from "../errors.ts";
import { presetConfig, PRESETS, readConfig } from "../bert/config.ts";
import { countParams, HEAD_KEYS, linearPaths, paramShapes } from "../bert/params.ts";
import { matchTargets, parseTargets } from "../nn/lora.ts";
import { BertTokenizer } from "../bert/tokenizer.ts";
import { DEFAULT_TOKENIZER } from "../bert/checkpoint.ts";

await run(async () => {
  const { values } = parseFlags("params", {
    model: { type: "string", default: DEFAULT_TOKENIZER },
    tokenizer: { type: "string" },
    mode: { type: "string", default: "full" },
    "lora-rank": { type: "string" },
    "lora-targets": { type: "string", default: "all-linear" },
  });
  const spec = values.model;
  const config = spec in PRESETS
    ? presetConfig(
      spec,
      (await BertTokenizer.fromDir(values.tokenizer ?? DEFAULT_TOKENIZER)).tokens.length,
    )
    : await readConfig(spec);
  const shapes = paramShapes(config);
  const total = countParams(shapes.values());
  let trainable: number;
  if (values.mode === "full") trainable = total;
  else if (values.mode === "head") trainable = countParams(HEAD_KEYS.map((k) => shapes.get(k)!));
  else if (values.mode === "lora") {
    const r = intFlag("lora-rank", values["lora-rank"], 8);
    const paths = matchTargets(linearPaths(config), parseTargets(values["lora-targets"]));
    trainable = paths.reduce((n, p) => {
      const [outF, inF] = shapes.get(`${p}.weight`)!;
      return n + r * (inF + outF);
    }, 0);
    // The classifier trains fully (PEFT modules_to_save for SEQ_CLS), never through LoRA.
    trainable += countParams(HEAD_KEYS.map((k) => shapes.get(k)!));
  } else throw new UserError(`--mode must be full, head or lora, got "${values.mode}"`);
  const fmt = (n: number) => n.toLocaleString("en-US");
  console.log(`model: ${spec}`);
  console.log(`mode: ${values.mode}`);
  console.log(`total parameters: ${fmt(total)}`);
  console.log(`trainable parameters: ${fmt(trainable)}`);
});
