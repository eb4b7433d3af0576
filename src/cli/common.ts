// Shared by the commands: strict flag parsing and one-line errors with a non-zero exit.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { GpuError, UserError } from "../errors.ts";
import { NoAdapterError } from "../gpu/device.ts";
import { faultAfter } from "../gpu/faults.ts";
import type { BertConfig } from "../bert/config.ts";
import { removeTempsInFlight } from "../io/atomic.ts";
import { type CommandSpec, type FlagTable, helpText, parseCommand, type Parsed } from "./flags.ts";

if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");

type Options = NonNullable<ParseArgsConfig["options"]>;

export function parseFlags<O extends Options>(command: string, options: O, args = Deno.args) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    const msg = (e as Error).message.replace(/\. To specify a positional argument.*$/s, "");
    throw new UserError(`${command}: ${msg} (see README for the command's flags)`);
  }
}

export function intFlag(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new UserError(`--${name} must be an integer, got "${value}"`);
  return n;
}

export function numFlag(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UserError(`--${name} must be a number, got "${value}"`);
  return n;
}

/** 32 by default, or the model's max_position_embeddings when that is smaller. */
export function maxLength(value: string | number | undefined, config: BertConfig): number {
  const limit = config.maxPositionEmbeddings;
  const n = typeof value === "number" ? value : intFlag("max-length", value, Math.min(32, limit));
  if (n > limit) {
    throw new UserError(`--max-length ${n} exceeds the model's max_position_embeddings ${limit}`);
  }
  if (n < 2) throw new UserError(`--max-length must be at least 2 ([CLS] and [SEP]), got ${n}`);
  return n;
}

/** An error the user can act on: one line, no stack trace (see `userMessage`). */
function userMessage(e: unknown): string | null {
  if (e instanceof UserError || e instanceof NoAdapterError || e instanceof GpuError) {
    return e.message;
  }
  if (e && typeof e === "object") {
    const m = (e as { userMessage?: unknown }).userMessage;
    if (typeof m === "string") return m;
  }
  // I/O failures (a full disk, a read-only folder, a vanished file): the OS says what happened.
  const io = [
    Deno.errors.NotFound,
    Deno.errors.PermissionDenied,
    Deno.errors.NotCapable,
    Deno.errors.AlreadyExists,
    Deno.errors.IsADirectory,
    Deno.errors.NotADirectory,
    Deno.errors.FilesystemLoop,
    Deno.errors.WriteZero,
    Deno.errors.UnexpectedEof,
    Deno.errors.InvalidData,
    Deno.errors.BrokenPipe,
  ];
  if (io.some((c) => e instanceof c)) return (e as Error).message.split("\n")[0];
  if (e instanceof Error && /\(os error \d+\)/.test(e.message)) return e.message.split("\n")[0];
  return null;
}

/** Prints an error: one line for an expected failure, the stack with --debug or for a bug. */
export function reportError(e: unknown, debug: boolean): void {
  const msg = userMessage(e);
  if (msg !== null && !debug) {
    console.error(`error: ${msg}`);
    return;
  }
  if (msg !== null) console.error(`error: ${msg}`);
  console.error(e instanceof Error ? e.stack : String(e));
}

let cleanupInstalled = false;

function startedByDenoTask(pid: number): boolean {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").includes("task");
  } catch {
    return false;
  }
}

/**
 * On SIGINT/SIGTERM, or when the parent (`deno task`) is gone, removes temporaries of writes in
 * progress and exits: a killed `deno task` never leaves a training process behind.
 */
function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  const stop = (code: number, why: string) => {
    removeTempsInFlight();
    console.error(`\n${why}; stopped (files already saved are kept)`);
    Deno.exit(code);
  };
  for (const [sig, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    try {
      Deno.addSignalListener(sig, () => stop(code, sig));
    } catch { /* not supported on this platform */ }
  }
  // Only under `deno task` (Linux /proc tells): a command started from a shell with nohup must
  // outlive that shell.
  const parent = Deno.ppid;
  if (parent > 1 && startedByDenoTask(parent)) {
    const timer = setInterval(() => {
      if (Deno.ppid !== parent) stop(129, "the parent process ended");
    }, 1000);
    Deno.unrefTimer(timer);
  }
}

/** Runs a command; bad input and I/O failures end with one line on stderr and exit code 1. */
export async function run(fn: () => Promise<void>): Promise<void> {
  const debug = Deno.args.includes("--debug");
  try {
    installCleanup();
    await fn();
  } catch (e) {
    // A WebGPU call that throws after a fault (a lost device) reports the fault, not a trace.
    const fault = userMessage(e) === null ? await faultAfter() : null;
    reportError(fault ?? e, debug);
    Deno.exit(1);
  }
}

/**
 * Runs a command described by its flag table: `--help` prints the help; every flag and path is
 * checked before `fn` starts any work.
 */
export function runCommand<F extends FlagTable>(
  spec: CommandSpec<F>,
  fn: (p: Parsed<F>) => Promise<void>,
): Promise<void> {
  return run(async () => {
    const p = await parseCommand(spec);
    if (p.help) {
      console.log(helpText(spec));
      return;
    }
    await fn(p);
  });
}
