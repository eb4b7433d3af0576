// Data files of every supported format (CSV/TSV with RFC 4180 quoting, JSON Lines, Parquet, SMS,
// inside a zip), encodings, labels, pair encoding, and the commands that read them: train with
// three labels, evaluate = train's metrics, predict a whole file.
import assert from "node:assert/strict";
import { zipSync } from "fflate";
import { parquetWriteBuffer } from "hyparquet-writer";
// deno-lint-ignore no-import-prefix
import { Tokenizer } from "npm:tokenizers@0.23.2";
import { loadRecords, loadSummary } from "../src/data/dataset.ts";
import { decodeText, firstInvalidUtf8 } from "../src/data/read.ts";
import {
  applyLabels,
  chooseLabels,
  parseLabelsFlag,
  sortLabels,
  toExamples,
} from "../src/data/labels.ts";
import { encodeExample } from "../src/data/pairs.ts";
import { loadCheckpoint, readTokenizer } from "../src/bert/checkpoint.ts";
import { configJson } from "../src/bert/config.ts";
import {
  BATCH,
  randomWeights,
  refConfig,
  runTask,
  tinyConfig,
  toF64,
  writeTinyCheckpoint,
} from "./bert_fixture.ts";
import { isFile, relError, rng } from "./helpers.ts";
import { bertForwardRef } from "./reference/bert_ref.ts";
import { initGpu } from "../src/gpu/kernel.ts";
import { endStep } from "../src/autograd/tape.ts";
import { makeBatch } from "../src/data/batches.ts";
import { BertForSequenceClassification } from "../src/bert/model.ts";

const enc = new TextEncoder();
async function tmpFile(name: string, content: string | Uint8Array): Promise<string> {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/${name}`;
  await Deno.writeFile(file, typeof content === "string" ? enc.encode(content) : content);
  return file;
}

Deno.test("csv: quoted commas, doubled quotes, newlines inside a field, CRLF, BOM; blank lines skipped and counted; lines of records", async () => {
  const csv = '\ufeffid,text,label\r\n1,"a, b",x\r\n2,"say ""hi""\r\nnext line",y\r\n\r\n' +
    '3,plain,x\r\n\n4,"é\nü\n",z\n5,after,z';
  const f = await tmpFile("d.csv", csv);
  const r = await loadRecords(f);
  assert.equal(r.format, "csv");
  assert.deepEqual(r.records.map((x) => [x.text, x.label, x.line]), [
    ["a, b", "x", 2],
    ['say "hi"\r\nnext line', "y", 3],
    ["plain", "x", 6],
    ["é\nü\n", "z", 8],
    ["after", "z", 11],
  ]);
  assert.equal(r.blank, 2);
  assert.match(loadSummary(r), /5 messages \(csv\), 2 blank lines skipped$/);
  // A record with a field too many is reported at the line where it starts.
  const bad = await tmpFile("b.csv", 'text,label\n"two\nlines",x\nc,y,extra\n');
  await assert.rejects(() => loadRecords(bad), /b\.csv:4: 3 fields, the header has 2/);
  // --skip-bad-lines skips it, with its line, as it skips an empty cell.
  const warned: string[] = [];
  const skipped = await loadRecords(bad, { skipBadLines: true, warn: (m) => warned.push(m) });
  assert.deepEqual(skipped.records.map((x) => x.text), ["two\nlines"]);
  assert.deepEqual(warned, [`${bad}:4: skipped: 3 fields, the header has 2`]);
  // An empty (or blank) text cell is a bad line too, as README says, not an empty message.
  const empty = await tmpFile("e.csv", "text,label\n,x\n  ,y\nok,y\n");
  await assert.rejects(() => loadRecords(empty), /e\.csv:2: no text in column "text"/);
});

Deno.test("tsv with a header, the sentence column, JSON Lines with integer labels, --format over the extension", async () => {
  const tsv = await tmpFile("d.tsv", 'sentence\tlabel\nit \'s a "charming" film\t1\nbad\t0\n');
  const t = await loadRecords(tsv);
  assert.equal(t.format, "tsv");
  assert.deepEqual(t.records.map((x) => [x.text, x.label]), [
    ['it \'s a "charming" film', "1"],
    ["bad", "0"],
  ]);
  const jl = await tmpFile("d.jsonl", '{"text":"a","label":2}\n\n{"text":"b","label":10}\n');
  const j = await loadRecords(jl);
  assert.deepEqual(j.records.map((x) => [x.text, x.label, x.line]), [["a", "2", 1], [
    "b",
    "10",
    3,
  ]]);
  assert.equal(j.blank, 1);
  await assert.rejects(
    async () => loadRecords(await tmpFile("e.jsonl", '{"text":"a","label":1}\n{"text":\n')),
    /e\.jsonl:2: not JSON/,
  );
  const txt = await tmpFile("d.txt", "text,label\nhello,a\n");
  assert.equal((await loadRecords(txt, { format: "csv" })).records[0].text, "hello");
});

Deno.test("a missing column names the column and the columns found", async () => {
  const f = await tmpFile("m.csv", "body,category\nhi,a\n");
  await assert.rejects(
    () => loadRecords(f),
    /m\.csv: no column "text" \(columns: body, category\); name the right one with --text-column/,
  );
  await assert.rejects(
    () => loadRecords(f, { textColumn: "body" }),
    /no column "label" \(columns: body, category\); name the right one with --label-column/,
  );
  const ok = await loadRecords(f, { textColumn: "body", labelColumn: "category" });
  assert.deepEqual(ok.records[0], { text: "hi", label: "a", line: 2 });
  // predict reads files without labels; pairs need their column.
  assert.equal((await loadRecords(f, { textColumn: "body" }, false)).records[0].label, null);
  await assert.rejects(
    () => loadRecords(f, { textColumn: "body", textPairColumn: "second" }, false),
    /no column "second"/,
  );
});

Deno.test("parquet (written by hyparquet-writer): text, pair and integer labels, Hugging Face ClassLabel names; a zip holding one data file", async () => {
  const buf = parquetWriteBuffer({
    columnData: [
      { name: "premise", data: ["a man sleeps", "it rains"], type: "STRING" },
      { name: "hypothesis", data: ["someone rests", "the sun shines"], type: "STRING" },
      { name: "label", data: [0, 2], type: "INT32" },
    ],
  });
  const f = await tmpFile("nli.parquet", new Uint8Array(buf));
  const opts = { textColumn: "premise", textPairColumn: "hypothesis" };
  const r = await loadRecords(f, opts);
  assert.equal(r.format, "parquet");
  assert.deepEqual(r.records, [
    { text: "a man sleeps", textPair: "someone rests", label: "0", line: 1 },
    { text: "it rains", textPair: "the sun shines", label: "2", line: 2 },
  ]);
  const zip = await tmpFile("nli.zip", zipSync({ "data/nli.parquet": new Uint8Array(buf) }));
  assert.deepEqual((await loadRecords(zip, opts)).records, r.records);
  // A Hugging Face dataset's file: ClassLabel names in the `huggingface` metadata key.
  const hf = parquetWriteBuffer({
    columnData: [
      { name: "text", data: ["good", "bad", "meh"], type: "STRING" },
      { name: "label", data: [2n, 0n, 1n], type: "INT64" },
    ],
    kvMetadata: [{
      key: "huggingface",
      value: JSON.stringify({
        info: {
          features: {
            text: { dtype: "string", _type: "Value" },
            label: { names: ["negative", "neutral", "positive"], _type: "ClassLabel" },
          },
        },
      }),
    }],
  });
  const h = await loadRecords(await tmpFile("hf.parquet", new Uint8Array(hf)));
  assert.deepEqual(h.records.map((x) => x.label), ["positive", "negative", "neutral"]);
  assert.deepEqual(chooseLabels(h, {}), ["negative", "neutral", "positive"]);
  const two = await tmpFile(
    "two.zip",
    zipSync({ "a.csv": enc.encode("x"), "b.csv": enc.encode("y") }),
  );
  await assert.rejects(
    () => loadRecords(two),
    /two\.zip: the archive has no SMSSpamCollection file \(found: a\.csv, b\.csv\); a zip must hold it or exactly one/,
  );
});

Deno.test("encodings: a byte that is not UTF-8 names the file, line and byte; --encoding latin1 / windows-1252 read it", async () => {
  const bytes = new Uint8Array([...enc.encode("ham\tok\nspam\tWin "), 0xA3, ...enc.encode("5\n")]);
  const f = await tmpFile("l.tsv", bytes);
  await assert.rejects(
    () => loadRecords(f),
    /l\.tsv:2: byte 0xA3 \(offset 16\) is not UTF-8; give --encoding latin1/,
  );
  assert.equal((await loadRecords(f, { encoding: "latin1" })).records[1].text, "Win £5");
  const euro = { name: "e.csv", where: "e.csv", bytes: new Uint8Array([0x80]) };
  assert.equal(decodeText(euro, "windows-1252"), "€");
  assert.throws(() => decodeText(euro, "klingon"), /--encoding "klingon" is not an encoding/);
});

Deno.test("firstInvalidUtf8 agrees with TextDecoder's fatal UTF-8 on random and edge byte strings", () => {
  const fatal = new TextDecoder("utf-8", { fatal: true });
  const valid = (b: Uint8Array) => {
    try {
      fatal.decode(b);
      return true;
    } catch {
      return false;
    }
  };
  const next = rng(11);
  const cases: Uint8Array[] = [
    new Uint8Array([0xC0, 0x80]), // overlong
    new Uint8Array([0xED, 0xA0, 0x80]), // surrogate
    new Uint8Array([0xF4, 0x90, 0x80, 0x80]), // above U+10FFFF
    new Uint8Array([0xE2, 0x82]), // truncated
    enc.encode("é€😀\u2028"),
  ];
  for (let i = 0; i < 3000; i++) {
    cases.push(Uint8Array.from({ length: 1 + Math.floor(next() * 6) }, () => {
      const x = next();
      return x < 0.3 ? Math.floor(next() * 128) : 0x80 + Math.floor(next() * 128);
    }));
  }
  for (const b of cases) {
    const at = firstInvalidUtf8(b);
    assert.equal(at === -1, valid(b), `bytes ${Array.from(b)}`);
    if (at >= 0) assert.ok(valid(b.subarray(0, at)), `prefix before ${at} of ${Array.from(b)}`);
  }
});

Deno.test("labels: sorted (numerically for integers) unless --labels; the model's names when they cover the data; unseen labels name themselves", async () => {
  assert.deepEqual(sortLabels(["spam", "ham", "spam"]), ["ham", "spam"]);
  assert.deepEqual(sortLabels(["10", "2", "-1"]), ["-1", "2", "10"]);
  assert.deepEqual(sortLabels(["b", "B", "a"]), ["B", "a", "b"]);
  assert.throws(() => parseLabelsFlag("a,a"), /--labels must name two or more distinct labels/);
  const f = await tmpFile("l.csv", "text,label\nx,neg\ny,pos\nz,neu\n");
  const r = await loadRecords(f);
  assert.deepEqual(chooseLabels(r, {}), ["neg", "neu", "pos"]);
  assert.deepEqual(chooseLabels(r, { labels: ["pos", "neu", "neg"] }), ["pos", "neu", "neg"]);
  const model = { "0": "pos", "1": "neg", "2": "neu", "3": "other" };
  assert.deepEqual(chooseLabels(r, { modelLabels: model }), ["pos", "neg", "neu", "other"]);
  assert.deepEqual(chooseLabels(r, { modelLabels: { "0": "LABEL_0", "1": "LABEL_1" } }), [
    "neg",
    "neu",
    "pos",
  ]);
  assert.deepEqual(toExamples(r, ["pos", "neu", "neg"], "training").map((e) => e.label), [2, 0, 1]);
  assert.throws(
    () => toExamples(r, ["neg", "pos"], "training"),
    /l\.csv:4: label "neu" is not one of the training labels \(neg, pos\)/,
  );
  const one = await loadRecords(await tmpFile("o.csv", "text,label\nx,a\ny,a\n"));
  assert.throws(() => chooseLabels(one, {}), /every message has the label "a"/);
  const sms = await loadRecords(await tmpFile("s.tsv", "spam\tx\n"));
  assert.deepEqual(chooseLabels(sms, {}), ["ham", "spam"]);
});

Deno.test("labels: another label count gets a fresh classifier with a note; config.json carries id2label and label2id", async () => {
  const dir = await Deno.makeTempDir();
  await writeTinyCheckpoint(dir);
  const ck = await loadCheckpoint(dir, { seed: 3, warn: () => {} });
  const w0 = ck.weights.get("classifier.weight")!;
  const notes: string[] = [];
  applyLabels(ck, ["x", "y"], 3, (m) => notes.push(m));
  assert.equal(notes.length, 0);
  assert.equal(ck.weights.get("classifier.weight"), w0, "same size: the trained head is kept");
  applyLabels(ck, ["a", "b", "c"], 3, (m) => notes.push(m));
  assert.match(notes[0], /2-label classifier and the data 3 labels \(a, b, c\).*newly initialised/);
  assert.equal(ck.weights.get("classifier.weight")!.length, 3 * ck.config.hiddenSize);
  assert.deepEqual([...ck.weights.get("classifier.bias")!], [0, 0, 0]);
  const json = configJson(ck.config);
  assert.deepEqual(json.id2label, { "0": "a", "1": "b", "2": "c" });
  assert.deepEqual(json.label2id, { a: 0, b: 1, c: 2 });
});

Deno.test("pairs: an example with a second text encodes as [CLS] a [SEP] b [SEP] with type ids", async () => {
  const dir = await Deno.makeTempDir();
  await writeTinyCheckpoint(dir);
  const tok = await readTokenizer(dir);
  const e = encodeExample(tok, { text: "hello world", textPair: "win" }, 8);
  assert.deepEqual(e.inputIds, [tok.cls, 5, 6, tok.sep, 8, tok.sep, tok.pad, tok.pad]);
  assert.deepEqual(e.tokenTypeIds, [0, 0, 0, 0, 1, 1, 0, 0]);
  assert.deepEqual(e.attentionMask, [1, 1, 1, 1, 1, 1, 0, 0]);
});

Deno.test("pairs: token_type_ids reach the model: logits equal a float64 forward with type-1 embeddings", async () => {
  await initGpu();
  const c = tinyConfig();
  const w = randomWeights(c);
  const types = [[0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0]];
  const batch = BATCH.map((e, b) => ({ ...e, tokenTypeIds: types[b] }));
  const model = new BertForSequenceClassification(c, w);
  const logits = await model.forward(makeBatch(batch, null, c.vocabSize), { train: false }).read();
  endStep();
  model.release();
  // The reference adds token type 0 to every token; a token of type 1 is given as id + V in a
  // vocabulary extended by rows word[id] + type[1] − type[0], which is the same input vector.
  const ref = toF64(w), H = c.hiddenSize, V = c.vocabSize;
  const word = ref.get("bert.embeddings.word_embeddings.weight")!;
  const type = ref.get("bert.embeddings.token_type_embeddings.weight")!;
  const wide = new Float64Array(2 * V * H);
  wide.set(word);
  for (let i = 0; i < V * H; i++) wide[V * H + i] = word[i] + type[H + (i % H)] - type[i % H];
  ref.set("bert.embeddings.word_embeddings.weight", wide);
  const ids = batch.map((e) => e.inputIds.map((id, t) => id + V * e.tokenTypeIds[t]));
  const want = bertForwardRef(refConfig(c), ref, ids, batch.map((e) => e.attentionMask))
    .flatMap((r) => [...r]);
  assert.ok(relError(logits, want) < 1e-5, `relative error ${relError(logits, want)}`);
  const zero = bertForwardRef(
    refConfig(c),
    toF64(w),
    BATCH.map((e) => e.inputIds),
    BATCH.map((e) => e.attentionMask),
  )
    .flatMap((r) => [...r]);
  assert.ok(relError(logits, zero) > 1e-3, "type ids change the logits");
});

const MODEL = new URL("../../shared/models/bert-base-uncased", import.meta.url).pathname;
Deno.test({
  name:
    "pairs: an example's pair encoding equals the Rust tokenizer's encode(a, b) on 300 pairs with truncation",
  ignore: !isFile(`${MODEL}/tokenizer.json`),
  async fn() {
    const tok = await readTokenizer(MODEL);
    const words =
      "the quick brown fox jumps over a lazy dog while it rains in paris , ok ! unbelievable"
        .split(" ");
    const next = rng(7);
    const sentence = () =>
      Array.from(
        { length: Math.floor(next() * 14) },
        () => words[Math.floor(next() * words.length)],
      )
        .join(" ");
    for (const len of [8, 13, 24]) {
      const hf = Tokenizer.fromFile(`${MODEL}/tokenizer.json`);
      hf.setTruncation(len);
      hf.setPadding({ maxLength: len });
      for (let i = 0; i < 100; i++) {
        const a = sentence(), b = sentence();
        const want = await hf.encode(a, b);
        const got = encodeExample(tok, { text: a, textPair: b }, len);
        assert.deepEqual(got.inputIds, want.getIds(), `${len}: ${a} | ${b}`);
        assert.deepEqual(got.tokenTypeIds, want.getTypeIds(), `${len}: ${a} | ${b}`);
        assert.deepEqual(got.attentionMask, want.getAttentionMask());
      }
    }
  },
});

// Commands on a tiny checkpoint: three labels end to end.
const THREE = [
  ["Ok, see you later!", "friend"],
  ["URGENT! You won a FREE prize: call now!!", "spam"],
  ["Meeting moved to 3pm, agenda attached", "work"],
  ["Sorry, I can't go to lunch today.", "friend"],
  ["WIN cash now, txt WIN", "spam"],
  ["Please review the report by Friday", "work"],
  ["Call me when you get home", "friend"],
  ["Claim your prize, call now", "spam"],
];
const csvOf = (rows: string[][]) =>
  "text,label\n" + rows.map(([t, l]) => `"${t.replaceAll('"', '""')}",${l}`).join("\n") + "\n";

Deno.test("train with three labels from a CSV; evaluate prints the metrics train saved; predict writes a whole file", async () => {
  const dir = await Deno.makeTempDir();
  await writeTinyCheckpoint(`${dir}/model`, { seed: 4 });
  await Deno.writeTextFile(`${dir}/d.csv`, csvOf(THREE));
  const common = ["--data", `${dir}/d.csv`, "--max-length", "16", "--eval-batch-size", "3"];
  const t = await runTask("train", [
    "--model",
    `${dir}/model`,
    ...common,
    "--val-data",
    `${dir}/d.csv`,
    "--mode",
    "full",
    "--epochs",
    "2",
    "--lr",
    "0.01",
    "--out",
    `${dir}/out`,
  ]);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stderr, /2-label classifier and the data 3 labels \(friend, spam, work\)/);
  assert.match(t.stdout, /\[full\] validation, last epoch\naccuracy .* macro f1 [\s\S]*\nwork /);
  const cfg = JSON.parse(await Deno.readTextFile(`${dir}/out/config.json`));
  assert.deepEqual(cfg.id2label, { "0": "friend", "1": "spam", "2": "work" });
  const saved = JSON.parse(await Deno.readTextFile(`${dir}/out/metrics.json`));
  const last = saved.epochs[saved.epochs.length - 1].metrics;
  assert.equal(last.numLabels, 3);
  assert.equal(last.confusion.length, 3);
  const e = await runTask("evaluate", [
    "--model",
    `${dir}/out`,
    "--data",
    `${dir}/d.csv`,
    "--max-length",
    "16",
    "--batch-size",
    "3",
    "--json",
  ]);
  assert.equal(e.code, 0, e.stderr);
  const ev = JSON.parse(e.stdout);
  assert.deepEqual(ev.labels, ["friend", "spam", "work"]);
  assert.deepEqual(ev.metrics, last);
  const text = await runTask("evaluate", ["--model", `${dir}/out`, "--data", `${dir}/d.csv`]);
  assert.match(text.stdout, /macro avg/);
  assert.match(text.stdout, /true \\ predicted\s+friend\s+spam\s+work/);

  const p = await runTask("predict", [
    "--model",
    `${dir}/out`,
    "--data",
    `${dir}/d.csv`,
    "--out",
    `${dir}/p.jsonl`,
    "--batch-size",
    "3",
  ]);
  assert.equal(p.code, 0, p.stderr);
  const rows = (await Deno.readTextFile(`${dir}/p.jsonl`)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  assert.equal(rows.length, THREE.length);
  rows.forEach((r, i) => {
    assert.equal(r.text, THREE[i][0]);
    assert.equal(r.probs.length, 3);
    assert.ok(Math.abs(r.probs.reduce((a: number, b: number) => a + b, 0) - 1) < 1e-6);
    assert.equal(r.label, ["friend", "spam", "work"][r.probs.indexOf(Math.max(...r.probs))]);
  });
  // The predictions reproduce evaluate's confusion matrix.
  const conf = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  const ids = ["friend", "spam", "work"];
  rows.forEach((r, i) => conf[ids.indexOf(THREE[i][1])][ids.indexOf(r.label)]++);
  assert.deepEqual(conf, ev.metrics.confusion);
  const c = await runTask("predict", [
    "--model",
    `${dir}/out`,
    "--data",
    `${dir}/d.csv`,
    "--out",
    `${dir}/p.csv`,
  ]);
  assert.equal(c.code, 0, c.stderr);
  const csv = (await Deno.readTextFile(`${dir}/p.csv`)).split("\n");
  assert.equal(csv[0], "text,label,p_friend,p_spam,p_work");
  assert.match(csv[1], /^"Ok, see you later!",(friend|spam|work),/);
});

Deno.test("commands: a label validation never saw in training, a missing column and a label the model lacks are one-line errors", async () => {
  const dir = await Deno.makeTempDir();
  await writeTinyCheckpoint(`${dir}/model`);
  await Deno.writeTextFile(`${dir}/train.csv`, csvOf(THREE.filter(([, l]) => l !== "work")));
  await Deno.writeTextFile(`${dir}/val.csv`, csvOf(THREE));
  const base = ["--model", `${dir}/model`, "--mode", "head", "--epochs", "1"];
  const unseen = await runTask("train", [
    ...base,
    "--data",
    `${dir}/train.csv`,
    "--val-data",
    `${dir}/val.csv`,
    "--labels",
    "friend,spam,work",
  ]);
  assert.equal(unseen.code, 1);
  assert.match(unseen.stderr, /val\.csv:4: label "work" does not occur in the training data/);
  const missing = await runTask("train", [
    ...base,
    "--data",
    `${dir}/train.csv`,
    "--label-column",
    "category",
  ]);
  assert.equal(missing.code, 1);
  assert.match(
    missing.stderr,
    /^error: .*train\.csv: no column "category" \(columns: text, label\)/,
  );
  const ev = await runTask("evaluate", ["--model", `${dir}/model`, "--data", `${dir}/val.csv`]);
  assert.equal(ev.code, 1);
  assert.match(
    ev.stderr,
    /val\.csv:2: label "friend" is not one of the model's labels \(ham, spam\)/,
  );
  assert.doesNotMatch(unseen.stderr + missing.stderr + ev.stderr, /\n\s+at /, "no stack trace");
});
