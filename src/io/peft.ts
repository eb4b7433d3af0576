// PEFT LoRA adapters: adapter_model.safetensors (base_model.model.<path>.lora_A.weight (r, in),
// .lora_B.weight (out, r), and the classifier when the base lacks one or it was trained) and
// adapter_config.json with PEFT's long-standing keys, sorted.
import { Tensor } from "../tensor.ts";
import { UserError } from "../errors.ts";
import { type NamedTensor, readSafetensors, writeSafetensors } from "./safetensors.ts";
import { writeJsonAtomic } from "./atomic.ts";
import { ALL_LINEAR_TARGETS, type LoraSpec } from "../nn/lora.ts";
import type { BertForSequenceClassification } from "../bert/model.ts";

const PREFIX = "base_model.model.";

export interface AdapterSave {
  spec: LoraSpec;
  baseModel: string;
  /** Save the classifier beside the adapter (fresh or trained head). */
  saveHead: boolean;
}

export async function saveAdapter(
  dir: string,
  model: BertForSequenceClassification,
  o: AdapterSave,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const tensors = new Map<string, NamedTensor>();
  for (const [path, l] of model.lora) {
    tensors.set(`${PREFIX}${path}.lora_A.weight`, {
      shape: [...l.A.shape],
      data: await l.A.read(),
    });
    tensors.set(`${PREFIX}${path}.lora_B.weight`, {
      shape: [...l.B.shape],
      data: await l.B.read(),
    });
  }
  if (o.saveHead) {
    for (const k of ["classifier.weight", "classifier.bias"]) {
      const t = model.p(k);
      tensors.set(`${PREFIX}${k}`, { shape: [...t.shape], data: await t.read() });
    }
  }
  await writeSafetensors(`${dir}/adapter_model.safetensors`, tensors, { format: "pt" });
  const config = {
    alpha_pattern: {},
    base_model_name_or_path: o.baseModel,
    bias: "none",
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: o.spec.alpha,
    lora_dropout: o.spec.dropout,
    modules_to_save: o.saveHead ? ["classifier"] : null,
    peft_type: "LORA",
    r: o.spec.r,
    rank_pattern: {},
    revision: null,
    target_modules: o.spec.targets === "all-linear" ? ALL_LINEAR_TARGETS : o.spec.targets,
    task_type: "SEQ_CLS",
    use_dora: false,
    use_rslora: false,
  };
  await writeJsonAtomic(`${dir}/adapter_config.json`, config);
}

/** Applies a saved adapter to the model (frozen; inference or further training). */
export async function loadAdapter(
  dir: string,
  model: BertForSequenceClassification,
): Promise<LoraSpec> {
  const cfgFile = `${dir}/adapter_config.json`;
  let cfg: Record<string, unknown>;
  try {
    cfg = JSON.parse(await Deno.readTextFile(cfgFile));
  } catch (e) {
    throw new UserError(`${cfgFile}: ${e instanceof SyntaxError ? "invalid JSON" : "not found"}`);
  }
  if (cfg.peft_type !== "LORA") {
    throw new UserError(`${cfgFile}: peft_type ${JSON.stringify(cfg.peft_type)} is not LORA`);
  }
  const r = cfg.r as number, alpha = cfg.lora_alpha as number;
  if (!(r > 0) || typeof alpha !== "number") {
    throw new UserError(`${cfgFile}: r and lora_alpha must be numbers`);
  }
  if (cfg.use_dora) throw new UserError(`${cfgFile}: DoRA adapters are not supported`);
  model.loraScale = cfg.use_rslora ? alpha / Math.sqrt(r) : alpha / r;
  const file = `${dir}/adapter_model.safetensors`;
  const tensors = await readSafetensors(file);
  const paths = new Set(model.linearPaths());
  const pending = new Map<string, { A?: NamedTensor; B?: NamedTensor }>();
  for (const [key, t] of tensors) {
    const m = key.match(/^base_model\.model\.(.+)\.lora_([AB])(?:\.default)?\.weight$/);
    if (m) {
      if (!paths.has(m[1])) {
        throw new UserError(`${file}: ${key} names no Linear module of this model`);
      }
      const entry = pending.get(m[1]) ?? {};
      entry[m[2] as "A" | "B"] = t;
      pending.set(m[1], entry);
      continue;
    }
    const head = key.match(/^base_model\.model\.(classifier\.(?:weight|bias))$/);
    if (head) {
      const p = model.p(head[1]);
      if (t.shape.join(",") !== p.shape.join(",")) {
        throw new UserError(`${file}: ${key} has shape [${t.shape}], the model's is [${p.shape}]`);
      }
      p.release();
      model.params.set(head[1], Tensor.from(t.data, t.shape, { name: head[1] }));
    }
  }
  for (const [path, { A, B }] of pending) {
    if (!A || !B) throw new UserError(`${file}: ${path} has lora_${A ? "B" : "A"} missing`);
    const [outF, inF] = model.p(`${path}.weight`).shape;
    if (A.shape.join(",") !== `${r},${inF}` || B.shape.join(",") !== `${outF},${r}`) {
      throw new UserError(
        `${file}: ${path} lora_A [${A.shape}] / lora_B [${B.shape}] do not fit weight [${outF},${inF}] at r=${r}`,
      );
    }
    model.lora.set(path, { A: Tensor.from(A.data, A.shape), B: Tensor.from(B.data, B.shape) });
  }
  if (pending.size === 0) throw new UserError(`${file}: no lora_A/lora_B tensors`);
  return {
    r,
    alpha,
    dropout: (cfg.lora_dropout as number) ?? 0,
    targets: (cfg.target_modules as string[]) ?? "all-linear",
  };
}
