// Resume state, kept beside the saved model as transformers' Trainer keeps checkpoint-<step>/:
// trainable.safetensors (every trainable tensor, by name), optimizer.safetensors (AdamW's
// `<name>.exp_avg` and `<name>.exp_avg_sq`) and trainer_state.json (step, the epoch's shuffle order
// and position in it, optimizer step count, schedule, seeds, early-stopping counter, results so far).
// A folder is filled under a temporary name and renamed, so a folder named checkpoint-<step> is
// always whole; a run killed mid-save leaves only a *.tmp-* folder, which is ignored and removed.
import { UserError } from "../errors.ts";
import { trackTempDir, untrackTempDir, writeFileAtomic } from "../io/atomic.ts";
import type { ResumeStore } from "./resume_state.ts";

export type { EpochAccumulators, ResumeStore, TrainerState } from "./resume_state.ts";

const CHECKPOINT = /^checkpoint-(\d+)$/;

/**
 * Fills `dir` through `fill(tmp)` on a temporary folder beside it, then renames it into place
 * (replacing an older `dir` by two renames; `recoverDir` undoes a crash between them).
 */
export async function writeDirAtomic(
  dir: string,
  fill: (tmp: string) => Promise<void>,
): Promise<void> {
  const tag = `${Deno.pid}-${Date.now()}`;
  const tmp = `${dir}.tmp-${tag}`, old = `${dir}.old-${tag}`;
  const parent = dir.replace(/\/[^/]*$/, "") || ".", base = dir.slice(parent.length + 1);
  for await (const e of readDirOrEmpty(parent)) {
    // What a killed save left behind.
    if (e.name.startsWith(`${base}.tmp-`)) {
      await Deno.remove(`${parent}/${e.name}`, { recursive: true });
    }
  }
  // A signal while the folder fills removes it (a killed process's is removed at the next save).
  trackTempDir(tmp);
  try {
    await Deno.mkdir(tmp, { recursive: true });
    try {
      await fill(tmp);
    } catch (e) {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      throw e;
    }
    await recoverDir(dir);
    const hadOld = await isDir(dir);
    if (hadOld) await Deno.rename(dir, old);
    await Deno.rename(tmp, dir);
    if (hadOld) await Deno.remove(old, { recursive: true });
  } finally {
    untrackTempDir(tmp);
  }
}

/** After a crash between writeDirAtomic's two renames, puts the previous folder back. */
export async function recoverDir(dir: string): Promise<void> {
  if (await isDir(dir)) return;
  const parent = dir.replace(/\/[^/]*$/, "") || ".", base = dir.slice(parent.length + 1);
  for await (const e of readDirOrEmpty(parent)) {
    if (e.isDirectory && e.name.startsWith(`${base}.old-`)) {
      await Deno.rename(`${parent}/${e.name}`, dir);
      return;
    }
  }
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

async function* readDirOrEmpty(dir: string): AsyncIterable<Deno.DirEntry> {
  try {
    yield* Deno.readDir(dir);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** The newest whole checkpoint-<step>/ in `outDir`, or null. */
export async function latestCheckpoint(outDir: string): Promise<string | null> {
  let best: [number, string] | null = null;
  for await (const e of readDirOrEmpty(outDir)) {
    const m = e.name.match(CHECKPOINT);
    if (e.isDirectory && m && (!best || Number(m[1]) > best[0])) best = [Number(m[1]), e.name];
  }
  return best ? `${outDir}/${best[1]}` : null;
}

/**
 * Resume state in `outDir`'s checkpoint-<step>/ folders: each save fills a new folder atomically
 * (writeDirAtomic) and then removes older checkpoints and leftovers of killed saves; `load` reads
 * the newest whole one.
 */
export function folderResumeStore(outDir: string): ResumeStore {
  let saves = 0;
  return {
    async load() {
      const dir = await latestCheckpoint(outDir);
      if (!dir) throw new UserError(`${outDir}: no checkpoint-<step> folder to resume from`);
      const files = new Map<string, Uint8Array>();
      for (const f of ["trainer_state.json", "trainable.safetensors", "optimizer.safetensors"]) {
        try {
          files.set(f, await Deno.readFile(`${dir}/${f}`));
        } catch { /* reported by name when the state is applied */ }
      }
      return { where: dir, files };
    },
    async save(step, files) {
      const name = `checkpoint-${step}`;
      await Deno.mkdir(outDir, { recursive: true });
      await writeDirAtomic(`${outDir}/${name}`, async (tmp) => {
        for (const [f, bytes] of files) await writeFileAtomic(`${tmp}/${f}`, bytes);
      });
      for await (const e of readDirOrEmpty(outDir)) {
        const stale = (CHECKPOINT.test(e.name) && e.name !== name) ||
          /^checkpoint-\d+\.(tmp|old)-/.test(e.name);
        if (e.isDirectory && stale) await Deno.remove(`${outDir}/${e.name}`, { recursive: true });
      }
      // Test hook: end the process right after the Nth save, as a crash there would.
      if (++saves === Number(Deno.env.get("WEBGPU_BERT_EXIT_AFTER_SAVE"))) Deno.exit(75);
    },
  };
}
