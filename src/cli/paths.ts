// Paths checked before any work starts: inputs exist, outputs can be written, and an output folder
// that already holds a model or a LoRA adapter is replaced only with --overwrite.
import { UserError } from "../errors.ts";
import { removeStaleTemps } from "../io/atomic.ts";

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    if (e instanceof Deno.errors.NotADirectory) return null;
    throw e;
  }
}

function parentOf(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  const i = trimmed.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : trimmed.slice(0, i);
}

/** Why `dir` cannot take a new file, or null when it can (a probe file, made and removed). */
async function unwritable(dir: string): Promise<string | null> {
  try {
    const probe = await Deno.makeTempFile({ dir, prefix: ".write-probe-" });
    await Deno.remove(probe);
    return null;
  } catch (e) {
    return (e as Error).message.replace(/:? ?\(os error \d+\).*$/s, "").split(",")[0]
      .toLowerCase();
  }
}

export async function checkInputPath(label: string, path: string): Promise<void> {
  if (!(await statOrNull(path))) throw new UserError(`${path}: file not found (${label})`);
}

/** The nearest folder that exists at or above `path`; a file on the way is an error. */
/** The nearest existing folder at or above `path`; `shown` is the path errors name. */
async function existingAncestor(label: string, path: string, shown = path): Promise<string> {
  let p = path;
  for (;;) {
    const st = await statOrNull(p);
    if (st?.isDirectory) return p;
    if (st) throw new UserError(`${label} ${shown}: ${p} is a file, not a folder`);
    const up = parentOf(p);
    if (up === p) return p;
    p = up;
  }
}

const MODEL_FILES = ["model.safetensors", "config.json"];
const ADAPTER_FILES = ["adapter_model.safetensors", "adapter_config.json"];
const MODE_DIRS = ["full", "head", "lora"];

/** What a non-empty folder holds, in words for the refusal. */
function describe(names: string[]): string {
  if (names.some((n) => ADAPTER_FILES.includes(n))) return "a LoRA adapter";
  if (names.some((n) => MODEL_FILES.includes(n))) return "a trained model";
  if (names.some((n) => MODE_DIRS.includes(n))) return "an earlier run (full/head/lora)";
  return `files (${names.slice(0, 3).join(", ")}${names.length > 3 ? ", …" : ""})`;
}

/**
 * An output folder: created later by the command; here it must be a folder (or not exist) that can
 * be written, and empty unless `overwrite`. Temporary files an interrupted run left are removed.
 */
export async function checkOutputDir(label: string, dir: string, overwrite: boolean) {
  const st = await statOrNull(dir);
  if (st && !st.isDirectory) throw new UserError(`${label} ${dir}: is a file, not a folder`);
  const base = st ? dir : await existingAncestor(label, dir);
  const why = await unwritable(base);
  if (why) throw new UserError(`${label} ${dir}: cannot write in ${base} (${why})`);
  if (!st) return;
  await removeStaleTemps(dir);
  for (const m of MODE_DIRS) {
    if ((await statOrNull(`${dir}/${m}`))?.isDirectory) await removeStaleTemps(`${dir}/${m}`);
  }
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  if (names.length > 0 && !overwrite) {
    throw new UserError(
      `${label} ${dir} already holds ${
        describe(names.sort())
      }; pass --overwrite to replace it, or choose another folder`,
    );
  }
}

/** An output file: not a folder, in a folder that exists and can be written. */
export async function checkOutputFile(label: string, file: string): Promise<void> {
  const st = await statOrNull(file);
  if (st?.isDirectory) throw new UserError(`${label} ${file}: is a folder, not a file`);
  // A missing folder is made, as --out's is (the README's `--out runs/tiny --report
  // runs/tiny.html` on a fresh checkout), once the nearest existing folder is known writable.
  const dir = parentOf(file);
  const base = await existingAncestor(label, dir, file);
  const why = await unwritable(base);
  if (why) throw new UserError(`${label} ${file}: cannot write in ${base} (${why})`);
  if (base !== dir) await Deno.mkdir(dir, { recursive: true });
}

/** What train and merge write into an output folder (files, then folders). */
const RUN_FILES = [
  ...MODEL_FILES,
  ...ADAPTER_FILES,
  "metrics.json",
];
const RUN_DIRS = [...MODE_DIRS, "best", "base_model"];

/**
 * With --overwrite, removes what an earlier train or merge saved in `dir` (model or LoRA adapter
 * files, metrics.json, best/, checkpoint-<step>/, full|head|lora/, base_model/) so that a new run
 * of another kind leaves no stale model beside its own files (a LoRA adapter next to an old
 * model.safetensors would load as that old model). Tokenizer files and other files are kept, and
 * nothing is removed when `dir` is one of `inputs` (the model or tokenizer being read: a run that
 * writes over its own base model still needs it). Called once the run starts, never on --resume.
 */
export async function clearEarlierRun(dir: string, inputs: string[] = []): Promise<void> {
  const st = await statOrNull(dir);
  if (!st?.isDirectory) return;
  const real = await Deno.realPath(dir);
  for (const p of inputs) {
    if (await Deno.realPath(p).then((r) => r === real, () => false)) return;
  }
  for await (const e of Deno.readDir(dir)) {
    const known = e.isDirectory
      ? RUN_DIRS.includes(e.name) || /^checkpoint-\d+$/.test(e.name)
      : RUN_FILES.includes(e.name);
    if (known) await Deno.remove(`${dir}/${e.name}`, { recursive: true });
  }
}
