// The data-file flags shared by train, evaluate, predict and tokenize (issue 11 formats, issue 9
// encodings): spread DATA_FLAGS into a command's flag table, then dataOptions(values).
import type { DataOptions } from "../data/dataset.ts";
import { FORMATS, parseFormat } from "../data/formats.ts";
import type { FlagTable } from "./flags.ts";

export const DATA_FLAGS = {
  format: {
    type: "string",
    choices: FORMATS,
    defaultText: "from the extension, else the first line",
    help: "the data files' format",
  },
  "text-column": {
    type: "string",
    arg: "NAME",
    defaultText: "text, or sentence",
    help: "the column (CSV, TSV, JSON Lines, Parquet) holding the text",
  },
  "text-pair-column": {
    type: "string",
    arg: "NAME",
    help: "a second text column: sentence pairs, [CLS] a [SEP] b [SEP]",
  },
  "label-column": {
    type: "string",
    arg: "NAME",
    defaultText: "label",
    help: "the column holding the label",
  },
  encoding: {
    type: "string",
    arg: "NAME",
    defaultText: "utf-8 (strict)",
    help: "text encoding of the data files, e.g. latin1, windows-1252 (any TextDecoder label)",
  },
  "skip-bad-lines": {
    type: "boolean",
    help: "skip malformed data lines (reported with line numbers) instead of failing",
  },
} as const satisfies FlagTable;

export function dataOptions(v: {
  format?: string;
  "text-column"?: string;
  "text-pair-column"?: string;
  "label-column"?: string;
  encoding?: string;
  "skip-bad-lines"?: boolean;
}): DataOptions {
  return {
    format: parseFormat(v.format),
    textColumn: v["text-column"],
    textPairColumn: v["text-pair-column"],
    labelColumn: v["label-column"],
    encoding: v.encoding,
    skipBadLines: v["skip-bad-lines"],
    warn: console.error,
  };
}
