// Shared by the commands: strict flag parsing and one-line errors with a non-zero exit.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { GpuError, UserError } from "../errors.ts";
import { NoAdapterError } from "../gpu/device.ts";
import { faultAfter } from "../gpu/faults.ts";
import type { BertConfig } from "../bert/config.ts";

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
export function maxLength(value: string | undefined, config: BertConfig): number {
  const limit = config.maxPositionEmbeddings;
  const n = intFlag("max-length", value, Math.min(32, limit));
  if (n > limit) {
    throw new UserError(`--max-length ${n} exceeds the model's max_position_embeddings ${limit}`);
  }
  if (n < 2) throw new UserError(`--max-length must be at least 2 ([CLS] and [SEP]), got ${n}`);
  return n;
}

/**
 * Runs a command; bad input, missing files and WebGPU faults end with one line on stderr and exit
 * code 1.
 */
export async function run(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof UserError || e instanceof NoAdapterError || e instanceof GpuError) {
      console.error(`error: ${e.message}`);
      Deno.exit(1);
    }
    // A WebGPU call that throws after a fault (a lost device) reports the fault, not a trace.
    const fault = await faultAfter();
    if (fault) {
      console.error(`error: ${fault.message}`);
      Deno.exit(1);
    }
    throw e;
  }
}
