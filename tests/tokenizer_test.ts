// Token ids must equal Hugging Face's BertTokenizer exactly. The expected ids come from Hugging
// Face's own Rust tokenizer (npm `tokenizers`) run on bert-base-uncased's tokenizer.json.
import assert from "node:assert/strict";
// Inline, not a deno.json import: `deno task` installs every deno.json import before any command.
// deno-lint-ignore no-import-prefix
import { Tokenizer } from "npm:tokenizers@0.23.2";
import { BertTokenizer } from "../src/bert/tokenizer.ts";
import { readTokenizer } from "../src/bert/checkpoint.ts";
import { specFromTokenizerJson } from "../src/bert/tokenizer_spec.ts";
import { loadSms } from "../src/data/sms.ts";
import { runTask } from "./bert_fixture.ts";
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
    const tok = await readTokenizer(MODEL);
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
    const tok = await readTokenizer(MODEL);
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

// The tokenizer rows of ../shared/cases/README.md, through the CLI, with the ids listed there.
const CASES = `${SHARED}cases/tokenizer`;
const haveCases = isFile(`${CASES}/special-tokens.json`) && isFile(`${MODEL}/tokenizer.json`);
if (!haveCases) console.warn(`tokenizer_test: cases skipped: ${CASES} not found`);

async function tokenizeCli(args: string[]): Promise<number[][]> {
  const r = await runTask("tokenize", [...args, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split("\n").map((l) => JSON.parse(l).input_ids);
}

Deno.test({
  name: "tokenizer case: special tokens typed in the text are matched whole before normalisation",
  ignore: !haveCases,
  async fn() {
    const texts = JSON.parse(await Deno.readTextFile(`${CASES}/special-tokens.json`));
    assert.deepEqual(await tokenizeCli(["--model", MODEL, "--max-length", "10", ...texts]), [
      [101, 2023, 2003, 102, 1037, 3231, 102, 0, 0, 0],
      [101, 7592, 103, 2088, 101, 102, 0, 0, 0, 0],
      [101, 103, 102, 0, 0, 0, 0, 0, 0, 0],
    ]);
  },
});

Deno.test({
  name: "tokenizer case: U+2028 (and every Unicode whitespace) separates words",
  ignore: !haveCases,
  async fn() {
    const texts = JSON.parse(await Deno.readTextFile(`${CASES}/line-separator.json`));
    assert.deepEqual(await tokenizeCli(["--model", MODEL, "--max-length", "10", ...texts]), [
      [101, 2156, 2017, 2101, 102, 0, 0, 0, 0, 0],
    ]);
  },
});

Deno.test({
  name:
    "tokenizer case: tokenizer.json's normaliser decides (cased, accents kept; no Chinese split)",
  ignore: !haveCases,
  async fn() {
    const cased = ["--model", `${CASES}/cased-tokenizer-json`, "--max-length", "8"];
    assert.deepEqual(await tokenizeCli([...cased, "Call FREE now!", "Café"]), [
      [2, 7, 9, 12, 5, 3, 0, 0],
      [2, 13, 3, 0, 0, 0, 0, 0],
    ]);
    const zh = ["--model", `${CASES}/no-chinese-split`, "--max-length", "8", "ok 中文"];
    assert.deepEqual(await tokenizeCli(zh), [[2, 9, 5, 3, 0, 0, 0, 0]]);
  },
});

/** bert-base-uncased's tokenizer.json with extra added tokens (and their options). */
function withAdded(extra: Record<string, unknown>[]): string {
  const tj = JSON.parse(Deno.readTextFileSync(`${MODEL}/tokenizer.json`));
  tj.added_tokens.push(...extra);
  return JSON.stringify(tj);
}

Deno.test({
  name: "tokenizer: added tokens honour single_word, lstrip, rstrip and normalized as Rust does",
  ignore: !haveShared,
  async fn() {
    const base = { special: false, single_word: false, lstrip: false, rstrip: false };
    const json = withAdded([
      { ...base, id: 30522, content: "<ent>", normalized: false, single_word: true },
      { ...base, id: 30523, content: "<L>", normalized: false, lstrip: true },
      { ...base, id: 30524, content: "<R>", normalized: false, rstrip: true },
      { ...base, id: 30525, content: "Ünïcode", normalized: true },
    ]);
    const ours = new BertTokenizer(specFromTokenizerJson(json, null, "added"));
    const hf = Tokenizer.fromString(json);
    const texts = [
      "a <ent> b",
      "a<ent>b",
      "x <ent>, y",
      "_<ent>",
      "one   <L>   two",
      "one   <R>   two",
      "<L><R><L>",
      "   <L>",
      "an UNICODE day, unicode, Ünïcode and ÜNÏCODE",
      "[CLS]<ent>[SEP] <R>[MASK]",
    ];
    for (const t of texts) {
      const want = (await hf.encode(t, null, { addSpecialTokens: false })).getIds();
      assert.deepEqual(ours.tokenize(t), want, JSON.stringify(t));
    }
  },
});

Deno.test({
  name: "tokenizer: vocab.txt + tokenizer_config.json (do_lower_case, strip_accents, " +
    "tokenize_chinese_chars, never_split, model_max_length)",
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const vocab = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        "Café",
        "cafe",
        "café",
        "中",
        "文",
      ]
        .concat(["中文", "[FOO]", "foo", "[", "]", "Foo"]);
      await Deno.writeTextFile(`${dir}/vocab.txt`, vocab.join("\n") + "\n");
      const cfg = (c: Record<string, unknown>) =>
        Deno.writeTextFile(`${dir}/tokenizer_config.json`, JSON.stringify(c));
      const ids = async (t: string) => (await readTokenizer(dir)).tokenize(t);
      await cfg({});
      assert.deepEqual(await ids("Café 中文"), [6, 8, 9], "default: lower-case, strip, split CJK");
      await cfg({ do_lower_case: false });
      assert.deepEqual(await ids("Café"), [5], "cased: accents kept (strip_accents follows)");
      await cfg({ do_lower_case: true, strip_accents: false });
      assert.deepEqual(await ids("Café"), [7], "lower-cased, accents kept");
      await cfg({ tokenize_chinese_chars: false });
      assert.deepEqual(await ids("中文"), [10]);
      await cfg({ never_split: ["[FOO]"] });
      // As the slow BertTokenizer: kept whole (not lower-cased, not split) only as a whole word;
      // inside "x[FOO]" it is lower-cased and split on punctuation (x is not in the vocabulary).
      assert.deepEqual(await ids("[FOO] x[FOO]"), [11, 1, 13, 12, 14]);
      await cfg({ model_max_length: 7 });
      assert.equal((await readTokenizer(dir)).modelMaxLength, 7);
      await cfg({ model_max_length: 1e30 });
      assert.equal((await readTokenizer(dir)).modelMaxLength, null, "1e30 = no limit");
      await Deno.writeTextFile(`${dir}/special_tokens_map.json`, '{"unk_token": "[MASK]"}');
      assert.deepEqual(await ids("zzz"), [4], "special_tokens_map.json names the unknown token");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "tokenizer: unsupported tokenizer.json parts are refused by name",
  ignore: !haveShared,
  fn() {
    const tj = JSON.parse(Deno.readTextFileSync(`${MODEL}/tokenizer.json`));
    const refuse = (edit: (t: Record<string, unknown>) => void, re: RegExp) => {
      const copy = structuredClone(tj);
      edit(copy);
      assert.throws(() => specFromTokenizerJson(JSON.stringify(copy), null, "x"), re);
    };
    refuse((t) => t.normalizer = { type: "NFKC" }, /normalizer "NFKC" is not supported/);
    refuse((t) => t.pre_tokenizer = { type: "ByteLevel" }, /pre_tokenizer "ByteLevel"/);
    refuse((t) => (t.model as Record<string, unknown>).type = "BPE", /model "BPE"/);
    refuse((t) => t.post_processor = null, /post_processor null is not supported/);
    // transformers would truncate or pad on the left: refused, never encoded on the wrong end.
    refuse(
      (t) => t.truncation = { direction: "Left", max_length: 8, strategy: "LongestFirst" },
      /x: truncation\.direction "Left" is not supported/,
    );
    refuse(
      (t) => t.padding = { direction: "Left", pad_id: 0, pad_token: "[PAD]" },
      /x: padding\.direction "Left" is not supported/,
    );
    for (const side of ["truncation_side", "padding_side"]) {
      assert.throws(
        () =>
          specFromTokenizerJson(JSON.stringify(tj), JSON.stringify({ [side]: "left" }), "d/t.json"),
        new RegExp(`d/tokenizer_config\\.json: ${side} "left" is not supported`),
      );
    }
  },
});

Deno.test({
  name: "tokenizer: encodePair = Rust encode(a, b) ids, type ids and mask (longest_first) " +
    "on 400 consecutive SMS pairs at lengths 12, 24 and 48",
  ignore: !haveShared,
  async fn() {
    const tok = await readTokenizer(MODEL);
    const texts = (await loadSms(DATA)).map((e) => e.text).slice(0, 401);
    // Also pairs of equal length and empty sides, where the odd token's side matters.
    const pairs: [string, string][] = texts.slice(0, 400).map((t, i) => [t, texts[i + 1]]);
    pairs.push(["one two three four five six", "six five four three two one"], ["", "a b c"]);
    pairs.push(["a b c d e f g h i j k l m n o p", ""], ["", ""]);
    for (const len of [12, 24, 48]) {
      const hf = Tokenizer.fromFile(`${MODEL}/tokenizer.json`);
      hf.setTruncation(len);
      hf.setPadding({ maxLength: len });
      for (const [a, b] of pairs) {
        const want = await hf.encode(a, b);
        const got = tok.encodePair(a, b, len);
        const what = `${JSON.stringify([a, b])} at ${len}`;
        assert.deepEqual(got.inputIds, want.getIds(), `ids of ${what}`);
        assert.deepEqual(got.tokenTypeIds, want.getTypeIds(), `type ids of ${what}`);
        assert.deepEqual(got.attentionMask, want.getAttentionMask(), `mask of ${what}`);
      }
    }
    // Every pair of lengths 0..26 tokens at max lengths 11 and 12 (both truncation branches,
    // ties, odd and even budgets).
    const words = (n: number) => Array(n).fill("a").join(" ");
    for (const len of [11, 12]) {
      const hf = Tokenizer.fromFile(`${MODEL}/tokenizer.json`);
      hf.setTruncation(len);
      hf.setPadding({ maxLength: len });
      for (let x = 0; x <= 26; x++) {
        for (let y = 0; y <= 26; y++) {
          const want = await hf.encode(words(x), words(y));
          const got = tok.encodePair(words(x), words(y), len);
          assert.deepEqual(got.tokenTypeIds, want.getTypeIds(), `lengths ${x}, ${y} at ${len}`);
          assert.deepEqual(got.attentionMask, want.getAttentionMask(), `${x}, ${y} at ${len}`);
        }
      }
    }
    assert.throws(() => tok.encodePair("a", "b", 2), /no room for the 3 special tokens/);
  },
});
