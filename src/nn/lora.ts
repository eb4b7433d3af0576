// LoRA adapters on the model's Linear modules, chosen the way PEFT matches target_modules.
import { Tensor } from "../tensor.ts";
import { UserError } from "../errors.ts";
import { deriveSeed, kaimingUniformArray, Rng } from "./init.ts";
import type { BertForSequenceClassification } from "../bert/model.ts";

export interface LoraSpec {
  r: number;
  alpha: number;
  dropout: number;
  /** Module names (PEFT target_modules) or "all-linear" (every Linear, pooler and classifier too). */
  targets: string[] | "all-linear";
}

/** The short names that cover all-linear, as written into adapter_config.json. */
export const ALL_LINEAR_TARGETS = ["query", "key", "value", "dense", "classifier"];

/** PEFT: an entry matches a module whose path equals it or ends with "." + it. */
export function matchTargets(paths: string[], targets: string[] | "all-linear"): string[] {
  if (targets === "all-linear") return paths;
  const matches = (p: string, t: string) => p === t || p.endsWith(`.${t}`);
  const matched = paths.filter((p) => targets.some((t) => matches(p, t)));
  const unused = targets.filter((t) => !paths.some((p) => matches(p, t)));
  if (unused.length) {
    throw new UserError(`--lora-targets: no Linear module matches ${unused.join(", ")}`);
  }
  return matched;
}

export function parseTargets(value: string): string[] | "all-linear" {
  if (value === "all-linear") return value;
  const list = value.split(",").map((s) => s.trim()).filter(Boolean);
  if (!list.length) {
    throw new UserError(`--lora-targets: expected all-linear or a comma list of module names`);
  }
  return list;
}

/** A: kaiming-uniform(a=√5) from the seed, B: zeros, as PEFT initialises them; scale alpha/r. */
export function attachLora(
  model: BertForSequenceClassification,
  spec: LoraSpec,
  seed: number,
): string[] {
  if (!(spec.r >= 1 && Number.isInteger(spec.r))) {
    throw new UserError(`--lora-rank must be a positive integer, got ${spec.r}`);
  }
  const paths = matchTargets(model.linearPaths(), spec.targets);
  const rng = new Rng(deriveSeed(seed, "lora"));
  model.loraScale = spec.alpha / spec.r;
  for (const path of paths) {
    const [outF, inF] = model.p(`${path}.weight`).shape;
    model.lora.set(path, {
      A: Tensor.from(kaimingUniformArray(spec.r, inF, rng), [spec.r, inF], {
        name: `${path}.lora_A.weight`,
        requiresGrad: true,
      }),
      B: Tensor.from(new Float32Array(outF * spec.r), [outF, spec.r], {
        name: `${path}.lora_B.weight`,
        requiresGrad: true,
      }),
    });
  }
  return paths;
}
