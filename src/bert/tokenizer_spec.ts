// What a BERT tokenizer is, read from the model's own files: tokenizer.json when it exists (it
// decides, as in transformers), else vocab.txt with tokenizer_config.json, converted the way
// transformers' BertConverter builds the fast tokenizer from them. Pure functions of the file
// texts: no Deno API, so they run in a browser bundle too.
import { UserError } from "../errors.ts";
import type { BertNormalizerOptions } from "./normalizer.ts";

/** One entry of tokenizer.json's `added_tokens` (field names as there). */
export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  /** Matched in the normalised text (else in the raw text, before normalisation). */
  normalized: boolean;
  /** Matched only when no word character (regex `\w`) touches it on either side. */
  single_word: boolean;
  /** Takes the whitespace on its left / right with it. */
  lstrip: boolean;
  rstrip: boolean;
  /**
   * Not in tokenizer.json: a `never_split` entry of tokenizer_config.json, which the slow
   * BertTokenizer keeps whole (no lower-casing, no punctuation split) when it is a whole
   * whitespace-separated word; its id is its vocabulary id, or [UNK].
   */
  whitespace_bounded?: boolean;
}

/** One item of a TemplateProcessing template: special token ids, or sequence A or B. */
export type TemplatePiece = { special: number[]; typeId: number } | {
  sequence: "A" | "B";
  typeId: number;
};

export interface TokenizerSpec {
  /** Token of each id of the WordPiece vocabulary. */
  vocab: Map<string, number>;
  normalizer: BertNormalizerOptions | null;
  preTokenizer: "bert" | "whitespace_split" | null;
  unkToken: string;
  continuingSubwordPrefix: string;
  maxInputCharsPerWord: number;
  addedTokens: AddedToken[];
  single: TemplatePiece[];
  pair: TemplatePiece[];
  padToken: string;
  /** tokenizer_config.json's model_max_length; null when absent or the "no limit" sentinel. */
  modelMaxLength: number | null;
}

type Json = Record<string, unknown>;

function parseJson(text: string, source: string): Json {
  try {
    const v = JSON.parse(text);
    if (v && typeof v === "object" && !Array.isArray(v)) return v;
  } catch { /* reported below */ }
  throw new UserError(`${source}: not a JSON object`);
}

/** A special-token field of tokenizer_config.json: a string or an AddedToken-like object. */
function tokenField(cfg: Json, key: string, fallback: string): string {
  const v = cfg[key];
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && typeof (v as Json).content === "string") {
    return (v as Json).content as string;
  }
  return fallback;
}

function modelMaxLength(cfg: Json): number | null {
  const v = cfg.model_max_length;
  // transformers writes VERY_LARGE_INTEGER (1e30) for "no limit".
  return typeof v === "number" && Number.isFinite(v) && v > 0 && v < 1e12 ? v : null;
}

function normalizerOf(n: unknown, source: string): BertNormalizerOptions | null {
  if (n === null || n === undefined) return null;
  const o = n as Json;
  if (o.type !== "BertNormalizer") {
    throw new UserError(
      `${source}: normalizer ${JSON.stringify(o.type)} is not supported (BERT tokenizers use ` +
        `BertNormalizer)`,
    );
  }
  return {
    cleanText: o.clean_text !== false,
    handleChineseChars: o.handle_chinese_chars !== false,
    stripAccents: typeof o.strip_accents === "boolean" ? o.strip_accents : null,
    lowercase: o.lowercase !== false,
  };
}

function preTokenizerOf(p: unknown, source: string): TokenizerSpec["preTokenizer"] {
  if (p === null || p === undefined) return null;
  const type = (p as Json).type;
  if (type === "BertPreTokenizer") return "bert";
  if (type === "WhitespaceSplit") return "whitespace_split";
  throw new UserError(
    `${source}: pre_tokenizer ${JSON.stringify(type)} is not supported (BertPreTokenizer or ` +
      `WhitespaceSplit)`,
  );
}

/** BERT's templates: `[CLS] A [SEP]` and `[CLS] A [SEP] B [SEP]`, type ids 0 then 1 (BertProcessing). */
function bertTemplates(
  clsId: number,
  sepId: number,
): { single: TemplatePiece[]; pair: TemplatePiece[] } {
  return {
    single: [
      { special: [clsId], typeId: 0 },
      { sequence: "A", typeId: 0 },
      { special: [sepId], typeId: 0 },
    ],
    pair: [
      { special: [clsId], typeId: 0 },
      { sequence: "A", typeId: 0 },
      { special: [sepId], typeId: 0 },
      { sequence: "B", typeId: 1 },
      { special: [sepId], typeId: 1 },
    ],
  };
}

/** The post-processor's templates, with special tokens resolved to ids. */
function templatesOf(
  p: unknown,
  source: string,
): { single: TemplatePiece[]; pair: TemplatePiece[] } {
  const o = (p ?? {}) as Json;
  if (o.type === "BertProcessing") {
    const [sep, sepId] = o.sep as [string, number];
    const [cls, clsId] = o.cls as [string, number];
    if (typeof sepId !== "number" || typeof clsId !== "number") {
      throw new UserError(`${source}: BertProcessing needs cls and sep as [token, id]`);
    }
    void sep, cls;
    return bertTemplates(clsId, sepId);
  }
  if (o.type !== "TemplateProcessing") {
    throw new UserError(
      `${source}: post_processor ${JSON.stringify(o.type ?? null)} is not supported (BERT ` +
        `classification needs [CLS] … [SEP]: TemplateProcessing or BertProcessing)`,
    );
  }
  const specials = (o.special_tokens ?? {}) as Record<string, { ids?: number[] }>;
  const template = (items: unknown, name: string): TemplatePiece[] => {
    if (!Array.isArray(items)) throw new UserError(`${source}: post_processor.${name} missing`);
    return items.map((item: Json) => {
      if (item.SpecialToken) {
        const { id, type_id } = item.SpecialToken as { id: string; type_id: number };
        const ids = specials[id]?.ids;
        if (!Array.isArray(ids)) {
          throw new UserError(`${source}: post_processor special token ${id} has no ids`);
        }
        return { special: ids, typeId: type_id ?? 0 };
      }
      const seq = item.Sequence as { id: "A" | "B"; type_id: number } | undefined;
      if (!seq || (seq.id !== "A" && seq.id !== "B")) {
        throw new UserError(`${source}: post_processor.${name} has an unknown item`);
      }
      return { sequence: seq.id, typeId: seq.type_id ?? 0 };
    });
  };
  return { single: template(o.single, "single"), pair: template(o.pair, "pair") };
}

function addedTokenOf(t: Json, source: string): AddedToken {
  if (typeof t.id !== "number" || typeof t.content !== "string") {
    throw new UserError(`${source}: an added token lacks its id or content`);
  }
  const special = t.special === true;
  return {
    id: t.id,
    content: t.content,
    special,
    normalized: typeof t.normalized === "boolean" ? t.normalized : !special,
    single_word: t.single_word === true,
    lstrip: t.lstrip === true,
    rstrip: t.rstrip === true,
  };
}

/**
 * transformers truncates and pads on `truncation_side` / `padding_side` (tokenizer_config.json,
 * else tokenizer.json's truncation/padding `direction`); only the right side is implemented, so a
 * left side is refused rather than encoded on the wrong end.
 */
function refuseLeftSides(tj: Json | null, cfg: Json, source: string) {
  const cfgFile = source.replace(/[^/]*$/, "tokenizer_config.json");
  for (const key of ["truncation_side", "padding_side"]) {
    if (cfg[key] !== undefined && cfg[key] !== null && cfg[key] !== "right") {
      throw new UserError(
        `${cfgFile}: ${key} ${JSON.stringify(cfg[key])} is not supported (only "right")`,
      );
    }
  }
  for (const key of ["truncation", "padding"]) {
    const dir = ((tj?.[key] ?? null) as Json | null)?.direction;
    const side = `${key === "truncation" ? "truncation" : "padding"}_side`;
    if (dir !== undefined && dir !== "Right" && cfg[side] === undefined) {
      throw new UserError(
        `${source}: ${key}.direction ${JSON.stringify(dir)} is not supported (only "Right")`,
      );
    }
  }
}

/**
 * The ids the Rust tokenizer gives tokenizer.json's added tokens: it ignores their stored `id`
 * and re-adds them in order (AddedVocabulary::add_tokens): a content already in the vocabulary
 * (or added before) keeps that id, a new one gets max(added id) + 1, or the vocabulary size when
 * no added id reaches past it. A consistent file stores these same ids; a hand-edited one may not.
 */
function rustAddedIds(tokens: AddedToken[], vocab: Map<string, number>): AddedToken[] {
  const added = new Map<string, number>();
  return tokens.map((t) => {
    let id = added.get(t.content) ?? vocab.get(t.content);
    if (id === undefined) {
      const max = Math.max(-1, ...added.values());
      id = max >= vocab.size ? max + 1 : vocab.size;
    }
    added.set(t.content, id);
    return { ...t, id };
  });
}

/** tokenizer.json (with tokenizer_config.json for the pad token and model_max_length). */
export function specFromTokenizerJson(
  jsonText: string,
  configText: string | null,
  source: string,
): TokenizerSpec {
  const tj = parseJson(jsonText, source);
  const cfg = configText === null
    ? {}
    : parseJson(configText, source.replace(/[^/]*$/, "tokenizer_config.json"));
  refuseLeftSides(tj, cfg, source);
  const model = (tj.model ?? {}) as Json;
  if (model.type !== undefined && model.type !== "WordPiece") {
    throw new UserError(
      `${source}: model ${JSON.stringify(model.type)} is not supported (BERT uses WordPiece)`,
    );
  }
  const vocabObj = model.vocab as Record<string, number> | undefined;
  if (!vocabObj || typeof vocabObj !== "object") {
    throw new UserError(`${source}: no WordPiece vocabulary (model.vocab)`);
  }
  const vocab = new Map(Object.entries(vocabObj));
  const addedTokens = rustAddedIds(
    ((tj.added_tokens ?? []) as Json[]).map((t) => addedTokenOf(t, source)),
    vocab,
  );
  return {
    vocab,
    normalizer: normalizerOf(tj.normalizer, source),
    preTokenizer: preTokenizerOf(tj.pre_tokenizer, source),
    unkToken: typeof model.unk_token === "string" ? model.unk_token : "[UNK]",
    continuingSubwordPrefix: typeof model.continuing_subword_prefix === "string"
      ? model.continuing_subword_prefix
      : "##",
    maxInputCharsPerWord: typeof model.max_input_chars_per_word === "number"
      ? model.max_input_chars_per_word
      : 100,
    addedTokens,
    ...templatesOf(tj.post_processor, source),
    padToken: tokenField(cfg, "pad_token", "[PAD]"),
    modelMaxLength: modelMaxLength(cfg),
  };
}

/**
 * vocab.txt with tokenizer_config.json, as transformers' BertConverter makes the fast tokenizer:
 * BertNormalizer(clean_text, tokenize_chinese_chars, strip_accents, do_lower_case),
 * BertPreTokenizer, WordPiece(unk_token), "[CLS] $A [SEP]" / "[CLS] $A [SEP] $B:1 [SEP]:1", and
 * the special tokens as added tokens matched whole in the raw text.
 */
export function specFromVocabTxt(
  vocabText: string,
  configText: string | null,
  source: string,
): TokenizerSpec {
  const cfg = configText === null
    ? {}
    : parseJson(configText, source.replace(/[^/]*$/, "tokenizer_config.json"));
  refuseLeftSides(null, cfg, source);
  const lines = vocabText.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  // BertTokenizer's load_vocab: one token a line, trailing newline (and \r) removed.
  const vocab = new Map<string, number>();
  lines.forEach((l, i) => vocab.set(l.replace(/\r$/, ""), i));
  const lowercase = cfg.do_lower_case !== false;
  const stripAccents = typeof cfg.strip_accents === "boolean" ? cfg.strip_accents : null;
  const name = (key: string, fallback: string) => tokenField(cfg, key, fallback);
  const unk = name("unk_token", "[UNK]"), cls = name("cls_token", "[CLS]");
  const sep = name("sep_token", "[SEP]"), pad = name("pad_token", "[PAD]");
  const mask = name("mask_token", "[MASK]");
  const idOf = (t: string) => {
    const id = vocab.get(t);
    if (id === undefined) throw new UserError(`${source}: special token ${t} is missing`);
    return id;
  };
  const added = new Map<string, AddedToken>();
  for (const t of [pad, unk, cls, sep, mask]) {
    if (!vocab.has(t)) continue;
    added.set(t, {
      id: idOf(t),
      content: t,
      special: true,
      normalized: false,
      single_word: false,
      lstrip: false,
      rstrip: false,
    });
  }
  // transformers ≥ 4.34 lists added tokens in tokenizer_config.json as added_tokens_decoder.
  const decoder = (cfg.added_tokens_decoder ?? {}) as Record<string, Json>;
  for (const [id, t] of Object.entries(decoder)) {
    const tok = addedTokenOf({ ...t, id: Number(id) }, source);
    added.set(tok.content, tok);
  }
  const neverSplit = Array.isArray(cfg.never_split) ? cfg.never_split as string[] : [];
  for (const t of neverSplit) {
    if (typeof t !== "string" || !t || added.has(t)) continue;
    added.set(t, {
      id: vocab.get(t) ?? idOf(unk),
      content: t,
      special: false,
      normalized: false,
      single_word: false,
      lstrip: false,
      rstrip: false,
      whitespace_bounded: true,
    });
  }
  const clsId = idOf(cls), sepId = idOf(sep);
  idOf(unk);
  return {
    vocab,
    normalizer: {
      cleanText: true,
      handleChineseChars: cfg.tokenize_chinese_chars !== false,
      stripAccents,
      lowercase,
    },
    preTokenizer: "bert",
    unkToken: unk,
    continuingSubwordPrefix: "##",
    maxInputCharsPerWord: 100,
    addedTokens: [...added.values()],
    ...bertTemplates(clsId, sepId),
    padToken: pad,
    modelMaxLength: modelMaxLength(cfg),
  };
}
