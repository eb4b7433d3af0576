// Resume state as files in memory, as transformers' Trainer keeps checkpoint-<step>/:
// trainable.safetensors (every trainable tensor, by name), optimizer.safetensors (AdamW's
// `<name>.exp_avg` and `<name>.exp_avg_sq`) and trainer_state.json (step, the epoch's shuffle order
// and position in it, optimizer step count, schedule, seeds, early-stopping counter, results so far).
// Where they are kept is a ResumeStore's business: src/train/checkpointing.ts keeps them in
// checkpoint-<step>/ folders (Deno); a browser may keep them anywhere.
import { readTensors, type Tensor } from "../tensor.ts";
import { gpu } from "../gpu/kernel.ts";
import { UserError } from "../errors.ts";
import {
  type NamedTensor,
  parseSafetensors,
  serializeSafetensors,
} from "../io/safetensors_bytes.ts";
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

/**
 * Where the trainer keeps its resume state: one set of files (name → bytes) per evaluation.
 * `save` replaces the previous set only once the new one is whole.
 */
export interface ResumeStore {
  /** The newest saved set and how to name it in messages (a folder path); throws UserError when none. */
  load(): Promise<{ where: string; files: Map<string, Uint8Array> }>;
  /** Keeps the files saved after `step` optimizer steps as the newest set. */
  save(step: number, files: Map<string, Uint8Array>): Promise<void>;
}

async function tensorsOf(named: Map<string, Tensor>): Promise<Map<string, NamedTensor>> {
  const data = await readTensors([...named.values()]);
  return new Map([...named].map(([k, t], i) => [k, { shape: [...t.shape], data: data[i] }]));
}

/** The three files of a resume state (read back from the GPU). */
export async function resumeStateFiles(
  trainables: Map<string, Tensor>,
  opt: Optimizer,
  state: TrainerState,
): Promise<Map<string, Uint8Array>> {
  const names = [...trainables.keys()];
  const moments = new Map<string, Tensor>();
  if (opt instanceof AdamW) {
    names.forEach((name, i) => {
      const s = opt.moments(i);
      if (s) moments.set(`${name}.exp_avg`, s.m).set(`${name}.exp_avg_sq`, s.v);
    });
  }
  return new Map([
    ["trainable.safetensors", serializeSafetensors(await tensorsOf(trainables))],
    ["optimizer.safetensors", serializeSafetensors(await tensorsOf(moments))],
    ["trainer_state.json", new TextEncoder().encode(JSON.stringify(state, null, 2) + "\n")],
  ]);
}

/** The floating-point tensors of a safetensors file in `files`; `where/name` names it in errors. */
function floats(files: Map<string, Uint8Array>, where: string, name: string) {
  const file = `${where}/${name}`;
  const bytes = files.get(name);
  if (!bytes) throw new UserError(`${file}: file not found`);
  const out = new Map<string, NamedTensor>();
  for (const [k, t] of parseSafetensors(bytes, file)) {
    if (t.data) out.set(k, { shape: t.shape, data: t.data });
  }
  return out;
}

/**
 * Reads a saved resume state into the freshly built trainables and optimizer and returns it.
 * Errors (UserError) name the option or tensor that differs from the run being resumed.
 * @param where names the files in errors (`<where>/trainer_state.json: …`).
 */
export function applyResumeState(
  where: string,
  files: Map<string, Uint8Array>,
  trainables: Map<string, Tensor>,
  opt: Optimizer,
  fingerprint: Record<string, unknown>,
): TrainerState {
  const file = `${where}/trainer_state.json`;
  let state: TrainerState;
  try {
    const bytes = files.get("trainer_state.json");
    if (!bytes) throw new Error("missing");
    state = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new UserError(`${file}: ${e instanceof SyntaxError ? "invalid JSON" : "not readable"}`);
  }
  if (state.version !== 1) throw new UserError(`${file}: unknown version ${state.version}`);
  const differ = Object.keys({ ...fingerprint, ...state.fingerprint }).filter((k) =>
    JSON.stringify(fingerprint[k]) !== JSON.stringify(state.fingerprint[k])
  );
  if (differ.length) {
    throw new UserError(
      `${where}: cannot resume, this run differs in ${
        differ.map((k) =>
          `${k} (saved ${JSON.stringify(state.fingerprint[k])}, now ${
            JSON.stringify(fingerprint[k])
          })`
        ).join(", ")
      }`,
    );
  }
  const saved = floats(files, where, "trainable.safetensors");
  const moments = floats(files, where, "optimizer.safetensors");
  const rt = gpu();
  [...trainables].forEach(([name, t], i) => {
    const s = saved.get(name);
    if (!s || s.shape.join(",") !== t.shape.join(",")) {
      throw new UserError(
        `${where}/trainable.safetensors: ${name} [${t.shape}] missing or reshaped`,
      );
    }
    rt.write(t.buffer, s.data);
    const m = moments.get(`${name}.exp_avg`), v = moments.get(`${name}.exp_avg_sq`);
    if (opt instanceof AdamW && state.optimizer.stepCount > 0) {
      if (!m || !v) throw new UserError(`${where}/optimizer.safetensors: no moments for ${name}`);
      opt.setMoments(i, m.data, v.data);
    }
  });
  opt.stepCount = state.optimizer.stepCount;
  opt.lr = state.optimizer.lr;
  return state;
}
