// The SMS Spam Collection: the UCI zip (SMSSpamCollection inside) or a plain `label<TAB>text`
// file; ham → 0, spam → 1. Malformed lines are reported with their number.
import { UserError } from "../errors.ts";
import { Rng } from "../nn/init.ts";
import { decodeText, readDataBytes } from "./read.ts";
import { type Example, LABELS } from "./example.ts";

export { type Example, LABELS };

export interface LoadOptions {
  skipBadLines?: boolean;
  /** Called with each skipped line's problem when skipBadLines is set. */
  warn?: (msg: string) => void;
  /** Text encoding for TextDecoder (default strict UTF-8). */
  encoding?: string;
  /** Filled with the number of blank lines skipped. */
  stats?: { blank: number };
}

export function parseSms(text: string, file: string, opts: LoadOptions = {}): Example[] {
  const examples: Example[] = [];
  const lines = text.replace(/^\ufeff/, "").split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  let blank = 0;
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, "");
    // Blank lines (a trailing CRLF, a gap between blocks) are not messages: skipped and counted.
    if (line.trim() === "") return void blank++;
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
  if (opts.stats) opts.stats.blank = blank;
  if (examples.length === 0) throw new UserError(`${file}: no messages (the file is empty)`);
  return examples;
}

export async function loadSms(file: string, opts: LoadOptions = {}): Promise<Example[]> {
  const data = await readDataBytes(file);
  return parseSms(decodeText(data, opts.encoding), data.where, opts);
}

/**
 * Stratified split with scikit-learn's sizes: ceil(ratio · n) validation messages, shared among the
 * classes in proportion (floors, then the largest remainders); members drawn by the seed.
 */
export function stratifiedSplit(
  examples: Example[],
  valRatio: number,
  seed: number,
  where = "the data",
): { train: Example[]; val: Example[] } {
  if (!(valRatio > 0 && valRatio < 1)) {
    throw new UserError(`--val-ratio must be between 0 and 1, got ${valRatio}`);
  }
  const rng = new Rng(seed);
  // Every label id up to the largest present, so that ham/spam draw as they always have.
  const numLabels = Math.max(1, ...examples.map((e) => e.label + 1));
  const classes = Array.from(
    { length: numLabels },
    (_, label) => rng.shuffle(examples.filter((e) => e.label === label)),
  );
  const nVal = Math.ceil(valRatio * examples.length);
  const exact = classes.map((c) => (c.length * nVal) / examples.length);
  const sizes = exact.map(Math.floor);
  const byRemainder = exact.map((x, i) => [x - Math.floor(x), i]).sort((a, b) =>
    b[0] - a[0] || a[1] - b[1]
  );
  // The shortfall counted once: a bound recomputed as sizes grow stopped early (3+ labels).
  const short = nVal - sizes.reduce((a, b) => a + b, 0);
  for (let k = 0; k < short; k++) sizes[byRemainder[k][1]]++;
  const train: Example[] = [], val: Example[] = [];
  classes.forEach((members, label) => {
    val.push(...members.slice(0, sizes[label]));
    train.push(...members.slice(sizes[label]));
  });
  // A split with nothing on one side would train 0 steps or report metrics of nothing.
  for (const [side, n] of [["training", train.length], ["validation", val.length]] as const) {
    if (n === 0) {
      throw new UserError(
        `${where}: the split leaves no ${side} messages (${examples.length} message${
          examples.length === 1 ? "" : "s"
        }, --val-ratio ${valRatio}); give more data, another --val-ratio, or --val-data FILE`,
      );
    }
  }
  // Keep file order within each side, so the split does not also decide the batch order.
  const byLine = (a: Example, b: Example) => a.line - b.line;
  return { train: train.sort(byLine), val: val.sort(byLine) };
}
