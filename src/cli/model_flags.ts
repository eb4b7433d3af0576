// Flags that name a trained model, the LoRA adapter applied to it and its tokenizer, with one
// wording wherever a command takes them (predict, evaluate, merge).
import type { Flag } from "./flags.ts";

export const MODEL_FLAG = {
  type: "string",
  arg: "DIR|PRESET|HUB_ID",
  help: "the trained model folder (required), a hub id, or a preset",
} as const satisfies Flag;

export const ADAPTER_FLAG = {
  type: "string",
  arg: "DIR",
  path: "in",
  help: "a saved PEFT LoRA adapter folder to apply to the model",
} as const satisfies Flag;

export const TOKENIZER_FLAG = {
  type: "string",
  arg: "DIR",
  path: "in",
  defaultText: "the model folder",
  help: "folder with vocab.txt or tokenizer.json",
} as const satisfies Flag;
