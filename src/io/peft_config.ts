// adapter_config.json of a PEFT LoRA adapter: what the engine applies, and a one-line refusal for
// every variant it does not implement. Field names and matching rules are PEFT's
// (src/peft/tuners/lora/config.py, tuners_utils.py check_target_module_exists, utils/other.py
// get_pattern_key and _set_trainable, peft_model.py PeftModelForSequenceClassification).
import { UserError } from "../errors.ts";

export interface AdapterConfig {
  file: string;
  r: number;
  alpha: number;
  dropout: number;
  /** A list (PEFT: a name equal to the path or ending in "." + it) or one regex (full match). */
  targetModules: string[] | string;
  excludeModules: string[] | string | null;
  bias: "none" | "all" | "lora_only";
  useRslora: boolean;
  rankPattern: Record<string, number>;
  alphaPattern: Record<string, number>;
  /** As PEFT uses it: the config's list, plus ["classifier", "score"] for SEQ_CLS. */
  modulesToSave: string[];
  /** Only the config's own list (a missing module there is worth a warning). */
  declaredModulesToSave: string[];
  taskType: string | null;
}

/** The LoRA initialisations that only seed A and B: loaded tensors replace them. */
const PLAIN_INITS = [true, false, "gaussian", "eva", "orthogonal"];

/** Keys that never change what a loaded adapter computes. */
const INERT = new Set([
  "peft_type",
  "task_type",
  "auto_mapping",
  "peft_version",
  "base_model_name_or_path",
  "revision",
  "inference_mode",
  "lora_dropout",
  "runtime_config",
  "eva_config",
  "corda_config",
  "lora_ga_config",
  "loftq_config",
  "megatron_core",
  "qalora_group_size",
  "ensure_weight_tying",
  "layers_pattern", // used only with layers_to_transform, refused below when set
  "target_modules",
  "exclude_modules",
  "r",
  "lora_alpha",
  "bias",
  "use_rslora",
  "rank_pattern",
  "alpha_pattern",
  "modules_to_save",
  "init_lora_weights",
]);

/** Set = anything but null, false, 0-length list/object/string (PEFT's defaults). */
const isSet = (v: unknown) =>
  !(v === null || v === undefined || v === false || v === "" ||
    (Array.isArray(v) && v.length === 0) ||
    (typeof v === "object" && !Array.isArray(v) && Object.keys(v as object).length === 0));

function numberMap(file: string, key: string, v: unknown): Record<string, number> {
  if (v === null || v === undefined) return {};
  if (typeof v !== "object" || Array.isArray(v)) {
    throw new UserError(`${file}: ${key} must be an object of module pattern → number`);
  }
  for (const [k, n] of Object.entries(v as object)) {
    if (typeof n !== "number" || !Number.isFinite(n)) {
      throw new UserError(`${file}: ${key}["${k}"] must be a number, got ${JSON.stringify(n)}`);
    }
    patternRegex(file, `${key}["${k}"]`, k);
  }
  return v as Record<string, number>;
}

function stringList(file: string, key: string, v: unknown): string[] | string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return v;
  if (Array.isArray(v) && v.every((s) => typeof s === "string")) return v as string[];
  throw new UserError(`${file}: ${key} must be a string or a list of strings`);
}

/** Parses and checks adapter_config.json; refuses every variant the engine does not implement. */
export async function readAdapterConfig(dir: string): Promise<AdapterConfig> {
  const file = `${dir}/adapter_config.json`;
  let cfg: Record<string, unknown>;
  try {
    cfg = JSON.parse(await Deno.readTextFile(file));
  } catch (e) {
    throw new UserError(`${file}: ${e instanceof SyntaxError ? "invalid JSON" : "not found"}`);
  }
  if (typeof cfg !== "object" || cfg === null || Array.isArray(cfg)) {
    throw new UserError(`${file}: expected a JSON object`);
  }
  if (cfg.peft_type !== "LORA") {
    throw new UserError(
      `${file}: peft_type ${JSON.stringify(cfg.peft_type)} is not supported (only LORA)`,
    );
  }
  const task = cfg.task_type ?? null;
  if (task !== null && task !== "SEQ_CLS" && task !== "FEATURE_EXTRACTION") {
    throw new UserError(
      `${file}: task_type ${JSON.stringify(task)} is not a sequence-classification adapter`,
    );
  }
  const refuse = (why: string) => {
    throw new UserError(`${file}: ${why} is not supported`);
  };
  if (cfg.use_dora) refuse("use_dora (DoRA)");
  if (cfg.fan_in_fan_out) refuse("fan_in_fan_out: true (BERT's Linear weights are [out, in])");
  if (isSet(cfg.layers_to_transform)) refuse("layers_to_transform");
  if (
    !PLAIN_INITS.includes(cfg.init_lora_weights as string | boolean) &&
    cfg.init_lora_weights !== undefined
  ) {
    // PiSSA, OLoRA, CorDA, LoftQ, LoRA-GA change the base weights; MiCA is a LoRA variant.
    refuse(`init_lora_weights ${JSON.stringify(cfg.init_lora_weights)}`);
  }
  for (const [k, v] of Object.entries(cfg)) {
    if (!INERT.has(k) && isSet(v)) refuse(`${k} ${JSON.stringify(v)}`);
  }
  const r = cfg.r, alpha = cfg.lora_alpha ?? 8;
  if (typeof r !== "number" || !Number.isInteger(r) || r < 1) {
    throw new UserError(`${file}: r must be a positive integer, got ${JSON.stringify(r)}`);
  }
  if (typeof alpha !== "number" || !Number.isFinite(alpha)) {
    throw new UserError(`${file}: lora_alpha must be a number, got ${JSON.stringify(alpha)}`);
  }
  const bias = cfg.bias ?? "none";
  if (bias !== "none" && bias !== "all" && bias !== "lora_only") {
    refuse(`bias ${JSON.stringify(bias)}`);
  }
  const targetModules = stringList(file, "target_modules", cfg.target_modules);
  if (targetModules === null || targetModules.length === 0) {
    throw new UserError(`${file}: target_modules is missing`);
  }
  if (typeof targetModules === "string") patternRegex(file, "target_modules", targetModules);
  const excludeModules = stringList(file, "exclude_modules", cfg.exclude_modules);
  if (typeof excludeModules === "string") patternRegex(file, "exclude_modules", excludeModules);
  const declared = stringList(file, "modules_to_save", cfg.modules_to_save);
  if (typeof declared === "string") {
    throw new UserError(`${file}: modules_to_save must be a list of module names`);
  }
  const rankPattern = numberMap(file, "rank_pattern", cfg.rank_pattern);
  for (const [k, n] of Object.entries(rankPattern)) {
    if (!Number.isInteger(n) || n < 1) {
      throw new UserError(`${file}: rank_pattern["${k}"] must be a positive integer, got ${n}`);
    }
  }
  return {
    file,
    r,
    alpha,
    dropout: typeof cfg.lora_dropout === "number" ? cfg.lora_dropout : 0,
    targetModules,
    excludeModules,
    bias: bias as AdapterConfig["bias"],
    useRslora: cfg.use_rslora === true,
    rankPattern,
    alphaPattern: numberMap(file, "alpha_pattern", cfg.alpha_pattern),
    // PeftModelForSequenceClassification appends its head names to modules_to_save.
    modulesToSave: [...(declared ?? []), ...(task === "SEQ_CLS" ? ["classifier", "score"] : [])],
    declaredModulesToSave: declared ?? [],
    taskType: task as string | null,
  };
}

/** A Python `re` pattern as a JS RegExp (the subset both share); a bad pattern names its key. */
function patternRegex(file: string, key: string, pattern: string, wrap = (p: string) => p): RegExp {
  try {
    return new RegExp(wrap(pattern));
  } catch {
    throw new UserError(`${file}: ${key} ${JSON.stringify(pattern)} is not a valid regex`);
  }
}

/** PEFT check_target_module_exists: a string is re.fullmatch'ed, a list entry equals the path or ends it after a dot. */
export function matchesModuleList(list: string[] | string, path: string): boolean {
  if (typeof list === "string") return new RegExp(`^(?:${list})$`).test(path);
  return list.some((t) => path === t || path.endsWith(`.${t}`));
}

/** PEFT never puts LoRA inside a modules_to_save module: re.match(rf"(^|.*\.){m}($|\..*)", key). */
export function insideModulesToSave(modulesToSave: string[], path: string): boolean {
  return modulesToSave.some((m) => new RegExp(`^(?:|.*\\.)${m}(?:$|\\..*)`).test(path));
}

/** PEFT _set_trainable wraps every module whose name ends with the entry (plain suffix). */
export function isModuleToSave(modulesToSave: string[], path: string): boolean {
  return modulesToSave.some((m) => path.endsWith(m));
}

/**
 * PEFT get_pattern_key: the first key of a rank/alpha pattern for which
 * re.match(rf"(.*\.)?({key})$", module) holds, else none.
 */
export function patternValue(
  pattern: Record<string, number>,
  path: string,
): number | undefined {
  for (const [key, value] of Object.entries(pattern)) {
    if (new RegExp(`^(.*\\.)?(${key})$`).test(path)) return value;
  }
  return undefined;
}

/** Rank, alpha and scaling of one module: alpha/r, or alpha/√r with use_rslora (PEFT update_layer). */
export function moduleLora(
  c: AdapterConfig,
  path: string,
): { r: number; alpha: number; scale: number } {
  const r = patternValue(c.rankPattern, path) ?? c.r;
  const alpha = patternValue(c.alphaPattern, path) ?? c.alpha;
  return { r, alpha, scale: c.useRslora ? alpha / Math.sqrt(r) : alpha / r };
}
