// Our tokenizer against Hugging Face's Rust tokenizer (npm `tokenizers`, native code, test-time
// only) for four normaliser settings built from bert-base-uncased's tokenizer.json: uncased (as
// shipped), cased, strip_accents only, and no Chinese split. Compared: ids of the 5,574 SMS
// messages; ids of every assigned code point inside a word; and, stricter, the normalised
// string and pre-tokenization of every code point (ids hide a difference that maps to [UNK]).
// Ids must be equal everywhere; a normalised string may differ only for a listed cause (a
// Unicode-version difference in canonical decomposition or case mapping), so no difference
// touches whitespace, punctuation, control characters, Chinese characters or casing rules.
import assert from "node:assert/strict";
// npm specifier inline (as tests/tokenizer_test.ts): not in deno.json, so `deno task` never installs it
// deno-lint-ignore no-import-prefix
import * as rust from "npm:tokenizers@0.23.2";
import { BertTokenizer } from "../src/bert/tokenizer.ts";
import { specFromTokenizerJson } from "../src/bert/tokenizer_spec.ts";

const { bertNormalizer, bertPreTokenizer, lowercase, nfdNormalizer, Tokenizer } = rust;
import { BertNormalizer, bertPreTokenize } from "../src/bert/normalizer.ts";
import { loadSms } from "../src/data/sms.ts";
import { isFile } from "./helpers.ts";

const SHARED = new URL("../../shared/", import.meta.url).pathname;
const TOKENIZER_JSON = `${SHARED}models/bert-base-uncased/tokenizer.json`;
const DATA = `${SHARED}data/smsspamcollection.zip`;
const have = isFile(TOKENIZER_JSON) && isFile(DATA);
if (!have) {
  console.warn(`tokenizer_rust_test: skipped: ${TOKENIZER_JSON} or ${DATA} not found`);
}

interface Variant {
  name: string;
  normalizer: {
    clean_text: boolean;
    handle_chinese_chars: boolean;
    strip_accents: boolean | null;
    lowercase: boolean;
  };
}
const VARIANTS: Variant[] = [
  { name: "uncased", normalizer: n(true, null, true) },
  { name: "cased", normalizer: n(true, null, false) },
  { name: "strip_accents only", normalizer: n(true, true, false) },
  { name: "no Chinese split", normalizer: n(false, null, true) },
];
function n(chinese: boolean, strip: boolean | null, lower: boolean): Variant["normalizer"] {
  return {
    clean_text: true,
    handle_chinese_chars: chinese,
    strip_accents: strip,
    lowercase: lower,
  };
}

function variantJson(v: Variant): string {
  const tj = JSON.parse(Deno.readTextFileSync(TOKENIZER_JSON));
  tj.normalizer = { type: "BertNormalizer", ...v.normalizer };
  tj.truncation = null;
  tj.padding = null;
  return JSON.stringify(tj);
}

/** Every code point assigned in the JS engine's Unicode (surrogates excluded). */
function assignedCodePoints(): number[] {
  const out: number[] = [];
  for (let c = 1; c <= 0x10FFFF; c++) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    if (!/\p{Cn}/u.test(String.fromCodePoint(c))) out.push(c);
  }
  return out;
}

const hex = (c: number) => "U+" + c.toString(16).toUpperCase().padStart(4, "0");
const ch = (c: number) => String.fromCodePoint(c);

/** Rust's output of f on each string, batched through one call per chunk joined by "\u0001#". */
function rustEach(f: (s: string) => string, strs: string[], sep = "#"): string[] {
  const out: string[] = [];
  for (let i = 0; i < strs.length; i += 2048) {
    const part = strs.slice(i, i + 2048);
    const got = f(part.join(sep)).split(sep);
    if (got.length === part.length) out.push(...got);
    else out.push(...part.map(f));
  }
  return out;
}

async function rustIds(json: string, texts: string[], maxLength: number): Promise<number[][]> {
  const hf = Tokenizer.fromString(json);
  hf.setTruncation(maxLength);
  hf.setPadding({ maxLength });
  return (await hf.encodeBatch(texts)).map((e) => e.getIds());
}

/** Groups of words joined by spaces: one Rust call per group instead of one per word. */
function groups<T>(words: T[], size = 512): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < words.length; i += size) out.push(words.slice(i, i + size));
  return out;
}

for (const v of VARIANTS) {
  Deno.test({
    name: `tokenizer = Rust tokenizer (${v.name}): SMS messages and every code point in a word`,
    ignore: !have,
    async fn() {
      const json = variantJson(v);
      const ours = new BertTokenizer(specFromTokenizerJson(json, null, v.name), v.name);
      const sms = (await loadSms(DATA)).map((e) => e.text);
      const want = await rustIds(json, sms, 64);
      sms.forEach((t, i) => {
        const got = ours.encode(t, 64).inputIds;
        assert.equal(got.join(), want[i].join(), `SMS message ${i + 1} ${JSON.stringify(t)}`);
      });

      // Every code point c as the word "a" c "b"; words batched 512 to a text, and a text that
      // differs is compared word by word to name the code points.
      const cps = assignedCodePoints();
      const hf = Tokenizer.fromString(json);
      const rust = async (t: string) =>
        (await hf.encode(t, null, { addSpecialTokens: false })).getIds();
      const idDiffs: number[] = [];
      const cpGroups = groups(cps);
      for (const g of cpGroups) {
        const words = g.map((c) => `a${ch(c)}b`);
        if (ours.tokenize(words.join(" ")).join() === (await rust(words.join(" "))).join()) {
          continue;
        }
        for (let i = 0; i < g.length; i++) {
          if (ours.tokenize(words[i]).join() !== (await rust(words[i])).join()) idDiffs.push(g[i]);
        }
      }

      // Stricter: the normalised string of each code point alone.
      const o = v.normalizer;
      const rustNorm = bertNormalizer({
        cleanText: o.clean_text,
        handleChineseChars: o.handle_chinese_chars,
        stripAccents: o.strip_accents ?? undefined,
        lowercase: o.lowercase,
      });
      const norm = new BertNormalizer({
        cleanText: o.clean_text,
        handleChineseChars: o.handle_chinese_chars,
        stripAccents: o.strip_accents,
        lowercase: o.lowercase,
      });
      const rn = rustEach((s) => rustNorm.normalizeString(s), cps.map(ch));
      const normDiffs = cps.filter((c, i) => norm.normalize(ch(c)) !== rn[i]);

      const nfd = nfdNormalizer(), lower = lowercase();
      const causes = new Map<number, string>();
      for (const c of new Set([...idDiffs, ...normDiffs])) causes.set(c, cause(c, nfd, lower));
      if (causes.size) {
        const list = [...causes].map(([c, why]) => `${hex(c)} ${why || "NO KNOWN CAUSE"}`);
        console.log(
          `${v.name}: ${idDiffs.length} id and ${normDiffs.length} normaliser differences out ` +
            `of ${cps.length} code points:\n  ${list.join("\n  ")}`,
        );
      }
      assert.deepEqual([...causes].filter(([, why]) => !why), [], "differences without a cause");
      assert.deepEqual(idDiffs.map(hex), [], "no code point in a word gives other ids than Rust");
    },
  });
}

Deno.test({
  name:
    "tokenizer = Rust tokenizer: BertPreTokenizer (whitespace, punctuation) on every code point",
  ignore: !have,
  fn() {
    const pre = bertPreTokenizer();
    const split = (t: string) => pre.preTokenizeString(t).map(([w]) => w).join("\u0000");
    const diffs: number[] = [];
    for (const g of groups(assignedCodePoints())) {
      const words = g.map((c) => `a${ch(c)}b`);
      if (bertPreTokenize(words.join(" ")).join("\u0000") === split(words.join(" "))) continue;
      for (const [i, w] of words.entries()) {
        if (bertPreTokenize(w).join("\u0000") !== split(w)) diffs.push(g[i]);
      }
    }
    assert.deepEqual(diffs.map(hex), []);
  },
});

/**
 * Why our normaliser can differ from Rust's on one character: the two sides' Unicode data differ
 * in version. Rust takes canonical decompositions from its `unicode-normalization` crate and
 * lower-casing from its std; we take both from the JS engine (ICU). Returns "" when neither
 * explains the difference.
 */
function cause(c: number, nfd: { normalizeString(s: string): string }, lower: {
  normalizeString(s: string): string;
}): string {
  const s = ch(c);
  if (nfd.normalizeString(s) !== s.normalize("NFD")) {
    return "canonical decomposition: the JS engine's Unicode data and the Rust tokenizer's " +
      "unicode-normalization tables disagree (a Unicode 16 addition)";
  }
  if (lower.normalizeString(s) !== s.toLowerCase()) {
    return "lower-case mapping: the JS engine's Unicode version differs from Rust's std";
  }
  return "";
}

Deno.test({
  name: "tokenizer = Rust tokenizer: added tokens with each flag, and ids as Rust assigns them",
  ignore: !have,
  async fn() {
    // A cased, accent-stripping tokenizer.json with added tokens of every flag. "foo" is in the
    // vocabulary but stored with another id, and the ids after it are stored one too high: the
    // Rust tokenizer ignores stored ids (vocabulary id, else the next free one past the vocabulary).
    const tj = JSON.parse(Deno.readTextFileSync(TOKENIZER_JSON));
    tj.normalizer = {
      type: "BertNormalizer",
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: true,
      lowercase: false,
    };
    tj.truncation = null;
    tj.padding = null;
    const flags = (content: string, o: Record<string, boolean>) => ({
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: false,
      ...o,
    });
    const extra = [
      flags("<ent>", { lstrip: true }),
      flags("foo", { single_word: true }),
      flags("Café", { normalized: true }),
      flags("xyz", { rstrip: true }),
      flags("<SP>", { special: true, lstrip: true, rstrip: true }),
      flags("naïve", {}),
      flags("ABC", { normalized: true, single_word: true }),
    ];
    extra.forEach((t, i) => tj.added_tokens.push({ id: 30522 + i, ...t }));
    const json = JSON.stringify(tj);
    const texts = [
      "Café au lait",
      "cafe Cafe CAFÉ Café Cafe\u0301",
      "naïve naive",
      "a <ent> b",
      "a<ent>b  <ent>  x",
      "foo bar foobar barfoo a foo. (foo)",
      "xyz   abc xyzabc",
      "x <SP> y x<SP>y",
      "ABC abc ABCD xABC Ábc ABC!",
      "Ünïcödé Çà [SEP] [sep] [mask]",
    ];
    const ours = new BertTokenizer(specFromTokenizerJson(json, null, "added"), "added");
    const want = await rustIds(json, texts, 24);
    texts.forEach((t, i) => assert.equal(ours.encode(t, 24).inputIds.join(), want[i].join(), t));
  },
});
