// SMS data: zip and TSV, malformed lines with their line numbers, stratified split by seed.
import assert from "node:assert/strict";
import { zipSync } from "fflate";
import { loadSms, parseSms, stratifiedSplit } from "../src/data/sms.ts";
import { oneClassWarning } from "../src/data/labels.ts";
import { runTask } from "./bert_fixture.ts";
import { isFile } from "./helpers.ts";

const SHARED_ZIP = new URL("../../shared/data/smsspamcollection.zip", import.meta.url).pathname;
const haveZip = isFile(SHARED_ZIP);
if (!haveZip) {
  console.warn(
    `sms_test: the UCI zip test is skipped: ${SHARED_ZIP} not found (../shared beside the checkout)`,
  );
}

Deno.test({
  name: "sms: the UCI zip gives 5,574 messages, 4,827 ham and 747 spam",
  ignore: !haveZip,
  async fn() {
    const ex = await loadSms(SHARED_ZIP);
    assert.equal(ex.length, 5574);
    assert.equal(ex.filter((e) => e.label === 1).length, 747);
    assert.equal(
      ex[0].text,
      "Go until jurong point, crazy.. Available only in bugis n great world la e buffet... Cine there got amore wat...",
    );
  },
});

Deno.test("sms: TSV and zip read the same; CRLF endings are stripped", async () => {
  const dir = await Deno.makeTempDir();
  const text = "ham\tOk lar...\r\nspam\tWIN a prize\tnow\nham\tsee you\n";
  await Deno.writeTextFile(`${dir}/a.tsv`, text);
  await Deno.writeFile(
    `${dir}/a.zip`,
    zipSync({ SMSSpamCollection: new TextEncoder().encode(text) }),
  );
  const a = await loadSms(`${dir}/a.tsv`), b = await loadSms(`${dir}/a.zip`);
  assert.deepEqual(a, b);
  assert.deepEqual(a.map((e) => [e.label, e.text]), [[0, "Ok lar..."], [1, "WIN a prize\tnow"], [
    0,
    "see you",
  ]]);
});

Deno.test("sms: malformed lines fail with their line number unless skipped; empty and corrupt files fail", async () => {
  const bad = "ham\tfine\nspam no tab here\nspom\ttypo\nham\tok\n";
  assert.throws(
    () => parseSms(bad, "x.tsv"),
    /x\.tsv:2: no tab between label and text \(use --skip-bad-lines/,
  );
  const warnings: string[] = [];
  const ok = parseSms(bad, "x.tsv", { skipBadLines: true, warn: (m) => warnings.push(m) });
  assert.equal(ok.length, 2);
  assert.deepEqual(warnings, [
    "x.tsv:2: skipped: no tab between label and text",
    'x.tsv:3: skipped: unknown label "spom" (expected ham or spam)',
  ]);
  assert.throws(() => parseSms("", "e.tsv"), /e\.tsv: no messages \(the file is empty\)/);
  const dir = await Deno.makeTempDir();
  await Deno.writeFile(`${dir}/c.zip`, new Uint8Array([0x50, 0x4B, 3, 4, 9, 9, 9]));
  await assert.rejects(() => loadSms(`${dir}/c.zip`), /c\.zip: not a readable zip archive/);
  await assert.rejects(() => loadSms(`${dir}/none.tsv`), /none\.tsv: file not found/);
});

Deno.test("sms: stratified split keeps class ratios, is seeded, and partitions the data", () => {
  const ex = parseSms(
    Array.from({ length: 500 }, (_, i) => `${i % 5 === 0 ? "spam" : "ham"}\tmessage ${i}`).join(
      "\n",
    ),
    "s.tsv",
  );
  const a = stratifiedSplit(ex, 0.2, 42),
    b = stratifiedSplit(ex, 0.2, 42),
    c = stratifiedSplit(ex, 0.2, 43);
  assert.equal(a.val.length, 100);
  assert.equal(a.val.filter((e) => e.label === 1).length, 20);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.val, c.val);
  assert.equal(new Set([...a.train, ...a.val].map((e) => e.line)).size, 500);
  // Three labels of 3: ceil(0.2 · 9) = 2 for validation (every remainder is 0.6; the first two
  // labels by id take one each), not 1.
  const three = Array.from({ length: 9 }, (_, i) => ({ text: `m${i}`, label: i % 3, line: i + 1 }));
  const t = stratifiedSplit(three, 0.2, 42);
  assert.equal(t.val.length, 2);
  assert.deepEqual(t.val.map((e) => e.label).sort(), [0, 1]);
});

Deno.test("cli: tokenize --json and params print what the README promises", async () => {
  const tok = await runTask("tokenize", ["--json", "hello world", "--max-length", "8"]);
  if (tok.code === 0) {
    assert.deepEqual(JSON.parse(tok.stdout.trim()), {
      input_ids: [101, 7592, 2088, 102, 0, 0, 0, 0],
      attention_mask: [1, 1, 1, 1, 0, 0, 0, 0],
    });
    const counts: Record<string, string> = {
      full: "109,483,778",
      head: "1,538",
      lora: "1,340,930", // PEFT SEQ_CLS: LoRA on the encoder and pooler, classifier trained fully
    };
    for (const mode of ["full", "head", "lora"]) {
      const p = await runTask("params", ["--mode", mode]);
      assert.match(p.stdout, new RegExp(`trainable parameters: ${counts[mode]}`));
      // PEFT's all params: the base, plus LoRA and the classifier's trained copy (never fewer
      // than the trainable ones).
      const all = mode === "lora" ? "110,824,708" : "109,483,778";
      assert.match(p.stdout, new RegExp(`total parameters: ${all}`));
    }
  } else {
    assert.match(tok.stderr, /no vocab\.txt/, "only a missing ../shared may skip this");
  }
  const bad = await runTask("params", ["--mode", "half"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--mode must be full, head or lora/);
});

// ../shared/cases "Data files" rows: each right answer as a test.
const CASES = new URL("../../shared/cases", import.meta.url).pathname;
const TOK = new URL("../../shared/models/bert-base-uncased", import.meta.url).pathname;
const haveCases = isFile(`${CASES}/data/latin1.tsv`) && isFile(`${TOK}/vocab.txt`);
if (!haveCases) console.warn(`sms_test: the data-file cases are skipped: ${CASES} not found`);
const jsonIds = (stdout: string) => stdout.trim().split("\n").map((l) => JSON.parse(l).input_ids);

Deno.test({
  name:
    "case data/latin1.tsv: not UTF-8 is one line naming file, line and byte; --encoding latin1 reads it",
  ignore: !haveCases,
  async fn() {
    const args = ["--model", TOK, "--max-length", "12", "--json", "--data"];
    const bad = await runTask("tokenize", [...args, `${CASES}/data/latin1.tsv`]);
    assert.equal(bad.code, 1);
    assert.equal(
      bad.stderr.trim(),
      `error: ${CASES}/data/latin1.tsv:1: byte 0xA3 (offset 9) is not UTF-8; give --encoding latin1 or windows-1252 if the file is in that encoding`,
    );
    const ok = await runTask("tokenize", [
      ...args,
      `${CASES}/data/latin1.tsv`,
      "--encoding",
      "latin1",
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(jsonIds(ok.stdout)[0], [
      101,
      2663,
      27813,
      8889,
      5356,
      2085,
      102,
      0,
      0,
      0,
      0,
      0,
    ]);
  },
});

Deno.test({
  name: "case data/trailing-blank-line.tsv: BOM, CRLF and a blank last line give the 2 messages",
  ignore: !haveCases,
  async fn() {
    const r = await runTask("tokenize", [
      "--model",
      TOK,
      "--max-length",
      "10",
      "--json",
      "--data",
      `${CASES}/data/trailing-blank-line.tsv`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(jsonIds(r.stdout), [
      [101, 7929, 2156, 2017, 2101, 102, 0, 0, 0, 0],
      [101, 2489, 5356, 999, 3793, 2663, 2085, 102, 0, 0],
    ]);
    assert.match(r.stderr, /2 messages \(sms\), 1 blank line skipped/);
  },
});

Deno.test({
  name: "case data/one-message.tsv: a split that leaves no training messages is a clear error",
  ignore: !haveCases,
  async fn() {
    const r = await runTask("train", [
      "--model",
      `${CASES}/tiny-bert`,
      "--data",
      `${CASES}/data/one-message.tsv`,
      "--mode",
      "full",
      "--epochs",
      "1",
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: .*one-message\.tsv: the split leaves no training messages/);
  },
});

Deno.test("sms: blank lines anywhere are skipped and counted; a BOM is not part of the first label", () => {
  const stats = { blank: 0 };
  const ex = parseSms("\ufeffham\ta\r\n\r\n  \nspam\tb\n\n", "b.tsv", { stats });
  assert.deepEqual(ex.map((e) => [e.label, e.text, e.line]), [[0, "a", 1], [1, "b", 4]]);
  assert.equal(stats.blank, 3);
});

Deno.test("sms: a split with nothing left for validation or training is an error; one class only warns what the metrics mean", () => {
  const two = parseSms("ham\ta\nspam\tb\n", "t.tsv");
  assert.throws(
    () => stratifiedSplit(two, 0.999, 1, "t.tsv"),
    /t\.tsv: the split leaves no training messages \(2 messages, --val-ratio 0\.999\)/,
  );
  const hams = parseSms("ham\ta\nham\tb\nham\tc\n", "h.tsv");
  assert.match(
    oneClassWarning(hams, ["ham", "spam"])!,
    /every training message is labelled "ham".*accuracy will be the share of "ham"/,
  );
  assert.equal(oneClassWarning(two, ["ham", "spam"]), null);
});
