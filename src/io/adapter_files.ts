// A PEFT LoRA adapter's files as bytes (adapter_model.safetensors, adapter_config.json), written
// so that PEFT loads them; see src/io/peft.ts for the key layout. No file system here: peft.ts
// writes these to a folder (Deno), a browser offers them as downloads.
import { type NamedTensor, serializeSafetensors } from "./safetensors_bytes.ts";
import { ALL_LINEAR_TARGETS, type LoraSpec } from "../nn/lora.ts";
import type { BertForSequenceClassification } from "../bert/model.ts";
import { readTensors, type Tensor } from "../tensor.ts";

/** Every PEFT key starts with it (PeftModel wraps the transformers model as base_model.model). */
export const PREFIX = "base_model.model.";
/** What PeftModelForSequenceClassification adds to modules_to_save (and writes back). */
export const SEQ_CLS_MODULES_TO_SAVE = ["classifier", "score"];

export interface AdapterSave {
  spec: LoraSpec;
  baseModel: string;
}

/**
 * A PEFT adapter's two files, adapter_model.safetensors and adapter_config.json (name → bytes):
 * the LoRA tensors and the classifier (trained fully: PEFT's modules_to_save for SEQ_CLS), with
 * the label names in the safetensors metadata. What saveAdapter writes and a browser downloads.
 */
export async function adapterFiles(
  model: BertForSequenceClassification,
  o: AdapterSave,
): Promise<Map<string, Uint8Array>> {
  const named = new Map<string, Tensor>();
  for (const [path, l] of model.lora) {
    named.set(`${PREFIX}${path}.lora_A.weight`, l.A).set(`${PREFIX}${path}.lora_B.weight`, l.B);
  }
  for (const k of ["classifier.weight", "classifier.bias"]) named.set(`${PREFIX}${k}`, model.p(k));
  const data = await readTensors([...named.values()]);
  const tensors = new Map<string, NamedTensor>(
    [...named].map(([k, t], i) => [k, { shape: [...t.shape], data: data[i] }]),
  );
  // The label names travel in the file's metadata (PEFT ignores it): a head trained on other labels
  // than the base model's would otherwise print the base's names, or not fit its classifier.
  const c = model.config;
  const id2label = Array.from(
    { length: c.numLabels },
    (_, i) => c.id2label[String(i)] ?? `LABEL_${i}`,
  );
  const weights = serializeSafetensors(tensors, {
    format: "pt",
    id2label: JSON.stringify(id2label),
  });
  // The keys PEFT's LoraConfig has had since 0.9, sorted as PEFT writes them.
  const config = {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: o.baseModel,
    bias: "none",
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: o.spec.alpha,
    lora_dropout: o.spec.dropout,
    megatron_config: null,
    megatron_core: "megatron.core",
    modules_to_save: SEQ_CLS_MODULES_TO_SAVE,
    peft_type: "LORA",
    r: o.spec.r,
    rank_pattern: {},
    revision: null,
    target_modules: o.spec.targets === "all-linear" ? ALL_LINEAR_TARGETS : o.spec.targets,
    task_type: "SEQ_CLS",
    use_dora: false,
    use_rslora: false,
  };
  return new Map([
    ["adapter_model.safetensors", weights],
    // As writeJsonAtomic writes JSON: two-space indent and a final newline.
    ["adapter_config.json", new TextEncoder().encode(JSON.stringify(config, null, 2) + "\n")],
  ]);
}
