// The data-file flags shared by train, evaluate, predict and tokenize (issue 11 formats, issue 9
// encodings): spread DATA_FLAGS into a command's flag table, then dataOptions(values).
import type { DataOptions } from "../data/dataset.ts";
import { parseFormat } from "../data/formats.ts";

export const DATA_FLAGS = {
  format: { type: "string" },
  "text-column": { type: "string" },
  "text-pair-column": { type: "string" },
  "label-column": { type: "string" },
  encoding: { type: "string" },
  "skip-bad-lines": { type: "boolean", default: false },
} as const;

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
