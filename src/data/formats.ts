// Tables from the files people bring: CSV/TSV with a header (RFC 4180, through csv-parse), JSON
// Lines, Parquet (hyparquet, pure JS) and the SMS format (`ham|spam<TAB>text`, no header). The
// format comes from --format, else the extension, else the first line.
import { parse as parseCsv } from "csv-parse/sync";
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { UserError } from "../errors.ts";
import { type DataBytes, decodeText } from "./read.ts";

export const FORMATS = ["csv", "tsv", "jsonl", "parquet", "sms"] as const;
export type Format = typeof FORMATS[number];

export interface Row {
  values: Record<string, unknown>;
  /** 1-based line where the record starts (row number for Parquet). */
  line: number;
  /** Why the record is malformed (e.g. a field count that differs from the header's): a bad line. */
  problem?: string;
}

export interface Table {
  format: Format;
  columns: string[];
  rows: Row[];
  /** Blank lines skipped. */
  blank: number;
  /** Names of integer class columns (a Hugging Face dataset's ClassLabel features), by column. */
  classNames?: Record<string, string[]>;
}

export function parseFormat(value: string | undefined): Format | undefined {
  if (value === undefined) return undefined;
  if (!(FORMATS as readonly string[]).includes(value)) {
    throw new UserError(`--format must be one of ${FORMATS.join(", ")}, got "${value}"`);
  }
  return value as Format;
}

/** The format of a file from its name, else from its first bytes. */
export function detectFormat(data: DataBytes): Format {
  const b = data.bytes;
  if (/\.parquet$/i.test(data.name) || String.fromCharCode(...b.subarray(0, 4)) === "PAR1") {
    return "parquet";
  }
  if (/\.(jsonl|ndjson|json)$/i.test(data.name)) return "jsonl";
  if (/\.csv$/i.test(data.name)) return "csv";
  const head = new TextDecoder().decode(b.subarray(0, 4096)).replace(/^\ufeff/, "");
  const first = head.split("\n").find((l) => l.trim() !== "") ?? "";
  if (/^\s*\{/.test(first)) return "jsonl";
  if (/^(ham|spam)\t/.test(first) || /\.txt$/i.test(data.name) && !first.includes("\t")) {
    return "sms";
  }
  if (first.includes("\t")) return "tsv";
  if (first.includes(",")) return "csv";
  return "sms";
}

/**
 * Line numbers of records from csv-parse's end offsets (`info.bytes`, in UTF-8 bytes): a record
 * starts where the previous one ended, after any blank lines. (csv-parse's own `info.lines`
 * counts a CRLF inside a quoted field twice.)
 */
function recordLines(bytes: Uint8Array, ends: number[]): number[] {
  let pos = 0, line = 1;
  const step = () => {
    if (bytes[pos] === 0x0D && bytes[pos + 1] === 0x0A) pos++;
    if (bytes[pos] === 0x0A || bytes[pos] === 0x0D) line++;
    pos++;
  };
  return ends.map((end) => {
    while (pos < end && (bytes[pos] === 0x0A || bytes[pos] === 0x0D)) step();
    const start = line;
    while (pos < end) step();
    return start;
  });
}

function delimited(text: string, where: string, delimiter: string): Table {
  type Rec = { record: string[]; info: { bytes: number; empty_lines: number } };
  text = text.replace(/^\ufeff/, "");
  let records: Rec[];
  try {
    records = parseCsv(text, {
      delimiter,
      skip_empty_lines: true,
      relax_column_count: true,
      // Quotes inside unquoted fields (`say "hi"`) are text, as pandas reads them.
      relax_quotes: true,
      record_delimiter: ["\r\n", "\n", "\r"],
      info: true,
    }) as unknown as Rec[];
  } catch (e) {
    const err = e as Error & { lines?: number };
    throw new UserError(`${where}: ${err.message}`);
  }
  if (records.length === 0) throw new UserError(`${where}: no header line (the file is empty)`);
  const lines = recordLines(new TextEncoder().encode(text), records.map((r) => r.info.bytes));
  const columns = records[0].record.map((c) => c.trim());
  const rows = records.slice(1).map((r, i) => {
    const line = lines[i + 1];
    // A bad line: loadRecords stops at it, or skips it with --skip-bad-lines.
    if (r.record.length !== columns.length) {
      return {
        line,
        values: {},
        problem: `${r.record.length} fields, the header has ${columns.length}`,
      };
    }
    return { line, values: Object.fromEntries(columns.map((c, i) => [c, r.record[i]])) };
  });
  return {
    format: delimiter === "\t" ? "tsv" : "csv",
    columns,
    rows,
    blank: records[records.length - 1].info.empty_lines,
  };
}

function jsonLines(text: string, where: string): Table {
  const rows: Row[] = [];
  let blank = 0;
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === "") lines.pop();
  lines.forEach((l, i) => {
    if (l.trim() === "") return void blank++;
    let v: unknown;
    try {
      v = JSON.parse(l);
    } catch (e) {
      throw new UserError(`${where}:${i + 1}: not JSON (${(e as Error).message})`);
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      throw new UserError(`${where}:${i + 1}: a JSON Lines record must be an object`);
    }
    rows.push({ values: v as Record<string, unknown>, line: i + 1 });
  });
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r.values)))];
  return { format: "jsonl", columns, rows, blank };
}

async function parquet(data: DataBytes): Promise<Table> {
  const buf = data.bytes.buffer.slice(
    data.bytes.byteOffset,
    data.bytes.byteOffset + data.bytes.byteLength,
  ) as ArrayBuffer;
  let objects: Record<string, unknown>[];
  try {
    objects = await parquetReadObjects({ file: buf, compressors });
  } catch (e) {
    throw new UserError(`${data.where}: not a readable Parquet file (${(e as Error).message})`);
  }
  const columns = objects.length ? Object.keys(objects[0]) : [];
  return {
    format: "parquet",
    columns,
    rows: objects.map((values, i) => ({ values, line: i + 1 })),
    blank: 0,
    classNames: huggingFaceClassNames(buf),
  };
}

/**
 * ClassLabel names from the `huggingface` key of a Parquet file's metadata, which the datasets
 * library writes as {"info": {"features": {"label": {"_type": "ClassLabel", "names": [...]}}}}.
 */
function huggingFaceClassNames(buf: ArrayBuffer): Record<string, string[]> | undefined {
  try {
    const kv = parquetMetadata(buf).key_value_metadata?.find((k) => k.key === "huggingface");
    if (!kv?.value) return undefined;
    const features = JSON.parse(kv.value)?.info?.features ?? {};
    const out: Record<string, string[]> = {};
    for (const [col, f] of Object.entries(features as Record<string, Record<string, unknown>>)) {
      if (f?._type === "ClassLabel" && Array.isArray(f.names)) out[col] = f.names.map(String);
    }
    return Object.keys(out).length ? out : undefined;
  } catch {
    return undefined; // metadata that is not the datasets library's: labels stay as written
  }
}

/** Reads a table in the given format (SMS files are read by sms.ts, not here). */
export async function readTable(
  data: DataBytes,
  format: Exclude<Format, "sms">,
  encoding?: string,
): Promise<Table> {
  if (format === "parquet") return await parquet(data);
  const text = decodeText(data, encoding);
  if (format === "jsonl") return jsonLines(text, data.where);
  return delimited(text, data.where, format === "tsv" ? "\t" : ",");
}
