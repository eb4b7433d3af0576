// A labelled (or unlabelled) text file of any supported format, as records: text, optional pair
// text, the label as written, and the line it came from.
import { UserError } from "../errors.ts";
import { detectFormat, type Format, readTable } from "./formats.ts";
import { type DataBytes, decodeText, readDataBytes } from "./read.ts";
import { LABELS, parseSms } from "./sms.ts";

export interface DataOptions {
  /** Default: from the extension and the first line. */
  format?: Format;
  /** Default `text`, else `sentence` when the file has that column. */
  textColumn?: string;
  textPairColumn?: string;
  /** Default `label`. */
  labelColumn?: string;
  encoding?: string;
  skipBadLines?: boolean;
  warn?: (msg: string) => void;
}

export interface RawRecord {
  text: string;
  textPair?: string;
  /** The label as written (numbers as their decimal text); null when the file has none. */
  label: string | null;
  line: number;
}

export interface Records {
  where: string;
  format: Format;
  records: RawRecord[];
  /** Blank lines skipped. */
  blank: number;
  /** The label order the file itself declares (Hugging Face ClassLabel names), if any. */
  labelOrder?: string[];
}

function column(columns: string[], name: string, flag: string, where: string): string {
  if (columns.includes(name)) return name;
  throw new UserError(
    `${where}: no column "${name}" (columns: ${columns.join(", ") || "none"}); ` +
      `name the right one with ${flag}`,
  );
}

function cell(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

/**
 * Reads FILE. `labelled`: the label column must exist (train, evaluate); otherwise it is read when
 * present (predict). Empty text or label cells are bad lines (fail, or skipped with skipBadLines).
 */
export async function loadRecords(
  file: string,
  opts: DataOptions = {},
  labelled = true,
): Promise<Records> {
  return await parseRecords(await readDataBytes(file), opts, labelled);
}

/** loadRecords on bytes already read (dataBytes in read.ts): no file system, runs in a browser. */
export async function parseRecords(
  data: DataBytes,
  opts: DataOptions = {},
  labelled = true,
): Promise<Records> {
  const format = opts.format ?? detectFormat(data);
  if (format === "sms") {
    const stats = { blank: 0 };
    const ex = parseSms(decodeText(data, opts.encoding), data.where, { ...opts, stats });
    return {
      where: data.where,
      format,
      blank: stats.blank,
      records: ex.map((e) => ({ text: e.text, label: LABELS[e.label], line: e.line })),
    };
  }
  const table = await readTable(data, format, opts.encoding);
  const where = data.where;
  const textCol = column(
    table.columns,
    opts.textColumn ??
      (!table.columns.includes("text") && table.columns.includes("sentence") ? "sentence" : "text"),
    "--text-column",
    where,
  );
  const pairCol = opts.textPairColumn
    ? column(table.columns, opts.textPairColumn, "--text-pair-column", where)
    : undefined;
  const labelName = opts.labelColumn ?? "label";
  const labelCol = labelled || opts.labelColumn || table.columns.includes(labelName)
    ? column(table.columns, labelName, "--label-column", where)
    : undefined;
  // A ClassLabel column holds ids into its names: read the names, as datasets' int2str does.
  const names = labelCol ? table.classNames?.[labelCol] : undefined;
  const records: RawRecord[] = [];
  for (const row of table.rows) {
    const text = cell(row.values[textCol]);
    const pair = pairCol ? cell(row.values[pairCol]) : undefined;
    let label = labelCol ? cell(row.values[labelCol])?.trim() ?? null : null;
    if (names && label !== null && names[Number(label)] !== undefined) {
      label = names[Number(label)];
    }
    const problem = row.problem
      ? row.problem
      : text === null || text.trim() === ""
      ? `no text in column "${textCol}"`
      : pair === null
      ? `no text in column "${pairCol}"`
      : labelCol && !label
      ? `no label in column "${labelCol}"`
      : null;
    if (problem) {
      if (!opts.skipBadLines) {
        throw new UserError(`${where}:${row.line}: ${problem} (use --skip-bad-lines to skip)`);
      }
      opts.warn?.(`${where}:${row.line}: skipped: ${problem}`);
      continue;
    }
    records.push({
      text: text!,
      ...(typeof pair === "string" ? { textPair: pair } : {}),
      label,
      line: row.line,
    });
  }
  if (records.length === 0) throw new UserError(`${where}: no messages (the file has no rows)`);
  return { where, format, records, blank: table.blank, ...(names ? { labelOrder: names } : {}) };
}

/** One line for the load summary: `FILE: 120 messages (csv), 2 blank lines skipped`. */
export function loadSummary(r: Records): string {
  const blank = r.blank ? `, ${r.blank} blank line${r.blank === 1 ? "" : "s"} skipped` : "";
  const n = r.records.length;
  return `${r.where}: ${n} message${n === 1 ? "" : "s"} (${r.format})${blank}`;
}
