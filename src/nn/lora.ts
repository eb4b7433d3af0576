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

/**
 * The short names that cover all-linear, as written into adapter_config.json: every Linear of
 * the encoder and the pooler. The classifier is never a LoRA target: for SEQ_CLS, PEFT trains it
 * fully (modules_to_save) and excludes it from all-linear and from any target list.
 */
export const ALL_LINEAR_TARGETS = ["query", "key", "value", "dense"];

/** The Embedding modules PEFT can put LoRA on (lora_embedding_A/B); loaded, never trained here. */
export const EMBEDDING_PATHS = [
  "bert.embeddings.word_embeddings",
  "bert.embeddings.position_embeddings",
  "bert.embeddings.token_type_embeddings",
];

/**
 * PEFT: an entry matches a module whose path equals it or ends with "." + it; the classifier
 * (a modules_to_save module) is skipped even when an entry names it.
 */
export function matchTargets(paths: string[], targets: string[] | "all-linear"): string[] {
  const adaptable = paths.filter((p) => p !== "classifier");
  if (targets === "all-linear") return adaptable;
  const matches = (p: string, t: string) => p === t || p.endsWith(`.${t}`);
  const matched = adaptable.filter((p) => targets.some((t) => matches(p, t)));
  const unused = targets.filter((t) => !paths.some((p) => matches(p, t)));
  if (unused.length) {
    throw new UserError(`--lora-targets: no Linear module matches ${unused.join(", ")}`);
  }
  if (!matched.length) {
    throw new UserError(
      `--lora-targets: the classifier is trained fully in lora mode (PEFT modules_to_save); name at least one encoder module`,
    );
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

/**
 * A: kaiming-uniform(a=√5) from the seed, B: zeros, as PEFT initialises them; scale alpha/r.
 * Returns the adapted paths (never the classifier, see matchTargets).
 */
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
