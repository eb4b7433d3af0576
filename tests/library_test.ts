// The library (mod.ts, deno.ts): loading from memory, URLs and a hub on 127.0.0.1, training in
// each mode with per-step callbacks, abort at a step boundary, predict and evaluate, and saved
// bytes equal to the files the CLI writes for the same run.
import assert from "node:assert/strict";
import {
  type CacheLike,
  initGpu,
  loadFromFiles,
  loadFromHub,
  loadFromUrl,
  type Mode,
  resolveTrainConfig,
  type ResumeStore,
  type StepInfo,
  type TextClassifier,
  UserError,
} from "../mod.ts";
import { loadModel, writeFiles } from "../deno.ts";
import { tinyModelFiles } from "./library_run.ts";
import { FIXTURE_MESSAGES, fixtureTsv, runTask, writeTinyCheckpoint } from "./bert_fixture.ts";

const DATA = FIXTURE_MESSAGES.map(([label, text]) => ({ text, label }));

/** A local server for `files` under `prefix`, counting the requests per path. */
function serve(files: Map<string, Uint8Array>, prefix: string) {
  const hits = new Map<string, number>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const body = path.startsWith(prefix) ? files.get(path.slice(prefix.length)) : undefined;
    if (path.endsWith("/broken.json")) return new Response("oops", { status: 500 });
    return body
      ? new Response(body as Uint8Array<ArrayBuffer>)
      : new Response("not found", { status: 404 });
  });
  const { port } = server.addr as Deno.NetAddr;
  return { url: `http://127.0.0.1:${port}`, hits, close: () => server.shutdown() };
}

/** A Cache API stand-in: a Map of URL → bytes (the browser's `caches.open()` in a page). */
function memoryCache(): CacheLike & { urls: () => string[] } {
  const m = new Map<string, Uint8Array>();
  return {
    match: (url) => Promise.resolve(m.has(url) ? new Response(m.get(url)!.slice()) : undefined),
    put: async (url, res) => void m.set(url, new Uint8Array(await res.arrayBuffer())),
    urls: () => [...m.keys()],
  };
}

function sameModel(a: TextClassifier, b: TextClassifier): void {
  assert.deepEqual(a.config, b.config);
  assert.deepEqual(a.tokenizer.tokens, b.tokenizer.tokens);
  assert.deepEqual([...a.checkpoint.weights.keys()], [...b.checkpoint.weights.keys()]);
  for (const [k, w] of a.checkpoint.weights) assert.deepEqual(w, b.checkpoint.weights.get(k), k);
  assert.deepEqual(a.tokenizerFiles, b.tokenizerFiles);
}

Deno.test("library: a model loads from in-memory files, a folder URL, a file map and a hub id", async () => {
  const files = tinyModelFiles();
  const fromFiles = await loadFromFiles(files, { seed: 1 });
  assert.equal(fromFiles.source, "model files");
  assert.deepEqual(fromFiles.labels, ["ham", "spam"]);
  const enc = fromFiles.tokenize("hello world.", undefined, 8);
  assert.equal(enc.inputIds.length, 8);
  const pair = fromFiles.tokenize("hello", "world", 8);
  assert.equal(pair.tokenTypeIds.filter((t) => t === 1).length, 2, "world [SEP] are segment 1");

  // A folder of PyTorch weights is refused in memory as from a folder, not trained from random.
  const torch = new Map([...files].filter(([f]) => f !== "model.safetensors"));
  torch.set("pytorch_model.bin", new Uint8Array(8));
  await assert.rejects(
    () => loadFromFiles(torch, { source: "bert", warn: () => {} }),
    (e) =>
      e instanceof UserError &&
      /^bert\/pytorch_model\.bin: PyTorch weights, which this engine cannot read/.test(e.message),
  );

  const web = serve(files, "/models/tiny/");
  const hub = serve(files, "/org/tiny/resolve/main/");
  try {
    const fromUrl = await loadFromUrl(`${web.url}/models/tiny/`, { seed: 1 });
    assert.equal(fromUrl.source, `${web.url}/models/tiny`);
    sameModel(fromUrl, fromFiles);
    const fromMap = await loadFromUrl(
      Object.fromEntries([...files.keys()].map((f) => [f, `${web.url}/models/tiny/${f}`])),
      { seed: 1 },
    );
    sameModel(fromMap, fromFiles);

    const cache = memoryCache();
    const a = await loadFromHub("org/tiny", { endpoint: hub.url, cache, seed: 1 });
    assert.equal(a.source, "org/tiny");
    sameModel(a, fromFiles);
    const fetched = [...hub.hits.entries()];
    // The second load reads every file from the cache, absent ones too (a .no_exist/ marker, as
    // huggingface_hub's): no request, so a model loaded once loads again offline.
    const b = await loadFromHub("org/tiny", { endpoint: hub.url, cache, seed: 1 });
    sameModel(b, fromFiles);
    assert.deepEqual([...hub.hits.entries()], fetched);
    const absent = fetched.map(([p]) => p.split("/").pop()!).filter((f) => !files.has(f));
    assert.ok(absent.length > 0, "the tiny model lacks some optional files");
    assert.deepEqual(
      cache.urls().filter((u) => u.includes("/.no_exist/")).map((u) => u.split("/").pop()).sort(),
      absent.sort(),
    );
    const offline: typeof fetch = () => Promise.reject(new TypeError("offline"));
    sameModel(
      await loadFromHub("org/tiny", { endpoint: hub.url, cache, fetch: offline, seed: 1 }),
      fromFiles,
    );

    await assert.rejects(
      () => loadFromHub("org/none", { endpoint: hub.url }),
      (e) => e instanceof UserError && /^org\/none was not found on http:\/\/127/.test(e.message),
    );
    await assert.rejects(
      () => loadFromUrl({ "config.json": `${web.url}/models/tiny/broken.json` }),
      (e) => e instanceof UserError && /broken\.json: HTTP 500$/.test(e.message),
    );
    await assert.rejects(
      () => loadFromUrl("http://127.0.0.1:1/models"),
      (e) =>
        e instanceof UserError && /^cannot reach http:\/\/127\.0\.0\.1:1\/models/.test(e.message),
    );
    await assert.rejects(() => loadFromHub("../etc"), /not a hub model id/);

    // A repo with only PyTorch weights is refused by name (a HEAD probe), not trained from random.
    const torchHub = serve(torch, "/org/torch/resolve/main/");
    try {
      await assert.rejects(
        () => loadFromHub("org/torch", { endpoint: torchHub.url, warn: () => {} }),
        (e) =>
          e instanceof UserError &&
          /\/org\/torch\/resolve\/main\/pytorch_model\.bin: PyTorch weights, which this engine cannot read/
            .test(e.message),
      );
    } finally {
      await torchHub.close();
    }
  } finally {
    await web.close();
    await hub.close();
  }
});

Deno.test("library: a trained classifier given its labels in another order predicts as before", async () => {
  const clf = await loadFromFiles(tinyModelFiles(), { seed: 1 });
  const texts = FIXTURE_MESSAGES.map(([, t]) => t);
  const before = await clf.predict(texts);
  clf.setLabels(["spam", "ham"]);
  const after = await clf.predict(texts);
  after.forEach((p, i) => {
    assert.equal(p.label, before[i].label, texts[i]);
    assert.ok(Math.abs(p.probs[0] - before[i].probs[1]) < 1e-6, texts[i]);
  });
  clf.release();
});

Deno.test("library: bad options and labels are one UserError naming them", async () => {
  const clf = await loadFromFiles(tinyModelFiles(), { seed: 1 });
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ mode: "all" }, /mode must be full, head or lora/],
    [{ mode: "full", batchSize: 0 }, /batchSize must be an integer ≥ 1, got 0/],
    [{ mode: "full", lr: -1 }, /lr must be in \(0, Infinity\), got -1/],
    [
      { mode: "full", maxLength: 99 },
      /maxLength 99 exceeds the model's max_position_embeddings 16/,
    ],
    [{ mode: "lora", lora: { dropout: 1 } }, /lora\.dropout must be in \[0, 1\), got 1/],
    [{ mode: "full", lr: "0.1" }, /lr must be in \(0, Infinity\), got "0\.1"/],
    [{ mode: "full", maxLength: 1 }, /^maxLength must be an integer ≥ 2/],
  ];
  for (const [o, re] of bad) {
    assert.throws(
      () => resolveTrainConfig(o as never, clf.config),
      (e) => e instanceof UserError && re.test(e.message),
    );
  }
  await assert.rejects(
    () => clf.train([{ text: "hi", label: "maybe" }], DATA, { mode: "head" }),
    /training example 1: label "maybe" is not one of the model's labels \(ham, spam\)/,
  );
  await assert.rejects(() => clf.adapterFiles(), /train in lora mode first/);
  // Not "train option" outside train; no metrics of an empty set (accuracy 0 would look real).
  assert.throws(
    () => clf.tokenize("hi", undefined, 1),
    (e) => e instanceof UserError && /^maxLength must be/.test(e.message),
  );
  await assert.rejects(
    () => clf.evaluate([]),
    (e) => e instanceof UserError && /no examples/.test(e.message),
  );
});

/** Trains `steps` steps in `mode` with a loss readback every `logEvery` steps; the onStep calls. */
async function trainSteps(
  clf: TextClassifier,
  mode: Mode,
  steps: number,
  opts: { logEvery?: number; signal?: AbortSignal; onStep?: (s: StepInfo) => void } = {},
) {
  const calls: StepInfo[] = [];
  const result = await clf.train(DATA, DATA, {
    mode,
    lr: 1e-2,
    batchSize: 7,
    maxLength: 12,
    epochs: steps,
    logEvery: opts.logEvery ?? 3,
    lora: { r: 2, alpha: 4 },
  }, {
    signal: opts.signal,
    onStep: (s) => {
      calls.push(s);
      opts.onStep?.(s);
    },
  });
  return { result, calls };
}

Deno.test("library: each mode trains; onStep is called once per step, in order, and the loss falls", async () => {
  await initGpu();
  const clf = await loadFromFiles(tinyModelFiles(), { seed: 42 });
  for (const mode of ["full", "head", "lora"] as const) {
    const { result, calls } = await trainSteps(clf, mode, 8);
    assert.equal(result.aborted, false);
    assert.equal(clf.mode, mode);
    assert.deepEqual(calls.map((c) => c.step), [1, 2, 3, 4, 5, 6, 7, 8], mode);
    assert.ok(calls.every((c) => c.totalSteps === 8 && c.epoch === c.step), mode);
    assert.deepEqual(calls.map((c) => c.examples), calls.map((c) => 7 * c.step), mode);
    assert.deepEqual(calls.map((c) => c.tokens), calls.map((c) => 7 * 12 * c.step), mode);
    assert.deepEqual(calls.map((c) => c.loss), result.losses, mode);
    const losses = calls.map((c) => c.loss);
    assert.ok(losses.every(Number.isFinite), `${mode}: ${losses}`);
    assert.ok(losses.at(-1)! < losses[0], `${mode}: the loss falls: ${losses}`);
    assert.ok(calls.every((c, i) => c.elapsedSeconds >= (calls[i - 1]?.elapsedSeconds ?? 0)));
    for (const c of calls) {
      const eta = c.elapsedSeconds / c.step * (c.totalSteps - c.step);
      assert.ok(Math.abs(c.etaSeconds - eta) <= 1e-9 * Math.max(1, eta), `${mode} eta`);
    }
    assert.equal(calls.at(-1)!.etaSeconds, 0);
    assert.equal(result.epochs.length, 8);
    // evaluate() on the validation set gives what training's last validation reported.
    const metrics = await clf.evaluate(DATA, { maxLength: 12 });
    assert.deepEqual(metrics, result.epochs.at(-1)!.metrics, mode);
    const preds = await clf.predict(DATA.map((d) => d.text), { maxLength: 12 });
    for (const p of preds) {
      assert.ok(Math.abs(p.probs.reduce((a, b) => a + b, 0) - 1) < 1e-6);
      assert.equal(p.labelId, p.probs.indexOf(Math.max(...p.probs)));
      assert.equal(p.label, ["ham", "spam"][p.labelId]);
      // softmax of the logits, in float64 from the definition
      const e = p.logits.map((l) => Math.exp(l - Math.max(...p.logits)));
      e.forEach((v, i) => assert.ok(Math.abs(v / e.reduce((a, b) => a + b) - p.probs[i]) < 1e-12));
    }
    const correct = preds.filter((p, i) => p.label === DATA[i].label).length;
    assert.equal(correct / DATA.length, metrics.accuracy);
    const saved = mode === "lora" ? await clf.adapterFiles() : await clf.checkpointFiles();
    assert.deepEqual(
      [...saved.keys()].sort(),
      mode === "lora"
        ? ["adapter_config.json", "adapter_model.safetensors"]
        : ["config.json", "model.safetensors", "tokenizer_config.json", "vocab.txt"],
    );
  }
  await assert.rejects(() => clf.checkpointFiles(), /carries LoRA; save it with adapterFiles/);
  clf.release();
});

Deno.test("library: an AbortSignal stops at a step boundary; the model is the one of that step and saves", async () => {
  await initGpu();
  const clf = await loadFromFiles(tinyModelFiles(), { seed: 42 });
  const stop = new AbortController();
  const { result, calls } = await trainSteps(clf, "full", 8, {
    logEvery: 1,
    signal: stop.signal,
    onStep: (s) => s.step === 3 && stop.abort(),
  });
  assert.equal(result.aborted, true);
  assert.equal(result.abortedAtStep, 3);
  assert.deepEqual(calls.map((c) => c.step), [1, 2, 3]);
  assert.equal(result.losses.length, 3);
  // Steps 1 and 2 ended epochs 1 and 2 (one batch each); step 3 ended epoch 3, whose evaluation
  // the abort skips.
  assert.equal(result.epochs.length, 2);
  assert.equal(result.evaluations!.length, 2);
  const aborted = await clf.checkpointFiles();
  assert.equal((await clf.predict(["hello world."], { maxLength: 12 })).length, 1);
  // The same three steps run to their end: the same weights, byte for byte.
  const whole = await trainSteps(clf, "full", 3);
  assert.equal(whole.result.aborted, false);
  assert.deepEqual(await clf.checkpointFiles(), aborted);
  // Aborted before the first step: no step at all, the loaded weights.
  const { result: none } = await trainSteps(clf, "full", 8, { signal: AbortSignal.abort() });
  assert.equal(none.abortedAtStep, 0);
  assert.deepEqual(none.losses, []);
  assert.deepEqual(await clf.checkpointFiles(), await clf.checkpointFiles({ initial: true }));
  clf.release();
});

Deno.test("library: checkpoint and adapter bytes equal the files deno task train writes for the same run", async () => {
  const dir = await Deno.makeTempDir();
  await writeTinyCheckpoint(`${dir}/model`);
  await Deno.writeTextFile(`${dir}/data.tsv`, fixtureTsv());
  const common = ["--batch-size", "3", "--max-steps", "4", "--lora-rank", "2", "--tune", "off"];
  const cli = await runTask("train", [
    "--model",
    `${dir}/model`,
    "--data",
    `${dir}/data.tsv`,
    "--val-data",
    `${dir}/data.tsv`,
    "--mode",
    "all",
    "--out",
    `${dir}/cli`,
    ...common,
  ]);
  assert.equal(cli.code, 0, cli.stderr);
  await initGpu();
  const clf = await loadModel(`${dir}/model`, { seed: 42 });
  clf.setLabels(["ham", "spam"]);
  for (const mode of ["full", "head", "lora"] as const) {
    const result = await clf.train(DATA, DATA, {
      mode,
      batchSize: 3,
      maxSteps: 4,
      lora: { r: 2 },
    });
    const cliMetrics = JSON.parse(await Deno.readTextFile(`${dir}/cli/${mode}/metrics.json`));
    assert.deepEqual(result.losses, cliMetrics.losses, mode);
    const files = mode === "lora" ? await clf.adapterFiles() : await clf.checkpointFiles();
    for (const [name, bytes] of files) {
      assert.deepEqual(bytes, await Deno.readFile(`${dir}/cli/${mode}/${name}`), `${mode}/${name}`);
    }
    await writeFiles(`${dir}/lib/${mode}`, files);
    for (const name of files.keys()) {
      assert.deepEqual(
        await Deno.readFile(`${dir}/lib/${mode}/${name}`),
        await Deno.readFile(`${dir}/cli/${mode}/${name}`),
      );
    }
  }
  // What the library saved loads again (with its adapter) and predicts as the trained model did.
  const trained = await clf.predict(["claim your prize"], { maxLength: 12 });
  const reloaded = await loadModel(`${dir}/model`, { adapter: `${dir}/lib/lora` });
  assert.equal(reloaded.mode, null);
  assert.deepEqual(await reloaded.predict(["claim your prize"], { maxLength: 12 }), trained);
  clf.release();
  reloaded.release();
});

Deno.test("library: the README's examples type-check against mod.ts and deno.ts", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--quiet", "--doc-only", "README.md"],
    cwd: new URL("../", import.meta.url).pathname,
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
});

Deno.test("library: resume state kept by any ResumeStore (here in memory) continues a stopped run to the uninterrupted run's bytes", async () => {
  await initGpu();
  const clf = await loadFromFiles(tinyModelFiles(), { seed: 42 });
  const saved: { step: number; files: Map<string, Uint8Array> }[] = [];
  const store: ResumeStore = {
    load: () => {
      const last = saved.at(-1);
      if (!last) throw new UserError("memory: nothing saved");
      return Promise.resolve({ where: `memory/checkpoint-${last.step}`, files: last.files });
    },
    save: (step, files) => Promise.resolve(void saved.push({ step, files })),
  };
  const options = { mode: "full" as const, lr: 1e-2, batchSize: 3, maxLength: 12, maxSteps: 6 };
  const opts = { ...options, evalSteps: 2, logEvery: 1 };
  await assert.rejects(
    () => clf.train(DATA, DATA, opts, { resumeStore: store, resume: true }),
    /memory: nothing saved/,
  );
  const stop = new AbortController();
  const first = await clf.train(DATA, DATA, opts, {
    resumeStore: store,
    signal: stop.signal,
    onStep: (s) => s.step === 3 && stop.abort(),
  });
  assert.equal(first.abortedAtStep, 3);
  assert.deepEqual(saved.map((s) => s.step), [2]);
  assert.deepEqual([...saved[0].files.keys()].sort(), [
    "optimizer.safetensors",
    "trainable.safetensors",
    "trainer_state.json",
  ]);
  const steps: number[] = [];
  const resumed = await clf.train(DATA, DATA, opts, {
    resumeStore: store,
    resume: true,
    onStep: (s) => {
      steps.push(s.step);
      // The rate counts this call's steps only (3 onwards), not the 2 the stopped run did.
      assert.ok(Math.abs(s.etaSeconds - s.elapsedSeconds / (s.step - 2) * (6 - s.step)) < 1e-9);
    },
  });
  assert.deepEqual(steps, [3, 4, 5, 6]);
  assert.equal(resumed.aborted, false);
  const afterResume = await clf.checkpointFiles();
  await clf.train(DATA, DATA, opts);
  assert.deepEqual(afterResume, await clf.checkpointFiles());
  // Another run's state is refused by name.
  await assert.rejects(
    () => clf.train(DATA, DATA, { ...opts, lr: 1e-3 }, { resumeStore: store, resume: true }),
    (e) =>
      e instanceof UserError &&
      /^memory\/checkpoint-6: cannot resume, this run differs in lr \(saved 0\.01, now 0\.001\)/
        .test(e.message),
  );
  clf.release();
});
