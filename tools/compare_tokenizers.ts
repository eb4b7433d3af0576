// Evidence for the tokenizer choice (see src/bert/tokenizer.ts): how often npm
// `@huggingface/tokenizers` (pure TS) and our tokenizer differ from Hugging Face's Rust tokenizer
// (npm `tokenizers`), on bert-base-uncased's tokenizer.json and three normaliser variants, for
// the SMS messages, every code point c assigned in the JS engine's Unicode as the word "a" c "b",
// and a few added-token texts. Ids without special tokens are compared. Run:
//   deno run -A tools/compare_tokenizers.ts [../shared/models/bert-base-uncased] [sms.zip]
// npm specifier inline (as tests/tokenizer_test.ts): not in deno.json, so `deno task` never installs it
// deno-lint-ignore no-import-prefix
import { Tokenizer as RustTokenizer } from "npm:tokenizers@0.23.2";
import { BertTokenizer } from "../src/bert/tokenizer.ts";
import { specFromTokenizerJson } from "../src/bert/tokenizer_spec.ts";
import { loadSms } from "../src/data/sms.ts";

// Imported here only (not in deno.json): nothing in the engine uses it.
// deno-lint-ignore no-import-prefix
const { Tokenizer: JsTokenizer } = await import("npm:@huggingface/tokenizers@0.2.0");

const model = Deno.args[0] ?? "../shared/models/bert-base-uncased";
const data = Deno.args[1] ?? "../shared/data/smsspamcollection.zip";
const base = JSON.parse(await Deno.readTextFile(`${model}/tokenizer.json`));
const sms = (await loadSms(data)).map((e) => e.text);
const cps: number[] = [];
for (let c = 1; c <= 0x10FFFF; c++) {
  if ((c < 0xD800 || c > 0xDFFF) && !/\p{Cn}/u.test(String.fromCodePoint(c))) cps.push(c);
}
const words = cps.map((c) => `a${String.fromCodePoint(c)}b`);

const variants: [string, Record<string, unknown>][] = [
  ["uncased", { handle_chinese_chars: true, strip_accents: null, lowercase: true }],
  ["cased", { handle_chinese_chars: true, strip_accents: null, lowercase: false }],
  ["strip_accents only", { handle_chinese_chars: true, strip_accents: true, lowercase: false }],
  ["no Chinese split", { handle_chinese_chars: false, strip_accents: null, lowercase: true }],
];
const added = [
  { id: 30522, content: "<ent>", special: false, normalized: false, single_word: true },
  { id: 30523, content: "<L>", special: false, normalized: false, lstrip: true },
];
const addedTexts = ["a<ent>b", "x <ent>, y", "_<ent>", "one   <L> two", "ΟΔΟΣ", "\u{20000}x"];

const kinds: string[] = [];
console.log("| tokenizer.json | texts | @huggingface/tokenizers ≠ Rust | ours ≠ Rust |");
console.log("| --- | --- | ---: | ---: |");
for (const [name, normalizer] of variants) {
  const tj = structuredClone(base);
  tj.normalizer = { type: "BertNormalizer", clean_text: true, ...normalizer };
  tj.added_tokens.push(
    ...added.map((t) => ({ lstrip: false, rstrip: false, single_word: false, ...t })),
  );
  const json = JSON.stringify(tj);
  const rust = RustTokenizer.fromString(json);
  const js = new JsTokenizer(tj, {});
  const ours = new BertTokenizer(specFromTokenizerJson(json, null, name));
  const why: Record<string, number> = {};
  const count = async (texts: string[]) => {
    let jsDiff = 0, ourDiff = 0;
    for (const t of texts) {
      const want = (await rust.encode(t, null, { addSpecialTokens: false })).getIds().join();
      if (js.encode(t, { add_special_tokens: false }).ids.join() !== want) {
        jsDiff++;
        if (texts === words) why[kind(t)] = (why[kind(t)] ?? 0) + 1;
      }
      if (ours.tokenize(t).join() !== want) ourDiff++;
    }
    return `${jsDiff} | ${ourDiff}`;
  };
  console.log(`| ${name} | ${sms.length} SMS messages | ${await count(sms)} |`);
  console.log(`| ${name} | ${words.length} code points in a word | ${await count(words)} |`);
  console.log(
    `| ${name} | ${addedTexts.length} added-token and casing texts | ${await count(addedTexts)} |`,
  );
  kinds.push(`${name}: ${JSON.stringify(why)}`);
}
console.log(`\nCode points where @huggingface/tokenizers differs, by kind:\n${kinds.join("\n")}`);

/** The kind of the middle character of "a" c "b", to sort the differences. */
function kind(word: string): string {
  const c = [...word][1], cp = c.codePointAt(0)!;
  if (cp > 0xFFFF && cp >= 0x20000 && cp <= 0x2FA1F) return "CJK ideograph beyond the BMP";
  for (const g of ["Cc", "Cf", "Co", "Mn", "Mc", "Me", "P", "Z", "L", "N", "S"]) {
    if (new RegExp(`\\p{${g}}`, "u").test(c)) return g;
  }
  return "other";
}
