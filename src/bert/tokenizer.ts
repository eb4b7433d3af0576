// BERT tokenizer as Hugging Face's Rust tokenizer (what transformers' BertTokenizerFast runs):
// added tokens matched whole in the raw text, BertNormalizer, BertPreTokenizer, greedy
// longest-match WordPiece, then the post-processor's template ([CLS] a [SEP] / [CLS] a [SEP] b
// [SEP]) with truncation (`longest_first`, special tokens kept) and padding to max_length.
//
// Why our own code and not npm `@huggingface/tokenizers` (0.2.0, pure TS): compared with the
// Rust tokenizer (npm `tokenizers`) by tools/compare_tokenizers.ts (table in README, Formats),
// both give the same ids on the SMS messages, but on every code point inside a word that library
// differs for 53,762 of 292,530 with bert-base-uncased's tokenizer.json: 53,144 CJK ideographs
// beyond the BMP (it walks UTF-16 units, so U+20000… are not split off), and 618 characters it
// classes with the JS engine's newer Unicode (P, Mn, Cf; Rust's classes are Unicode 8.0's). It
// also ignores `single_word` and lower-cases whole strings (final sigma: "ΟΔΟΣ" → "οδος", Rust
// "οδοσ"). Ours differs on none (tests/tokenizer_rust_test.ts). Sources of the behaviour:
// tokenizers' normalizers/bert.rs, pre_tokenizers/bert.rs, models/wordpiece,
// tokenizer/added_vocabulary.rs, utils/truncation.rs.
//
// No Deno API: the class runs in a browser bundle (readTokenizer in checkpoint.ts reads folders).
import { UserError } from "../errors.ts";
import type { Encoding } from "../data/batches.ts";
import { BertNormalizer, bertPreTokenize, isWhitespace, whitespaceSplit } from "./normalizer.ts";
import {
  type AddedToken,
  specFromTokenizerJson,
  specFromVocabTxt,
  type TemplatePiece,
  type TokenizerSpec,
} from "./tokenizer_spec.ts";

/** An encoded text or text pair, padded to max_length. */
export interface TokenEncoding extends Encoding {
  /** token_type_ids: 0 for [CLS] a [SEP], 1 for b [SEP] (0 for padding). */
  tokenTypeIds: number[];
}

// Rust regex `\w` (Unicode): Alphabetic, marks, decimal digits, connector punctuation, joiners.
const WORD_CHAR = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]/u;

/** A piece of the input: an added token's id, or text still to tokenize. */
type Piece = { id: number } | { text: string };
type Added = { token: AddedToken; content: string };
/** Added tokens by the first UTF-16 unit of the content they are matched by. */
type Matcher = Map<string, Added[]>;

function matcher(tokens: Added[]): Matcher {
  const m: Matcher = new Map();
  for (const t of tokens) {
    if (!t.content) continue;
    const list = m.get(t.content[0]) ?? [];
    list.push(t);
    m.set(t.content[0], list);
  }
  return m;
}

export class BertTokenizer {
  /** Token of each id (WordPiece vocabulary and added tokens). */
  readonly tokens: string[];
  readonly vocab: Map<string, number>;
  readonly cls: number;
  readonly sep: number;
  readonly pad: number;
  readonly unk: number;
  readonly modelMaxLength: number | null;
  private readonly normalizer: BertNormalizer | null;
  private readonly raw: Matcher;
  private readonly normalized: Matcher;

  constructor(readonly spec: TokenizerSpec, source = "tokenizer") {
    this.vocab = spec.vocab;
    this.tokens = [];
    for (const [t, id] of spec.vocab) this.tokens[id] = t;
    for (const t of spec.addedTokens) this.tokens[t.id] ??= t.content;
    for (let i = 0; i < this.tokens.length; i++) this.tokens[i] ??= "";
    const id = (t: string) => {
      const v = spec.vocab.get(t) ?? spec.addedTokens.find((a) => a.content === t)?.id;
      if (v === undefined) throw new UserError(`${source}: special token ${t} is missing`);
      return v;
    };
    this.unk = id(spec.unkToken);
    this.pad = id(spec.padToken);
    const specials = spec.single.flatMap((p) => "special" in p ? p.special : []);
    if (specials.length === 0 || !spec.single.some((p) => "sequence" in p)) {
      throw new UserError(`${source}: the post-processor adds no [CLS] … [SEP] around the text`);
    }
    this.cls = specials[0];
    this.sep = specials[specials.length - 1];
    this.modelMaxLength = spec.modelMaxLength;
    this.normalizer = spec.normalizer ? new BertNormalizer(spec.normalizer) : null;
    this.raw = matcher(
      spec.addedTokens.filter((t) => !t.normalized).map((token) => ({
        token,
        content: token.content,
      })),
    );
    // Normalised added tokens are matched by their normalised content, in the normalised text.
    this.normalized = matcher(
      spec.addedTokens.filter((t) => t.normalized).map((token) => ({
        token,
        content: this.normalizer ? this.normalizer.normalize(token.content) : token.content,
      })),
    );
  }

  /**
   * A model folder's tokenizer from its files in memory (name → bytes): tokenizer.json if
   * present, else vocab.txt (+ tokenizer_config.json, special_tokens_map.json); `dir` names them
   * in errors. Folders on disk: readTokenizer (src/bert/checkpoint.ts, Deno).
   */
  static fromFiles(files: Map<string, Uint8Array>, dir = "model files"): Promise<BertTokenizer> {
    const decoder = new TextDecoder();
    return BertTokenizer.fromReader((f) => {
      const bytes = files.get(f);
      return Promise.resolve(bytes ? decoder.decode(bytes) : null);
    }, dir);
  }

  /** The tokenizer files, read through `read` (null: no such file); `dir` names them in errors. */
  static async fromReader(
    read: (file: string) => Promise<string | null>,
    dir: string,
  ): Promise<BertTokenizer> {
    // transformers lets special_tokens_map.json's token names override tokenizer_config.json's.
    let config = await read("tokenizer_config.json");
    const map = await read("special_tokens_map.json");
    if (map !== null) {
      let cfg: unknown, names: unknown;
      try {
        cfg = JSON.parse(config ?? "{}");
        names = JSON.parse(map);
      } catch {
        throw new UserError(`${dir}: tokenizer_config.json or special_tokens_map.json is not JSON`);
      }
      config = JSON.stringify({ ...cfg as object, ...names as object });
    }
    const json = await read("tokenizer.json");
    if (json !== null) {
      const src = `${dir}/tokenizer.json`;
      return new BertTokenizer(specFromTokenizerJson(json, config, src), src);
    }
    const vocab = await read("vocab.txt");
    if (vocab !== null) {
      const src = `${dir}/vocab.txt`;
      return new BertTokenizer(specFromVocabTxt(vocab, config, src), src);
    }
    throw new UserError(
      `${dir}: no tokenizer.json or vocab.txt (the tokenizer files of the model)`,
    );
  }

  /**
   * Token ids of one text, without special tokens. With `limit`, stops after the first word (or
   * added token) that brings the count to `limit` or more, keeping that word whole.
   */
  tokenize(text: string, limit = Infinity): number[] {
    const ids: number[] = [];
    for (const piece of this.splitAdded(text, this.raw)) {
      if (ids.length >= limit) break;
      if ("id" in piece) {
        ids.push(piece.id);
        continue;
      }
      const norm = this.normalizer ? this.normalizer.normalize(piece.text) : piece.text;
      for (const p of this.splitAdded(norm, this.normalized)) {
        if (ids.length >= limit) break;
        if ("id" in p) ids.push(p.id);
        else {
          for (const word of this.preTokenize(p.text)) {
            if (ids.length >= limit) break;
            this.wordPiece(word, ids);
          }
        }
      }
    }
    return ids;
  }

  /** [CLS] text [SEP] (the post-processor's single template), truncated and padded. */
  encode(text: string, maxLength: number): TokenEncoding {
    const a = this.tokenize(text);
    const budget = this.budget(this.spec.single, maxLength);
    return this.assemble(this.spec.single, a.slice(0, budget), [], maxLength);
  }

  /**
   * [CLS] a [SEP] b [SEP] with token_type_ids 0 then 1, truncated `longest_first` as the Rust
   * tokenizer does (utils/truncation.rs): when both do not fit in the budget (max length less the
   * special tokens), the shorter keeps its length if the longer can take the rest; otherwise
   * each gets half, the odd token going to the longer (to b on a tie). Before that, as observed
   * on the Rust tokenizer (npm `tokenizers` 0.23.2; the test sweeps every pair of lengths up to
   * 26 and SMS pairs), each side stops tokenizing at the word that reaches max length (the word
   * kept whole), so the lengths compared are those, not the full lengths.
   */
  encodePair(a: string, b: string, maxLength: number): TokenEncoding {
    const budget = this.budget(this.spec.pair, maxLength);
    const ta = this.tokenize(a, maxLength), tb = this.tokenize(b, maxLength);
    let [n1, n2] = [ta.length, tb.length];
    if (n1 + n2 > budget) {
      const swap = n1 > n2;
      if (swap) [n1, n2] = [n2, n1];
      n2 = n1 > budget ? n1 : Math.max(n1, budget - n1);
      if (n1 + n2 > budget) {
        n1 = Math.floor(budget / 2);
        n2 = n1 + budget % 2;
      }
      if (swap) [n1, n2] = [n2, n1];
    }
    return this.assemble(this.spec.pair, ta.slice(0, n1), tb.slice(0, n2), maxLength);
  }

  private budget(template: TemplatePiece[], maxLength: number): number {
    const added = template.reduce((n, p) => n + ("special" in p ? p.special.length : 0), 0);
    if (!Number.isInteger(maxLength) || maxLength < added) {
      throw new UserError(
        `max length ${maxLength} leaves no room for the ${added} special tokens of the tokenizer`,
      );
    }
    return maxLength - added;
  }

  private assemble(t: TemplatePiece[], a: number[], b: number[], maxLength: number): TokenEncoding {
    const inputIds: number[] = [], tokenTypeIds: number[] = [];
    for (const p of t) {
      const ids = "special" in p ? p.special : p.sequence === "A" ? a : b;
      for (const id of ids) {
        inputIds.push(id);
        tokenTypeIds.push(p.typeId);
      }
    }
    const attentionMask = inputIds.map(() => 1);
    while (inputIds.length < maxLength) {
      inputIds.push(this.pad);
      tokenTypeIds.push(0);
      attentionMask.push(0);
    }
    return { inputIds, attentionMask, tokenTypeIds };
  }

  private preTokenize(text: string): string[] {
    if (this.spec.preTokenizer === "bert") return bertPreTokenize(text);
    if (this.spec.preTokenizer === "whitespace_split") return whitespaceSplit(text);
    return text ? [text] : [];
  }

  /** Greedy longest-match-first WordPiece; a word that cannot be covered becomes [UNK]. */
  private wordPiece(word: string, out: number[]): void {
    const chars = [...word];
    if (chars.length > this.spec.maxInputCharsPerWord) {
      out.push(this.unk);
      return;
    }
    const start0 = out.length;
    let start = 0;
    while (start < chars.length) {
      let end = chars.length, found = -1;
      while (start < end) {
        const sub = chars.slice(start, end).join("");
        const id = this.vocab.get(start > 0 ? this.spec.continuingSubwordPrefix + sub : sub);
        if (id !== undefined) {
          found = id;
          break;
        }
        end--;
      }
      if (found < 0) {
        out.length = start0;
        out.push(this.unk);
        return;
      }
      out.push(found);
      start = end;
    }
  }

  /**
   * Added tokens found in `text`, leftmost-longest as the Rust tokenizer's Aho-Corasick matcher,
   * honouring single_word, lstrip and rstrip (added_vocabulary.rs `find_matches`).
   */
  private splitAdded(text: string, tokens: Matcher): Piece[] {
    if (tokens.size === 0 || !text) return text ? [{ text }] : [];
    const pieces: Piece[] = [];
    let done = 0; // end of the last piece taken (UTF-16 index)
    let i = 0;
    while (i < text.length) {
      let best: Added | null = null;
      for (const t of tokens.get(text[i]) ?? []) {
        if (text.startsWith(t.content, i)) {
          if (!best || t.content.length > best.content.length) best = t;
        }
      }
      if (!best) {
        i++;
        continue;
      }
      let start = i, stop = i + best.content.length;
      i = stop; // the matcher resumes after a match, even one discarded below
      const tok = best.token;
      const before = text.slice(0, start), after = text.slice(stop);
      if (tok.single_word && (endsWith(before, WORD_CHAR) || startsWith(after, WORD_CHAR))) {
        continue;
      }
      if (tok.whitespace_bounded && (endsWith(before, null) || startsWith(after, null))) continue;
      if (start < done) continue;
      if (tok.lstrip) start = Math.max(done, start - trailingSpace(before));
      if (tok.rstrip) stop += leadingSpace(after);
      if (done < start) pieces.push({ text: text.slice(done, start) });
      pieces.push({ id: tok.id });
      done = stop;
      i = Math.max(i, stop);
    }
    if (done < text.length) pieces.push({ text: text.slice(done) });
    return pieces;
  }
}

/** Whether the last character of s is a word character (or, for null, not whitespace). */
function endsWith(s: string, re: RegExp | null): boolean {
  if (!s) return false;
  const tail = [...s.slice(-2)]; // a surrogate pair is two UTF-16 units
  const last = tail[tail.length - 1];
  return re ? re.test(last) : !isWhitespace(last.codePointAt(0)!);
}

function startsWith(s: string, re: RegExp | null): boolean {
  if (!s) return false;
  const first = String.fromCodePoint(s.codePointAt(0)!);
  return re ? re.test(first) : !isWhitespace(first.codePointAt(0)!);
}

/** UTF-16 length of the whitespace that ends s (Rust regex `\s*$`). */
function trailingSpace(s: string): number {
  let n = 0;
  while (n < s.length && isWhitespace(s.charCodeAt(s.length - 1 - n))) n++;
  return n;
}

function leadingSpace(s: string): number {
  let n = 0;
  while (n < s.length && isWhitespace(s.charCodeAt(n))) n++;
  return n;
}
