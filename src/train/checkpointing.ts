// Resume state, kept beside the saved model as transformers' Trainer keeps checkpoint-<step>/:
// trainable.safetensors (every trainable tensor, by name), optimizer.safetensors (AdamW's
// `<name>.exp_avg` and `<name>.exp_avg_sq`) and trainer_state.json (step, the epoch's shuffle order
// and position in it, optimizer step count, schedule, seeds, early-stopping counter, results so far).
// A folder is filled under a temporary name and renamed, so a folder named checkpoint-<step> is
// always whole; a run killed mid-save leaves only a *.tmp-* folder, which is ignored and removed.
import { Tensor } from "../tensor.ts";
import { gpu } from "../gpu/kernel.ts";
import { UserError } from "../errors.ts";
import { type NamedTensor, readSafetensors, writeSafetensors } from "../io/safetensors.ts";
import { trackTempDir, untrackTempDir, writeJsonAtomic } from "../io/atomic.ts";
import { AdamW } from "../optim/adamw.ts";
import type { Optimizer } from "../optim/optimizer.ts";
import type { ModeResult } from "./trainer.ts";

/** Sums carried across an epoch that a save may interrupt. */
export interface EpochAccumulators {
  lossSum: number;
  lossCount: number;
  tokens: number;
  epochSteps: number;
  trainMs: number;
}

export interface TrainerState {
  version: 1;
  mode: string;
  /** Optimizer steps done. */
  step: number;
  /** The epoch in progress (1-based), its shuffled order and where its next batch starts. */
  epoch: number;
  order: number[] | null;
  batchStart: number;
  optimizer: { type: string; stepCount: number; lr: number };
  schedule: { warmup: number; totalSteps: number };
  /** Shuffling and dropout are derived from these (deriveSeed(seed, "shuffle-<epoch>"), …). */
  rng: { seed: number; dropoutSeedOfNextStep: number };
  accumulators: EpochAccumulators;
  /** Evaluations since the best one (EarlyStoppingCallback's counter). */
  patienceCounter: number;
  /** Whether early stopping ended the run. */
  stopped: boolean;
  result: ModeResult;
  /** Options and data that must be the same to resume; compared key by key. */
  fingerprint: Record<string, unknown>;
}

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

async function tensorsOf(named: Map<string, Tensor>): Promise<Map<string, NamedTensor>> {
  const out = new Map<string, NamedTensor>();
  for (const [k, t] of named) out.set(k, { shape: [...t.shape], data: await t.read() });
  return out;
}

/** Saves checkpoint-<step>/ and then removes older checkpoints and leftovers of killed saves. */
export async function saveResumeState(
  outDir: string,
  trainables: Map<string, Tensor>,
  opt: Optimizer,
  state: TrainerState,
): Promise<void> {
  const names = [...trainables.keys()];
  const moments = new Map<string, Tensor>();
  if (opt instanceof AdamW) {
    names.forEach((name, i) => {
      const s = opt.moments(i);
      if (s) moments.set(`${name}.exp_avg`, s.m).set(`${name}.exp_avg_sq`, s.v);
    });
  }
  const name = `checkpoint-${state.step}`;
  await Deno.mkdir(outDir, { recursive: true });
  await writeDirAtomic(`${outDir}/${name}`, async (tmp) => {
    await writeSafetensors(`${tmp}/trainable.safetensors`, await tensorsOf(trainables));
    await writeSafetensors(`${tmp}/optimizer.safetensors`, await tensorsOf(moments));
    await writeJsonAtomic(`${tmp}/trainer_state.json`, state);
  });
  for await (const e of readDirOrEmpty(outDir)) {
    const stale = (CHECKPOINT.test(e.name) && e.name !== name) ||
      /^checkpoint-\d+\.(tmp|old)-/.test(e.name);
    if (e.isDirectory && stale) await Deno.remove(`${outDir}/${e.name}`, { recursive: true });
  }
}

/**
 * Reads checkpoint `dir` into the freshly built trainables and optimizer and returns its state.
 * Errors (UserError) name the option or tensor that differs from the run being resumed.
 */
export async function loadResumeState(
  dir: string,
  trainables: Map<string, Tensor>,
  opt: Optimizer,
  fingerprint: Record<string, unknown>,
): Promise<TrainerState> {
  const file = `${dir}/trainer_state.json`;
  let state: TrainerState;
  try {
    state = JSON.parse(await Deno.readTextFile(file));
  } catch (e) {
    throw new UserError(`${file}: ${e instanceof SyntaxError ? "invalid JSON" : "not readable"}`);
  }
  if (state.version !== 1) throw new UserError(`${file}: unknown version ${state.version}`);
  const differ = Object.keys({ ...fingerprint, ...state.fingerprint }).filter((k) =>
    JSON.stringify(fingerprint[k]) !== JSON.stringify(state.fingerprint[k])
  );
  if (differ.length) {
    throw new UserError(
      `${dir}: cannot resume, this run differs in ${
        differ.map((k) =>
          `${k} (saved ${JSON.stringify(state.fingerprint[k])}, now ${
            JSON.stringify(fingerprint[k])
          })`
        ).join(", ")
      }`,
    );
  }
  const saved = await readSafetensors(`${dir}/trainable.safetensors`);
  const moments = await readSafetensors(`${dir}/optimizer.safetensors`);
  const rt = gpu();
  [...trainables].forEach(([name, t], i) => {
    const s = saved.get(name);
    if (!s || s.shape.join(",") !== t.shape.join(",")) {
      throw new UserError(`${dir}/trainable.safetensors: ${name} [${t.shape}] missing or reshaped`);
    }
    rt.write(t.buffer, s.data);
    const m = moments.get(`${name}.exp_avg`), v = moments.get(`${name}.exp_avg_sq`);
    if (opt instanceof AdamW && state.optimizer.stepCount > 0) {
      if (!m || !v) throw new UserError(`${dir}/optimizer.safetensors: no moments for ${name}`);
      opt.setMoments(i, m.data, v.data);
    }
  });
  opt.stepCount = state.optimizer.stepCount;
  opt.lr = state.optimizer.lr;
  return state;
}
