// Encodings of examples, single texts or sentence pairs.
//
// Pairs are `[CLS] a [SEP] b [SEP]` with token_type_ids 0 up to the first [SEP] and 1 after it,
// truncated `longest_first` as Hugging Face's Rust tokenizer (tokenizers/src/utils/truncation.rs):
// with n1 ≤ n2 the shorter side keeps its length when the longer can make room alone, else the
// budget is halved and the longer side gets the odd token (on a tie, the second text).
// The tokenizer's own encodePair (added to src/bert/tokenizer.ts on another branch) is used
// when it exists; the function here stands in until then.
import type { BertTokenizer } from "../bert/tokenizer.ts";
import type { Encoding } from "./batches.ts";

interface PairTokenizer {
  encodePair(a: string, b: string, maxLength: number): Encoding;
}

/** Lengths [n1, n2] kept of two sequences under a budget, by longest_first. */
export function longestFirst(len1: number, len2: number, budget: number): [number, number] {
  if (len1 + len2 <= budget) return [len1, len2];
  const swap = len1 > len2;
  let n1 = swap ? len2 : len1, n2: number;
  n2 = n1 > budget ? n1 : Math.max(n1, budget - n1);
  if (n1 + n2 > budget) {
    n1 = Math.floor(budget / 2);
    n2 = n1 + (budget % 2);
  }
  return swap ? [n2, n1] : [n1, n2];
}

export function encodePairLocal(
  tok: BertTokenizer,
  a: string,
  b: string,
  maxLength: number,
): Encoding {
  const ta = tok.tokenize(a), tb = tok.tokenize(b);
  const [n1, n2] = longestFirst(ta.length, tb.length, Math.max(0, maxLength - 3));
  const first = [tok.cls, ...ta.slice(0, n1), tok.sep];
  const ids = [...first, ...tb.slice(0, n2), tok.sep];
  const tokenTypeIds = ids.map((_, i) => (i < first.length ? 0 : 1));
  const attentionMask = ids.map(() => 1);
  while (ids.length < maxLength) {
    ids.push(tok.pad);
    attentionMask.push(0);
    tokenTypeIds.push(0);
  }
  return { inputIds: ids, attentionMask, tokenTypeIds };
}

export function encodeExample(
  tok: BertTokenizer,
  e: { text: string; textPair?: string },
  maxLength: number,
): Encoding {
  if (e.textPair === undefined) return tok.encode(e.text, maxLength);
  const own = (tok as unknown as Partial<PairTokenizer>).encodePair;
  return own
    ? own.call(tok, e.text, e.textPair, maxLength)
    : encodePairLocal(tok, e.text, e.textPair, maxLength);
}
