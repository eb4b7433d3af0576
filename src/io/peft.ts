// PEFT LoRA adapters: adapter_model.safetensors and adapter_config.json, written so that PEFT
// loads them and read the way PEFT's set_peft_model_state_dict + load_state_dict apply them:
// - `<m>.lora_A.weight` (r, in), `<m>.lora_B.weight` (out, r): LoRA on a targeted Linear,
//   y = x·Wᵀ + b + scaling·(x·Aᵀ)·Bᵀ (PEFT lora.Linear);
// - `<m>.lora_embedding_A` (r, num), `<m>.lora_embedding_B` (dim, r): LoRA on a targeted
//   Embedding, out = W[x] + scaling·(Aᵀ[x])·Bᵀ (PEFT lora.Embedding);
// - `<m>.base_layer.<p>` (a LoRA-wrapped module's own bias or weight, bias "all"/"lora_only"),
//   `<m>.<p>` (another module's parameter: a bias, or a modules_to_save module, also spelled
//   `<m>.modules_to_save.default.<p>`): the stored tensor replaces the base one, as PEFT's
//   strict=False load_state_dict does.
// Every key is prefixed `base_model.model.`. Any other tensor is refused by name: PEFT would drop
// it with a warning, which is a silent wrong answer here.
import { Tensor } from "../tensor.ts";
import { UserError } from "../errors.ts";
import { type NamedTensor, readSafetensorsAll } from "./safetensors.ts";
import { parseSafetensorsHeader, type SafetensorsHeader } from "./safetensors_header.ts";
import { writeFileAtomic } from "./atomic.ts";
import { EMBEDDING_PATHS } from "../nn/lora.ts";
import { adapterFiles, type AdapterSave, PREFIX } from "./adapter_files.ts";
import type { BertForSequenceClassification } from "../bert/model.ts";
import type { LoadedCheckpoint } from "../bert/checkpoint.ts";
import { applyLabels } from "../data/labels.ts";
import {
  type AdapterConfig,
  insideModulesToSave,
  isModuleToSave,
  matchesModuleList,
  moduleLora,
  readAdapterConfig,
} from "./peft_config.ts";

export { type AdapterSave, SEQ_CLS_MODULES_TO_SAVE } from "./adapter_files.ts";

/** Writes adapterFiles' adapter_model.safetensors and adapter_config.json into `dir` (atomically). */
export async function saveAdapter(
  dir: string,
  model: BertForSequenceClassification,
  o: AdapterSave,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (const [name, bytes] of await adapterFiles(model, o)) {
    await writeFileAtomic(`${dir}/${name}`, bytes);
  }
}

export interface LoadedAdapter {
  config: AdapterConfig;
  /** LoRA-adapted Linear and Embedding modules. */
  adapted: string[];
  /** Base parameters the adapter replaced (biases, modules_to_save). */
  replaced: string[];
}

/**
 * The labels of an adapter's classifier, in id order: the names saveAdapter stores in the
 * safetensors metadata, else `LABEL_i` (transformers' default names) for each row of a stored
 * classifier.weight; null when the adapter has no classifier (the base model's head is used).
 * Apply them to the base checkpoint (applyLabels) before building the model, so that a head trained
 * on N labels fits and prints its own names.
 */
export async function adapterLabels(
  dir: string,
): Promise<{ names: string[]; stored: boolean } | null> {
  const file = `${dir}/adapter_model.safetensors`;
  let header: SafetensorsHeader;
  try {
    header = parseSafetensorsHeader(await Deno.readFile(file), file);
  } catch {
    return null; // loadAdapter reports a missing or unreadable file by name
  }
  const meta = header.metadata;
  if (meta.id2label) {
    try {
      const names = JSON.parse(meta.id2label);
      if (Array.isArray(names) && names.every((x) => typeof x === "string")) {
        return { names, stored: true };
      }
    } catch { /* not ours: fall back to the classifier's shape */ }
  }
  for (const [k, v] of header.tensors) {
    if (!/(^|\.)classifier\.(modules_to_save\.default\.)?weight$/.test(k)) continue;
    const rows = v.shape[0];
    return { names: Array.from({ length: rows }, (_, i) => `LABEL_${i}`), stored: false };
  }
  return null;
}

/**
 * Gives the base checkpoint the adapter's labels before the model is built: the stored names, or,
 * for an adapter without them whose classifier has another number of rows, `LABEL_i`. The head's
 * weights come from the adapter (loadAdapter), so the fresh head made here is replaced.
 */
export async function applyAdapterLabels(
  ck: LoadedCheckpoint,
  dir: string,
  seed: number,
): Promise<void> {
  const found = await adapterLabels(dir);
  if (!found || (!found.stored && found.names.length === ck.config.numLabels)) return;
  applyLabels(ck, found.names, seed, () => {});
}

/** Every module path of the model: each dotted prefix of a parameter name. */
function modulePaths(params: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const name of params) {
    const parts = name.split(".");
    for (let i = 1; i < parts.length; i++) out.add(parts.slice(0, i).join("."));
  }
  return out;
}

/**
 * Applies an adapter folder to the model (frozen, for inference or merging): LoRA with each
 * module's r and alpha (rank_pattern, alpha_pattern, use_rslora), stored biases and
 * modules_to_save weights. Throws UserError naming the file and the tensor or field it cannot apply.
 */
export async function loadAdapter(
  dir: string,
  model: BertForSequenceClassification,
  warn: (msg: string) => void = (m) => console.error(m),
): Promise<LoadedAdapter> {
  const c = await readAdapterConfig(dir);
  const file = `${dir}/adapter_model.safetensors`;
  try {
    await Deno.stat(file);
  } catch {
    const bin = await Deno.stat(`${dir}/adapter_model.bin`).then(() => true, () => false);
    throw new UserError(
      bin
        ? `${dir}: only adapter_model.bin (a PyTorch pickle) is present; convert it to adapter_model.safetensors (safetensors.torch.save_file)`
        : `${file}: file not found`,
    );
  }
  // One read: every stored tensor, integers too, so none is skipped without a word.
  const tensors = new Map<string, NamedTensor>();
  for (const [name, t] of await readSafetensorsAll(file)) {
    if (!t.data) {
      throw new UserError(`${file}: ${name} has dtype ${t.dtype}; adapter tensors must be floats`);
    }
    tensors.set(name, { shape: t.shape, data: t.data });
  }

  const linear = new Set(model.linearPaths());
  const embeddings = new Set(EMBEDDING_PATHS);
  const modules = modulePaths(model.params.keys());
  const targeted = new Set<string>();
  // PEFT's shorthand (any case): every Linear but the output layer, which for SEQ_CLS is the
  // classifier, a modules_to_save module here (skipped below).
  const allLinear = typeof c.targetModules === "string" &&
    c.targetModules.toLowerCase() === "all-linear";
  for (const m of modules) {
    if (allLinear ? !linear.has(m) || m === "classifier" : !matchesModuleList(c.targetModules, m)) {
      continue;
    }
    if (c.excludeModules && matchesModuleList(c.excludeModules, m)) continue;
    if (insideModulesToSave(c.modulesToSave, m)) continue;
    if (!linear.has(m) && !embeddings.has(m)) {
      throw new UserError(
        `${c.file}: target_modules matches ${m}, which is neither a Linear nor an Embedding`,
      );
    }
    targeted.add(m);
  }
  if (targeted.size === 0) {
    throw new UserError(`${c.file}: target_modules matches no Linear or Embedding of this model`);
  }

  const lora = new Map<string, { A?: NamedTensor; B?: NamedTensor; key: string }>();
  const replace = new Map<string, { t: NamedTensor; key: string }>();
  /** Two spellings of one parameter are fine only when they hold the same values. */
  const put = (param: string, t: NamedTensor, key: string) => {
    const had = replace.get(param);
    if (had && had.t.data.some((v, i) => v !== t.data[i])) {
      throw new UserError(`${file}: ${key} and ${had.key} are both ${param} but differ`);
    }
    replace.set(param, { t, key });
  };
  for (const [key, t] of tensors) {
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i])) {
        throw new UserError(`${file}: ${key} holds ${t.data[i]} at index ${i}`);
      }
    }
    if (!key.startsWith(PREFIX)) {
      throw new UserError(`${file}: ${key} does not start with ${PREFIX} (not a PEFT key)`);
    }
    const name = key.slice(PREFIX.length);
    const ab = name.match(/^(.+)\.lora_(A|B|embedding_A|embedding_B)(?:\.default)?(?:\.weight)?$/);
    if (ab) {
      const [, path, which] = ab;
      const isEmb = which.startsWith("embedding");
      const wantsWeight = !isEmb; // lora_A/B are Linear modules, lora_embedding_* Parameters
      if (name.endsWith(".weight") !== wantsWeight) {
        throw new UserError(`${file}: ${key} is not a PEFT LoRA key`);
      }
      if (!targeted.has(path) || embeddings.has(path) !== isEmb) {
        throw new UserError(
          `${file}: ${key} is for ${path}, which adapter_config.json does not target with ${
            isEmb ? "an Embedding" : "a Linear"
          } LoRA (PEFT would ignore it)`,
        );
      }
      const entry = lora.get(path) ?? { key };
      const slot = which.endsWith("A") ? "A" : "B";
      if (entry[slot]) throw new UserError(`${file}: ${key} duplicates another spelling`);
      entry[slot] = t;
      lora.set(path, entry);
      continue;
    }
    const base = name.match(/^(.+)\.base_layer\.(weight|bias)$/);
    if (base) {
      if (!targeted.has(base[1])) {
        throw new UserError(
          `${file}: ${key}: ${base[1]} is not a LoRA-targeted module (PEFT would ignore it)`,
        );
      }
      put(`${base[1]}.${base[2]}`, t, key);
      continue;
    }
    // A modules_to_save module M: PEFT saves M.<p>; with bias "all" its state_dict also yields
    // M.modules_to_save.<p> (the same tensor) and M.original_module.<p> (the inactive copy of the
    // base, which PEFT loads where it never reaches the output).
    const wrapped = name.match(/^(.+)\.(modules_to_save(?:\.default)?|original_module)\.(.+)$/);
    if (wrapped && !isModuleToSave(c.modulesToSave, wrapped[1])) {
      throw new UserError(`${file}: ${key}: ${wrapped[1]} is not in modules_to_save`);
    }
    const param = wrapped ? `${wrapped[1]}.${wrapped[3]}` : name;
    if (!model.params.has(param)) {
      throw new UserError(`${file}: ${key} names no parameter of this model`);
    }
    if (wrapped?.[2] === "original_module") continue;
    const owner = param.slice(0, param.lastIndexOf("."));
    if (targeted.has(owner)) {
      throw new UserError(
        `${file}: ${key}: ${owner} carries LoRA, so PEFT stores its own tensors as ${owner}.base_layer.* and would ignore this key`,
      );
    }
    put(param, t, key);
  }

  // Every targeted module must come with both matrices: PEFT would otherwise keep its init.
  for (const path of targeted) {
    const e = lora.get(path);
    const [a, b] = embeddings.has(path)
      ? ["lora_embedding_A", "lora_embedding_B"]
      : ["lora_A.weight", "lora_B.weight"];
    if (!e?.A || !e?.B) {
      throw new UserError(
        `${file}: ${PREFIX}${path}.${e?.A ? b : a} is missing (${path} is a target)`,
      );
    }
  }
  // A modules_to_save module is saved whole by PEFT (state_dict of the module).
  for (const m of modules) {
    if (!isModuleToSave(c.modulesToSave, m)) continue;
    const own = [...model.params.keys()].filter((p) => p.startsWith(`${m}.`));
    const have = own.filter((p) => replace.has(p));
    if (have.length && have.length < own.length) {
      const miss = own.find((p) => !replace.has(p));
      throw new UserError(`${file}: modules_to_save ${m} lacks ${PREFIX}${miss}`);
    }
    if (!have.length && isModuleToSave(c.declaredModulesToSave, m)) {
      warn(`warning: ${file} has no weights for modules_to_save ${m}: the base model's are used`);
    }
  }

  for (const [param, { t, key }] of replace) {
    const p = model.p(param);
    if (t.shape.join(",") !== p.shape.join(",")) {
      throw new UserError(`${file}: ${key} has shape [${t.shape}], the model's is [${p.shape}]`);
    }
  }
  for (const [path, { A, B }] of lora) {
    const { r } = moduleLora(c, path);
    const [rows, cols] = model.p(`${path}.weight`).shape;
    // Linear weight (out, in): A (r, in), B (out, r). Embedding (num, dim): A (r, num), B (dim, r).
    const [aShape, bShape] = embeddings.has(path) ? [[r, rows], [cols, r]] : [[r, cols], [rows, r]];
    if (A!.shape.join(",") !== aShape.join(",") || B!.shape.join(",") !== bShape.join(",")) {
      throw new UserError(
        `${file}: ${path} has A [${A!.shape}] and B [${
          B!.shape
        }]; at r=${r} (r, rank_pattern) its weight [${rows},${cols}] needs A [${aShape}] and B [${bShape}]`,
      );
    }
  }

  // Everything checked: apply.
  for (const [param, { t }] of replace) {
    model.p(param).release();
    model.params.set(param, Tensor.from(t.data, t.shape, { name: param }));
  }
  for (const [path, { A, B }] of lora) {
    const { r, scale } = moduleLora(c, path);
    if (embeddings.has(path)) {
      const [num, dim] = model.p(`${path}.weight`).shape;
      model.loraEmbedding.set(path, {
        At: Tensor.from(transpose(A!.data, r, num), [num, r]),
        sB: Tensor.from(B!.data.map((v) => v * scale), [dim, r]),
      });
    } else {
      model.lora.set(path, {
        A: Tensor.from(A!.data, A!.shape),
        B: Tensor.from(B!.data, B!.shape),
        scale,
      });
    }
  }
  return { config: c, adapted: [...lora.keys()], replaced: [...replace.keys()] };
}

/** (rows, cols) row-major → (cols, rows). */
export function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(m.length);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) out[j * rows + i] = m[i * cols + j];
  }
  return out;
}
