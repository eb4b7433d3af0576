// BertTokenizer (basic + WordPiece) matching Hugging Face: clean text, split CJK characters,
// lower-case and strip accents when configured, split on punctuation, greedy longest-match
// WordPiece with "##", then [CLS] … [SEP] [PAD]… with [SEP] kept when truncating.
import { UserError } from "../errors.ts";
import type { Encoding } from "../data/batches.ts";

const CONTROL = /\p{C}/u;
const WHITESPACE = /[\t\n\r\p{Zs}]/u;
const PUNCT = /\p{P}/u;
const MARK = /\p{Mn}/gu;

function isAsciiPunct(cp: number): boolean {
  return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
    (cp >= 123 && cp <= 126);
}

function isCjk(cp: number): boolean {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
    (cp >= 0x20000 && cp <= 0x2A6DF) ||
    (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) ||
    (cp >= 0x2B820 && cp <= 0x2CEAF) ||
    (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

export interface TokenizerOptions {
  lowerCase: boolean;
  stripAccents: boolean;
}

export class BertTokenizer {
  readonly vocab: Map<string, number>;
  readonly tokens: string[];
  readonly cls: number;
  readonly sep: number;
  readonly pad: number;
  readonly unk: number;

  constructor(tokens: string[], readonly options: TokenizerOptions, source = "vocabulary") {
    this.tokens = tokens;
    this.vocab = new Map(tokens.map((t, i) => [t, i]));
    const special = (t: string) => {
      const id = this.vocab.get(t);
      if (id === undefined) throw new UserError(`${source}: special token ${t} is missing`);
      return id;
    };
    this.cls = special("[CLS]");
    this.sep = special("[SEP]");
    this.pad = special("[PAD]");
    this.unk = special("[UNK]");
  }

  /** From a model folder: vocab.txt (or tokenizer.json's WordPiece vocabulary) and tokenizer_config.json. */
  static fromDir(dir: string): Promise<BertTokenizer> {
    return BertTokenizer.fromReader(async (f: string) => {
      try {
        return await Deno.readTextFile(`${dir}/${f}`);
      } catch {
        return null;
      }
    }, dir);
  }

  /** fromDir on a folder's files in memory (name → bytes); `dir` names them in errors. */
  static fromFiles(files: Map<string, Uint8Array>, dir = "model files"): Promise<BertTokenizer> {
    const decoder = new TextDecoder();
    return BertTokenizer.fromReader((f) => {
      const bytes = files.get(f);
      return Promise.resolve(bytes ? decoder.decode(bytes) : null);
    }, dir);
  }

  private static async fromReader(
    read: (file: string) => Promise<string | null>,
    dir: string,
  ): Promise<BertTokenizer> {
    const cfgText = await read("tokenizer_config.json");
    let cfg: Record<string, unknown> = {};
    if (cfgText) {
      try {
        cfg = JSON.parse(cfgText);
      } catch {
        throw new UserError(`${dir}/tokenizer_config.json: invalid JSON`);
      }
    }
    const lowerCase = cfg.do_lower_case !== false;
    const stripAccents = (cfg.strip_accents as boolean | null | undefined) ?? lowerCase;
    const opts = { lowerCase, stripAccents };
    const vocabTxt = await read("vocab.txt");
    if (vocabTxt !== null) {
      const tokens = vocabTxt.split("\n");
      if (tokens[tokens.length - 1] === "") tokens.pop();
      return new BertTokenizer(tokens.map((t) => t.replace(/\r$/, "")), opts, `${dir}/vocab.txt`);
    }
    const json = await read("tokenizer.json");
    if (json !== null) {
      const vocab = JSON.parse(json)?.model?.vocab as Record<string, number> | undefined;
      if (!vocab) {
        throw new UserError(`${dir}/tokenizer.json: no WordPiece vocabulary (model.vocab)`);
      }
      const tokens: string[] = [];
      for (const [t, id] of Object.entries(vocab)) tokens[id] = t;
      return new BertTokenizer(tokens, opts, `${dir}/tokenizer.json`);
    }
    throw new UserError(
      `${dir}: no vocab.txt or tokenizer.json (the tokenizer files of the model)`,
    );
  }

  /** Basic tokenization: whitespace and punctuation split, after cleaning and normalisation. */
  basicTokens(text: string): string[] {
    let cleaned = "";
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (cp === 0 || cp === 0xFFFD || (CONTROL.test(ch) && !WHITESPACE.test(ch))) continue;
      if (WHITESPACE.test(ch)) cleaned += " ";
      else if (isCjk(cp)) cleaned += ` ${ch} `;
      else cleaned += ch;
    }
    const out: string[] = [];
    for (let word of cleaned.split(" ")) {
      if (!word) continue;
      if (this.options.lowerCase) word = word.toLowerCase();
      if (this.options.stripAccents) word = word.normalize("NFD").replace(MARK, "");
      let current = "";
      for (const ch of word) {
        if (PUNCT.test(ch) || isAsciiPunct(ch.codePointAt(0)!)) {
          if (current) out.push(current);
          out.push(ch);
          current = "";
        } else current += ch;
      }
      if (current) out.push(current);
    }
    return out;
  }

  /** Greedy longest-match-first WordPiece; a word that cannot be covered becomes [UNK]. */
  wordPiece(word: string): number[] {
    const chars = [...word];
    if (chars.length > 100) return [this.unk];
    const ids: number[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length, found = -1;
      while (start < end) {
        const piece = (start > 0 ? "##" : "") + chars.slice(start, end).join("");
        const id = this.vocab.get(piece);
        if (id !== undefined) {
          found = id;
          break;
        }
        end--;
      }
      if (found < 0) return [this.unk];
      ids.push(found);
      start = end;
    }
    return ids;
  }

  tokenize(text: string): number[] {
    return this.basicTokens(text).flatMap((w) => this.wordPiece(w));
  }

  /** [CLS] tokens [SEP] padded to maxLength, truncated to keep the final [SEP]. */
  encode(text: string, maxLength: number): Encoding {
    const body = this.tokenize(text).slice(0, Math.max(0, maxLength - 2));
    const ids = [this.cls, ...body, this.sep];
    const attentionMask = ids.map(() => 1);
    while (ids.length < maxLength) {
      ids.push(this.pad);
      attentionMask.push(0);
    }
    return { inputIds: ids, attentionMask };
  }
}
