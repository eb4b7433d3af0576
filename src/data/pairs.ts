// Encodings of examples: single texts, or sentence pairs `[CLS] a [SEP] b [SEP]` with
// token_type_ids 0 up to the first [SEP] and 1 after it, truncated `longest_first` as Hugging
// Face's Rust tokenizer (BertTokenizer.encodePair).
import type { BertTokenizer } from "../bert/tokenizer.ts";
import type { Encoding } from "./batches.ts";

/** One example's ids, attention mask and (for pairs) token type ids, padded to `maxLength`. */
export function encodeExample(
  tok: BertTokenizer,
  e: { text: string; textPair?: string },
  maxLength: number,
): Encoding {
  return e.textPair === undefined
    ? tok.encode(e.text, maxLength)
    : tok.encodePair(e.text, e.textPair, maxLength);
}
