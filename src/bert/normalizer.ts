// BERT's normaliser and pre-tokenizer, character for character as Hugging Face's Rust tokenizer
// (crate `tokenizers`: normalizers/bert.rs, pre_tokenizers/bert.rs), which transformers uses for
// every BERT model. Where Rust and the JS engine disagree on a character class, Rust wins:
// - control, non-spacing mark and punctuation classes come from the `unicode_categories` crate,
//   frozen at Unicode 8.0 (./unicode8.ts); `\p{Cf}`, `\p{Mn}`, `\p{P}` in JS are newer;
// - whitespace is Rust's `char::is_whitespace` (White_Space: U+0085 yes, U+FEFF no), where JS's
//   `\s` differs;
// - lower-casing maps each character alone (`char::to_lowercase`): no final-sigma rule, which
//   `String.prototype.toLowerCase` applies to whole strings;
// - accents are stripped before lower-casing (NFD, then drop Mn), the order of bert.rs;
// - the "Chinese character" ranges are bert.rs's, including its 0x2B920 (not Python BERT's
//   0x2B820) start of the Extension D/E range.
// No Deno API here: this file also runs in a browser bundle.
import { NONSPACING_MARK_8, OTHER_8, PUNCTUATION_8 } from "./unicode8.ts";

/** The fields of tokenizer.json's BertNormalizer (transformers' names, camel-cased). */
export interface BertNormalizerOptions {
  cleanText: boolean;
  handleChineseChars: boolean;
  /** null: follow `lowercase` (as tokenizers and transformers do). */
  stripAccents: boolean | null;
  lowercase: boolean;
}

/** Rust `char::is_whitespace`: the Unicode White_Space property. */
export function isWhitespace(cp: number): boolean {
  return (cp >= 0x09 && cp <= 0x0D) || cp === 0x20 || cp === 0x85 || cp === 0xA0 ||
    cp === 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp === 0x2028 || cp === 0x2029 ||
    cp === 0x202F || cp === 0x205F || cp === 0x3000;
}

/** bert.rs `is_control`: the crate's `is_other` except tab, newline and carriage return. */
function isControl(ch: string, cp: number): boolean {
  return cp !== 0x09 && cp !== 0x0A && cp !== 0x0D && OTHER_8.test(ch);
}

/** bert.rs `is_chinese_char`: the CJK Unified Ideographs blocks, as the Rust crate lists them. */
export function isChineseChar(cp: number): boolean {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
    (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
    (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
    (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

/** pre_tokenizers/bert.rs `is_bert_punc`: ASCII punctuation or Unicode 8.0 P*. */
export function isPunctuation(ch: string, cp: number): boolean {
  return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
    (cp >= 123 && cp <= 126) || (cp > 127 && PUNCTUATION_8.test(ch));
}

const lowerCache = new Map<string, string>();
/** `char::to_lowercase` of one character (full mapping: İ → i̇, no context). */
function lowerChar(ch: string): string {
  let out = lowerCache.get(ch);
  if (out === undefined) lowerCache.set(ch, out = ch.toLowerCase());
  return out;
}

/** The BertNormalizer of tokenizer.json; `normalize` is its `normalize` on one string. */
export class BertNormalizer {
  readonly stripAccents: boolean;

  constructor(readonly options: BertNormalizerOptions) {
    this.stripAccents = options.stripAccents ?? options.lowercase;
  }

  normalize(text: string): string {
    const o = this.options;
    let out = "";
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (o.cleanText) {
        if (cp === 0 || cp === 0xFFFD || isControl(ch, cp)) continue;
        if (isWhitespace(cp)) {
          out += " ";
          continue;
        }
      }
      if (o.handleChineseChars && isChineseChar(cp)) out += ` ${ch} `;
      else out += ch;
    }
    if (this.stripAccents) {
      let kept = "";
      for (const ch of out.normalize("NFD")) if (!NONSPACING_MARK_8.test(ch)) kept += ch;
      out = kept;
    }
    if (o.lowercase) {
      let lower = "";
      for (const ch of out) lower += ch < "\x80" ? ch.toLowerCase() : lowerChar(ch);
      out = lower;
    }
    return out;
  }
}

/**
 * BertPreTokenizer: split on whitespace (removed), then isolate each punctuation character.
 * Returns the words in order; empty pieces are dropped, as in Rust.
 */
export function bertPreTokenize(text: string): string[] {
  const words: string[] = [];
  let word = "";
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (isWhitespace(cp)) {
      if (word) words.push(word);
      word = "";
    } else if (isPunctuation(ch, cp)) {
      if (word) words.push(word);
      words.push(ch);
      word = "";
    } else word += ch;
  }
  if (word) words.push(word);
  return words;
}

/** WhitespaceSplit: split on whitespace only. */
export function whitespaceSplit(text: string): string[] {
  const words: string[] = [];
  let word = "";
  for (const ch of text) {
    if (isWhitespace(ch.codePointAt(0)!)) {
      if (word) words.push(word);
      word = "";
    } else word += ch;
  }
  if (word) words.push(word);
  return words;
}
