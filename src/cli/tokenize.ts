// deno task tokenize --model DIR [--max-length N] [--json] [TEXT... | --data FILE]
import { maxLength, runCommand } from "./common.ts";
import type { CommandSpec, FlagTable } from "./flags.ts";
import { DATA_FLAGS, dataOptions } from "./data_flags.ts";
import { loadRecords, loadSummary } from "../data/dataset.ts";
import { encodeExample } from "../data/pairs.ts";
import { UserError } from "../errors.ts";
import { DEFAULT_TOKENIZER, readConfig, readTokenizer } from "../bert/checkpoint.ts";
import type { BertTokenizer } from "../bert/tokenizer.ts";

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

const TOKENIZE = {
  name: "tokenize",
  summary:
    "Prints BERT WordPiece tokens, ids and attention masks (as Hugging Face's BertTokenizer with padding and truncation to --max-length).",
  positionals: { name: "[TEXT...]", help: "texts to tokenize (or --data FILE)" },
  flags: {
    model: {
      type: "string",
      default: DEFAULT_TOKENIZER,
      arg: "DIR",
      path: "in",
      help: "folder with vocab.txt or tokenizer.json (and config.json for the length limit)",
    },
    "max-length": {
      type: "int",
      min: 2,
      defaultText: "32, or the model's max_position_embeddings when smaller",
      help: "tokens per text, padded or truncated",
    },
    json: {
      type: "boolean",
      help: 'one JSON line per text: {"input_ids": [...], "attention_mask": [...]}',
    },
    data: {
      type: "string",
      arg: "FILE",
      path: "in",
      help: "tokenize every text of a data file (any format train reads)",
    },
    // Data files (issue 11): formats, columns, encodings.
    ...DATA_FLAGS,
  },
  examples: [
    '--model ../shared/models/bert-base-uncased "Ok lar... Joking wif u oni..."',
    "--json --data ../shared/data/smsspamcollection.zip > ids.jsonl",
  ],
} as const satisfies CommandSpec<FlagTable>;

await runCommand(TOKENIZE, async ({ values, positionals }) => {
  const tok = await readTokenizer(values.model);
  const config = await readConfig(values.model).catch(() => null);
  // Without config.json (a tokenizer-only folder) the limit is tokenizer_config's model_max_length.
  const len = config
    ? maxLength(values["max-length"], config)
    : values["max-length"] ?? Math.min(32, tok.modelMaxLength ?? 32);
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
        ...(textPair !== undefined ? { token_type_ids: e.tokenTypeIds } : {}),
        attention_mask: e.attentionMask,
      }));
    } else console.log(`${text}\n${table(tok, e.inputIds, e.attentionMask)}`);
  }
});
