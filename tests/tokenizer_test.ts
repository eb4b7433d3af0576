// Token ids must equal Hugging Face's BertTokenizer exactly. The expected ids come from Hugging
// Face's own Rust tokenizer (npm `tokenizers`) run on bert-base-uncased's tokenizer.json.
import assert from "node:assert/strict";
// Inline, not a deno.json import: `deno task` installs every deno.json import before any command.
// deno-lint-ignore no-import-prefix
import { Tokenizer } from "npm:tokenizers@0.23.2";
import { BertTokenizer } from "../src/bert/tokenizer.ts";
import { loadSms } from "../src/data/sms.ts";
import { isFile } from "./helpers.ts";

const SHARED = new URL("../../shared/", import.meta.url).pathname;
const MODEL = `${SHARED}models/bert-base-uncased`;
const DATA = `${SHARED}data/smsspamcollection.zip`;
const haveShared = isFile(`${MODEL}/vocab.txt`) && isFile(DATA);
if (!haveShared) {
  console.warn(
    `tokenizer_test: skipped: ${MODEL} or ${DATA} not found (../shared beside the checkout)`,
  );
}

async function hfEncode(
  texts: string[],
  maxLength: number,
): Promise<{ ids: number[]; mask: number[] }[]> {
  const hf = Tokenizer.fromFile(`${MODEL}/tokenizer.json`);
  hf.setTruncation(maxLength);
  hf.setPadding({ maxLength });
  const out = await hf.encodeBatch(texts);
  return out.map((e) => ({ ids: e.getIds(), mask: e.getAttentionMask() }));
}

Deno.test({
  name: "tokenizer: all 5,574 SMS messages at max length 32 give Hugging Face's ids and masks",
  ignore: !haveShared,
  async fn() {
    const tok = await BertTokenizer.fromDir(MODEL);
    const texts = (await loadSms(DATA)).map((e) => e.text);
    assert.equal(texts.length, 5574);
    const want = await hfEncode(texts, 32);
    let mismatches = 0;
    texts.forEach((t, i) => {
      const got = tok.encode(t, 32);
      if (
        JSON.stringify(got.inputIds) !== JSON.stringify(want[i].ids) ||
        JSON.stringify(got.attentionMask) !== JSON.stringify(want[i].mask)
      ) {
        if (mismatches++ < 3) {
          console.log(
            `message ${i + 1}: ${JSON.stringify(t)}\n ours ${got.inputIds}\n hf   ${want[i].ids}`,
          );
        }
      }
    });
    assert.equal(mismatches, 0, `${mismatches} of ${texts.length} messages differ`);
  },
});

Deno.test({
  name:
    "tokenizer: edge cases (accents, CJK, control chars, long words, truncation keeps [SEP]) at lengths 8 and 64",
  ignore: !haveShared,
  async fn() {
    const tok = await BertTokenizer.fromDir(MODEL);
    const texts = [
      "",
      "   ",
      "Héllo WÖRLD naïve café",
      "日本語のテキスト and 中文",
      "tab\there\r\nnewline\u0000nul\u200bzw",
      "a".repeat(150),
      "supercalifragilisticexpialidocious antidisestablishmentarianism",
      "£1.50 €20 ¥ $5 <b>&amp;</b> ... !!! ??? 100% #tag @user",
      "emoji 😀👍 ok",
      "don't can't it's",
      "one two three four five six seven eight nine ten eleven twelve",
    ];
    for (const len of [8, 64]) {
      const want = await hfEncode(texts, len);
      texts.forEach((t, i) => {
        const got = tok.encode(t, len);
        assert.deepEqual(got.inputIds, want[i].ids, `ids of ${JSON.stringify(t)} at ${len}`);
        assert.deepEqual(got.attentionMask, want[i].mask, `mask of ${JSON.stringify(t)} at ${len}`);
      });
    }
    const truncated = tok.encode("one two three four five six seven eight", 6);
    assert.equal(truncated.inputIds[5], tok.sep, "[SEP] kept at the end when truncating");
  },
});
