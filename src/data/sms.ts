// The SMS Spam Collection: the UCI zip (SMSSpamCollection inside) or a plain `label<TAB>text`
// file; ham → 0, spam → 1. Malformed lines are reported with their number.
import { unzipSync } from "fflate";
import { UserError } from "../errors.ts";
import { Rng } from "../nn/init.ts";
import { fetchSmsZip } from "../io/download.ts";

export const LABELS = ["ham", "spam"];

export interface Example {
  text: string;
  label: number;
  line: number;
}

export interface LoadOptions {
  skipBadLines?: boolean;
  /** Called with each skipped line's problem when skipBadLines is set. */
  warn?: (msg: string) => void;
}

function readTextFromZip(bytes: Uint8Array, file: string): string {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes);
  } catch (e) {
    throw new UserError(`${file}: not a readable zip archive (${(e as Error).message})`);
  }
  const name = Object.keys(entries).find((n) => n.split("/").pop() === "SMSSpamCollection");
  if (!name) {
    throw new UserError(
      `${file}: the archive has no SMSSpamCollection file (found: ${
        Object.keys(entries).join(", ") || "nothing"
      })`,
    );
  }
  return new TextDecoder("utf-8", { fatal: false }).decode(entries[name]);
}

export function parseSms(text: string, file: string, opts: LoadOptions = {}): Example[] {
  const examples: Example[] = [];
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, "");
    const tab = line.indexOf("\t");
    const problem = tab < 0
      ? "no tab between label and text"
      : LABELS.includes(line.slice(0, tab))
      ? null
      : `unknown label "${line.slice(0, tab)}" (expected ham or spam)`;
    if (problem) {
      if (!opts.skipBadLines) {
        throw new UserError(
          `${file}:${i + 1}: ${problem} (use --skip-bad-lines to skip such lines)`,
        );
      }
      opts.warn?.(`${file}:${i + 1}: skipped: ${problem}`);
      return;
    }
    examples.push({
      label: LABELS.indexOf(line.slice(0, tab)),
      text: line.slice(tab + 1),
      line: i + 1,
    });
  });
  if (examples.length === 0) throw new UserError(`${file}: no messages (the file is empty)`);
  return examples;
}

export async function loadSms(file: string, opts: LoadOptions = {}): Promise<Example[]> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch {
    throw new UserError(`${file}: file not found`);
  }
  const isZip = bytes[0] === 0x50 && bytes[1] === 0x4B;
  const text = isZip ? readTextFromZip(bytes, file) : new TextDecoder().decode(bytes);
  return parseSms(text, file, opts);
}

/**
 * Stratified split with scikit-learn's sizes: ceil(ratio · n) validation messages, shared among the
 * classes in proportion (floors, then the largest remainders); members drawn by the seed.
 */
export function stratifiedSplit(
  examples: Example[],
  valRatio: number,
  seed: number,
): { train: Example[]; val: Example[] } {
  if (!(valRatio > 0 && valRatio < 1)) {
    throw new UserError(`--val-ratio must be between 0 and 1, got ${valRatio}`);
  }
  const rng = new Rng(seed);
  const classes = LABELS.map((_, label) => rng.shuffle(examples.filter((e) => e.label === label)));
  const nVal = Math.ceil(valRatio * examples.length);
  const exact = classes.map((c) => (c.length * nVal) / examples.length);
  const sizes = exact.map(Math.floor);
  const byRemainder = exact.map((x, i) => [x - Math.floor(x), i]).sort((a, b) =>
    b[0] - a[0] || a[1] - b[1]
  );
  for (let k = 0; k < nVal - sizes.reduce((a, b) => a + b, 0); k++) sizes[byRemainder[k][1]]++;
  const train: Example[] = [], val: Example[] = [];
  classes.forEach((members, label) => {
    val.push(...members.slice(0, sizes[label]));
    train.push(...members.slice(sizes[label]));
  });
  // Keep file order within each side, so the split does not also decide the batch order.
  const byLine = (a: Example, b: Example) => a.line - b.line;
  return { train: train.sort(byLine), val: val.sort(byLine) };
}

export const DATA_CACHE = new URL("../../data/cache", import.meta.url).pathname;
const SHARED_ZIP = new URL("../../../shared/data/smsspamcollection.zip", import.meta.url).pathname;

/** The default --data: the UCI zip from the cache, a local copy, or the web; checked on arrival. */
export function defaultSmsZip(cacheDir = DATA_CACHE, url?: string): Promise<string> {
  return fetchSmsZip(cacheDir, {
    mirror: url ? undefined : SHARED_ZIP,
    url,
    verify: async (f) => (await loadSms(f)).length,
  });
}
