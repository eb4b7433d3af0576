// One declarative flag table per command, from which parsing, validation and --help are made.
// Adding a flag is one entry: name, type, default, help text, and its checks.
import { parseArgs } from "node:util";
import { UserError } from "../errors.ts";
import { checkInputPath, checkOutputDir, checkOutputFile } from "./paths.ts";

interface FlagBase {
  /** One line: what the flag does (the default is printed beside it). */
  help: string;
  /** The value's placeholder in --help, e.g. DIR, FILE, N. */
  arg?: string;
  /** The default as --help shows it when it is computed later (e.g. "0.01 (0 for sgd)"). */
  defaultText?: string;
}

/** A path: "in" must exist; "out-dir" is a fresh or empty folder (or --overwrite); "out-file". */
export type PathKind = "in" | "out-dir" | "out-file";

export type Flag =
  | FlagBase & { type: "boolean" }
  | FlagBase & {
    type: "string";
    default?: string;
    choices?: readonly string[];
    path?: PathKind;
  }
  | FlagBase & {
    type: "int" | "number";
    default?: number;
    /** Inclusive bounds, or exclusive with the `Exclusive` twin set. */
    min?: number;
    max?: number;
    minExclusive?: boolean;
    maxExclusive?: boolean;
  };

export type FlagTable = Record<string, Flag>;

export interface CommandSpec<F extends FlagTable> {
  /** As typed after `deno task`, e.g. "train". */
  name: string;
  /** One sentence: what the command does. */
  summary: string;
  /** Positional arguments, e.g. "TEXT..."; absent when the command takes none. */
  positionals?: { name: string; help: string };
  flags: F;
  examples: string[];
}

type ValueOf<F> = F extends { type: "boolean" } ? boolean
  : F extends { type: "int" | "number"; default: number } ? number
  : F extends { type: "int" | "number" } ? number | undefined
  : F extends { type: "string"; default: string } ? string
  : string | undefined;

export type Values<F extends FlagTable> = { -readonly [K in keyof F]: ValueOf<F[K]> };

/** Flags every command has; handled by the top-level runner. */
const COMMON: FlagTable = {
  help: { type: "boolean", help: "print this help and exit" },
  debug: { type: "boolean", help: "print stack traces of errors" },
};

function placeholder(name: string, f: Flag): string {
  if (f.type === "boolean") return `--${name}`;
  if (f.type === "string" && f.choices) return `--${name} ${f.choices.join("|")}`;
  return `--${name} ${f.arg ?? (f.type === "string" ? "VALUE" : "N")}`;
}

function defaultOf(f: Flag): string {
  if (f.defaultText !== undefined) return f.defaultText;
  if (f.type !== "boolean" && f.default !== undefined) return String(f.default);
  return "";
}

function rangeText(f: Flag): string {
  if (f.type !== "int" && f.type !== "number") return "";
  if (f.min !== undefined && f.max !== undefined) {
    return `in ${f.minExclusive ? "(" : "["}${f.min}, ${f.max}${f.maxExclusive ? ")" : "]"}`;
  }
  if (f.min !== undefined) return `${f.minExclusive ? ">" : "≥"} ${f.min}`;
  if (f.max !== undefined) return `${f.maxExclusive ? "<" : "≤"} ${f.max}`;
  return "";
}

/** The text `--help` prints: usage, every flag with its default and meaning, examples. */
export function helpText<F extends FlagTable>(spec: CommandSpec<F>): string {
  const all = { ...spec.flags, ...COMMON };
  const rows = Object.entries(all).map(([name, f]) => {
    const range = rangeText(f);
    const def = defaultOf(f);
    const extra = [def && `default ${def}`, range].filter(Boolean).join("; ");
    return [placeholder(name, f), f.help + (extra ? ` (${extra})` : "")];
  });
  const w = Math.min(34, Math.max(...rows.map((r) => r[0].length)));
  const lines = rows.map(([a, b]) =>
    a.length > w ? `  ${a}\n  ${" ".repeat(w)}  ${b}` : `  ${a.padEnd(w)}  ${b}`
  );
  const pos = spec.positionals ? ` ${spec.positionals.name}` : "";
  return [
    `usage: deno task ${spec.name} [options]${pos}`,
    "",
    spec.summary,
    ...(spec.positionals
      ? ["", `  ${spec.positionals.name.padEnd(w)}  ${spec.positionals.help}`]
      : []),
    "",
    "options:",
    ...lines,
    "",
    "examples:",
    ...spec.examples.map((e) => `  deno task ${spec.name} ${e}`),
  ].join("\n");
}

function convert(name: string, f: Flag, raw: string): string | number {
  if (f.type === "string") {
    if (f.choices && !f.choices.includes(raw)) {
      const list = f.choices.length === 1
        ? f.choices[0]
        : f.choices.slice(0, -1).join(", ") + " or " + f.choices.at(-1);
      throw new UserError(`--${name} must be ${list}, got "${raw}"`);
    }
    return raw;
  }
  if (f.type === "boolean") throw new Error("unreachable");
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n)) {
    throw new UserError(`--${name} must be a number, got "${raw}"`);
  }
  if (f.type === "int" && !Number.isInteger(n)) {
    throw new UserError(`--${name} must be an integer, got "${raw}"`);
  }
  const low = f.min !== undefined && (f.minExclusive ? !(n > f.min) : !(n >= f.min));
  const high = f.max !== undefined && (f.maxExclusive ? !(n < f.max) : !(n <= f.max));
  if (low || high) throw new UserError(`--${name} must be ${rangeText(f)}, got ${raw}`);
  return n;
}

/** A stray word that looks like a flag's value: suggest the flag it was meant for. */
function strayHint(word: string, flags: FlagTable): string {
  if ("model" in flags && !word.startsWith("-")) return `; did you mean --model ${word}?`;
  return "";
}

export interface Parsed<F extends FlagTable> {
  values: Values<F>;
  positionals: string[];
  help: boolean;
  debug: boolean;
}

/**
 * Parses `args` against the command's table: unknown flags, stray positionals, bad numbers, values
 * outside their range and choices end in a UserError naming the flag. Paths are checked after
 * every value is known (an output folder may be reused only with --overwrite).
 */
export async function parseCommand<F extends FlagTable>(
  spec: CommandSpec<F>,
  args: string[] = Deno.args,
): Promise<Parsed<F>> {
  const all: FlagTable = { ...spec.flags, ...COMMON };
  const options = Object.fromEntries(
    Object.entries(all).map((
      [name, f],
    ) => [name, { type: f.type === "boolean" ? "boolean" as const : "string" as const }]),
  );
  // "--warmup-ratio -1" is a value, not a flag: joined as "--warmup-ratio=-1" for parseArgs.
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const f = all[args[i].replace(/^--/, "")];
    if (args[i].startsWith("--") && f && f.type !== "boolean" && /^-\d|^-\./.test(args[i + 1])) {
      joined.push(`${args[i]}=${args[++i]}`);
    } else joined.push(args[i]);
  }
  let parsed;
  try {
    parsed = parseArgs({ args: joined, options, allowPositionals: true, strict: true });
  } catch (e) {
    const msg = (e as Error).message.replace(/\. To specify a positional argument.*$/s, "");
    throw new UserError(`${spec.name}: ${msg} (see deno task ${spec.name} --help)`);
  }
  const raw = parsed.values as Record<string, string | boolean | undefined>;
  const help = raw.help === true, debug = raw.debug === true;
  if (!spec.positionals && parsed.positionals.length > 0 && !help) {
    const word = parsed.positionals[0];
    throw new UserError(
      `${spec.name}: unexpected argument "${word}"${strayHint(word, spec.flags)} ` +
        `(see deno task ${spec.name} --help)`,
    );
  }
  const values: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(spec.flags)) {
    const v = raw[name];
    if (f.type === "boolean") values[name] = v === true;
    else if (v === undefined) values[name] = f.default;
    else values[name] = convert(name, f, v as string);
  }
  if (!help) {
    for (const [name, f] of Object.entries(spec.flags)) {
      const v = values[name];
      if (f.type !== "string" || !f.path || typeof v !== "string") continue;
      if (f.path === "in") await checkInputPath(`--${name}`, v);
      else if (f.path === "out-file") await checkOutputFile(`--${name}`, v);
      // A run resumed in its own --out folder continues what is there rather than replacing it.
      else await checkOutputDir(`--${name}`, v, values.overwrite === true || values.resume === v);
    }
  }
  return { values: values as Values<F>, positionals: parsed.positionals, help, debug };
}
