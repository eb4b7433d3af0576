// deno task tokenize --model DIR [--max-length N] [--json] [TEXT... | --data FILE]
import { maxLength, parseFlags, run } from "./common.ts";
import { BertTokenizer } from "../bert/tokenizer.ts";
import { readConfig } from "../bert/config.ts";
import { DATA_FLAGS, dataOptions } from "./data_flags.ts";
import { loadRecords, loadSummary } from "../data/dataset.ts";
import { encodeExample } from "../data/pairs.ts";
import { UserError } from "../errors.ts";
import { DEFAULT_TOKENIZER } from "../bert/checkpoint.ts";

function table(tok: BertTokenizer, ids: number[], mask: number[]): string {
  const rows = ids.map((id, i) => [tok.tokens[id] ?? "?", String(id), String(mask[i])]);
  const head = ["Token", "Token ID", "Attention mask"];
  const w = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (l: string, m: string, r: string) => l + w.map((n) => "═".repeat(n + 2)).join(m) + r;
  const row = (cells: string[]) =>
    "│" + cells.map((s, c) => ` ${c === 0 ? s.padEnd(w[c]) : s.padStart(w[c])} `).join("│") + "│";
  return [
    line("╒", "╤", "╕"),
    row(head),
    line("╞", "╪", "╡"),
    ...rows.map(row),
    line("╘", "╧", "╛"),
  ].join("\n");
}

await run(async () => {
  const { values, positionals } = parseFlags("tokenize", {
    model: { type: "string", default: DEFAULT_TOKENIZER },
    "max-length": { type: "string" },
    json: { type: "boolean", default: false },
    data: { type: "string" },
    // Data files (issue 11): formats, columns, encodings.
    ...DATA_FLAGS,
  });
  const tok = await BertTokenizer.fromDir(values.model);
  const config = await readConfig(values.model).catch(() => null);
  const len = config ? maxLength(values["max-length"], config) : Number(values["max-length"] ?? 32);
  let texts: { text: string; textPair?: string }[] = positionals.map((text) => ({ text }));
  if (values.data) {
    const recs = await loadRecords(values.data, dataOptions(values), false);
    console.error(loadSummary(recs));
    texts = recs.records;
  }
  if (texts.length === 0) throw new UserError("tokenize: give TEXT arguments or --data FILE");
  for (const { text, textPair } of texts) {
    const e = encodeExample(tok, { text, textPair }, len);
    if (values.json) {
      console.log(JSON.stringify({
        input_ids: e.inputIds,
        ...(e.tokenTypeIds ? { token_type_ids: e.tokenTypeIds } : {}),
        attention_mask: e.attentionMask,
      }));
    } else console.log(`${text}\n${table(tok, e.inputIds, e.attentionMask)}`);
  }
});
