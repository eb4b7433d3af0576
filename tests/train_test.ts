// Training through the command line: one SGD step with lr 1 moves every trainable weight by
// exactly minus its gradient (finite differences of the float64 reference), in all three modes;
// runs are deterministic; a saved LoRA adapter reloads and merges with identical predictions.
import assert from "node:assert/strict";
import { readSafetensors } from "../src/io/safetensors.ts";
import { readTokenizer } from "../src/bert/checkpoint.ts";
import { bertForwardRef, crossEntropyRef, type RefLora } from "./reference/bert_ref.ts";
import {
  FIXTURE_MESSAGES,
  fixtureTsv,
  refConfig,
  runTask,
  toF64,
  writeTinyCheckpoint,
} from "./bert_fixture.ts";
import { fdGrad, isFile, relError } from "./helpers.ts";
import { balancedClassWeights } from "../src/train/class_weights.ts";

const MESSAGES = FIXTURE_MESSAGES;

async function fixture(config: Record<string, unknown> = {}) {
  const dir = await Deno.makeTempDir();
  const ck = await writeTinyCheckpoint(`${dir}/model`, { seed: 21, config });
  await Deno.writeTextFile(`${dir}/data.tsv`, fixtureTsv());
  const tok = await readTokenizer(`${dir}/model`);
  const enc = MESSAGES.map(([, t]) => tok.encode(t, 16));
  return {
    dir,
    ...ck,
    ids: enc.map((e) => e.inputIds),
    mask: enc.map((e) => e.attentionMask),
    labels: MESSAGES.map(([l]) => (l === "spam" ? 1 : 0)),
  };
}

const sgdStep = (dir: string, mode: string, out: string, lr = "1", extra: string[] = []) =>
  runTask("train", [
    "--model",
    `${dir}/model`,
    "--data",
    `${dir}/data.tsv`,
    "--val-data",
    `${dir}/data.tsv`,
    "--mode",
    mode,
    "--optimizer",
    "sgd",
    "--lr",
    lr,
    "--weight-decay",
    "0",
    "--max-steps",
    "1",
    "--batch-size",
    String(MESSAGES.length),
    "--no-shuffle",
    "--epochs",
    "1",
    "--out",
    out,
    ...extra,
  ]);

// One f32 step vs float64 finite differences: the 1e-3 per tensor.
const TOL = 1e-3;

Deno.test("train full, sgd lr 1, one step over all data: every weight moves by exactly -gradient", async () => {
  const f = await fixture();
  const r = await sgdStep(f.dir, "full", `${f.dir}/full`);
  assert.equal(r.code, 0, r.stderr);
  const saved = await readSafetensors(`${f.dir}/full/model.safetensors`);
  const ref = toF64(f.weights);
  const loss = () =>
    crossEntropyRef(bertForwardRef(refConfig(f.config), ref, f.ids, f.mask), f.labels);
  for (const [name, w0] of f.weights) {
    const g = fdGrad(ref.get(name)!, loss);
    const delta = saved.get(name)!.data.map((v, i) => v - w0[i]);
    // The key bias's gradient is exactly zero (softmax shift invariance): it must not move.
    if (name.endsWith("attention.self.key.bias")) {
      assert.ok(delta.every((d) => Math.abs(d) < 1e-6), name);
    } else {assert.ok(
        relError(
          delta,
          g.map((v) => -v),
        ) <= TOL,
        `${name}: ${relError(delta, g.map((v) => -v))}`,
      );}
  }
});

Deno.test("train head, sgd lr 1, one step: the classifier moves by -gradient, every other tensor is bit-identical", async () => {
  const f = await fixture();
  const r = await sgdStep(f.dir, "head", `${f.dir}/head`);
  assert.equal(r.code, 0, r.stderr);
  const saved = await readSafetensors(`${f.dir}/head/model.safetensors`);
  const ref = toF64(f.weights);
  const loss = () =>
    crossEntropyRef(bertForwardRef(refConfig(f.config), ref, f.ids, f.mask), f.labels);
  for (const [name, w0] of f.weights) {
    const got = saved.get(name)!.data;
    if (!name.startsWith("classifier.")) {
      assert.deepEqual(got, w0, `${name} changed in head mode`);
      continue;
    }
    const g = fdGrad(ref.get(name)!, loss);
    assert.ok(relError(got.map((v, i) => v - w0[i]), g.map((v) => -v)) <= TOL, name);
  }
});

Deno.test("train lora, sgd lr 1, one step: lora_B and the classifier (PEFT modules_to_save) move by -gradient; lora_A is independent of lr", async () => {
  const f = await fixture();
  const [r1, r2] = [
    await sgdStep(f.dir, "lora", `${f.dir}/lora1`),
    await sgdStep(f.dir, "lora", `${f.dir}/lora2`, "2"),
  ];
  assert.equal(r1.code, 0, r1.stderr);
  assert.equal(r2.code, 0, r2.stderr);
  const a1 = await readSafetensors(`${f.dir}/lora1/adapter_model.safetensors`);
  const a2 = await readSafetensors(`${f.dir}/lora2/adapter_model.safetensors`);
  const cfg = JSON.parse(await Deno.readTextFile(`${f.dir}/lora1/adapter_config.json`));
  assert.deepEqual(Object.keys(cfg), [...Object.keys(cfg)].sort(), "config keys sorted");
  assert.equal(cfg.peft_type, "LORA");
  assert.equal(cfg.r, 8);
  assert.equal(cfg.lora_alpha, 16);
  assert.equal(cfg.task_type, "SEQ_CLS");
  assert.deepEqual(cfg.modules_to_save, ["classifier", "score"]);
  const lora: RefLora = { r: 8, scale: 2, adapters: new Map() };
  for (const [k, t] of a1) {
    const m = k.match(/^base_model\.model\.(.+)\.lora_A\.weight$/);
    if (!m) continue;
    assert.deepEqual(t.data, a2.get(k)!.data, `${k} depends on lr`);
    lora.adapters.set(m[1], {
      A: Float64Array.from(t.data),
      B: new Float64Array(a1.get(k.replace("lora_A", "lora_B"))!.data.length),
    });
  }
  assert.equal(lora.adapters.size, 2 * 6 + 1, "every Linear of 2 layers and the pooler");
  const ref = toF64(f.weights);
  const loss = () =>
    crossEntropyRef(bertForwardRef(refConfig(f.config), ref, f.ids, f.mask, lora), f.labels);
  for (const k of ["classifier.weight", "classifier.bias"]) {
    const g = fdGrad(ref.get(k)!, loss);
    const delta = a1.get(`base_model.model.${k}`)!.data.map((v, i) => v - f.weights.get(k)![i]);
    assert.ok(
      relError(delta, g.map((v) => -v)) <= TOL,
      `${k}: ${relError(delta, g.map((v) => -v))}`,
    );
  }
  for (const [path, ad] of lora.adapters) {
    const g = fdGrad(ad.B, loss);
    const got = a1.get(`base_model.model.${path}.lora_B.weight`)!.data;
    assert.ok(
      relError(got, g.map((v) => -v)) <= TOL,
      `${path}.lora_B: ${relError(got, g.map((v) => -v))}`,
    );
    const got2 = a2.get(`base_model.model.${path}.lora_B.weight`)!.data;
    assert.ok(relError(got2, got.map((v) => 2 * v)) <= 1e-6, `${path}.lora_B scales with lr`);
  }
});

Deno.test("train: the same command twice saves identical weights (seeded init, split, shuffling, dropout)", async () => {
  const f = await fixture({ hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 });
  const args = [
    "--model",
    `${f.dir}/model`,
    "--data",
    `${f.dir}/data.tsv`,
    "--val-ratio",
    "0.3",
    "--mode",
    "full",
    "--batch-size",
    "2",
    "--epochs",
    "2",
    "--lr",
    "1e-3",
  ];
  const a = await runTask("train", [...args, "--out", `${f.dir}/a`]);
  const b = await runTask("train", [...args, "--out", `${f.dir}/b`]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.deepEqual(
    await Deno.readFile(`${f.dir}/a/model.safetensors`),
    await Deno.readFile(`${f.dir}/b/model.safetensors`),
  );
  const metrics = JSON.parse(await Deno.readTextFile(`${f.dir}/a/metrics.json`));
  assert.equal(metrics.epochs.length, 2);
  assert.equal(metrics.seed, 42);
  assert.equal(metrics.mode, "full");
  assert.ok(metrics.gpu_adapter.length > 0);
  const c = await runTask("train", [...args, "--out", `${f.dir}/c`, "--seed", "7"]);
  assert.equal(c.code, 0, c.stderr);
  assert.notDeepEqual(
    await Deno.readFile(`${f.dir}/a/model.safetensors`),
    await Deno.readFile(`${f.dir}/c/model.safetensors`),
  );
});

Deno.test("lora adapter: predict --adapter and the merged checkpoint give the same logits (≤ 1e-5); a headless base saves its head", async () => {
  const f = await fixture();
  // A base without a classifier: the fresh head must travel with the adapter.
  const dir = await Deno.makeTempDir();
  await writeTinyCheckpoint(`${dir}/base`, {
    seed: 21,
    rename: (k) => (k.startsWith("classifier") ? null : k),
  });
  const tr = await runTask("train", [
    "--model",
    `${dir}/base`,
    "--data",
    `${f.dir}/data.tsv`,
    "--val-data",
    `${f.dir}/data.tsv`,
    "--mode",
    "lora",
    "--lr",
    "0.05",
    "--max-steps",
    "3",
    "--batch-size",
    "3",
    "--out",
    `${dir}/lora`,
    "--lora-rank",
    "4",
    "--lora-alpha",
    "8",
  ]);
  assert.equal(tr.code, 0, tr.stderr);
  const adapter = await readSafetensors(`${dir}/lora/adapter_model.safetensors`);
  assert.ok(
    adapter.has("base_model.model.classifier.weight") &&
      adapter.has("base_model.model.classifier.bias"),
  );
  assert.deepEqual(
    JSON.parse(await Deno.readTextFile(`${dir}/lora/adapter_config.json`)).modules_to_save,
    ["classifier", "score"],
  );
  const m = await runTask("merge", [
    "--model",
    `${dir}/base`,
    "--adapter",
    `${dir}/lora`,
    "--out",
    `${dir}/merged`,
  ]);
  assert.equal(m.code, 0, m.stderr);
  const texts = MESSAGES.map(([, t]) => t);
  const viaAdapter = await runTask("predict", [
    "--model",
    `${dir}/base`,
    "--adapter",
    `${dir}/lora`,
    "--json",
    ...texts,
  ]);
  const viaMerged = await runTask("predict", ["--model", `${dir}/merged`, "--json", ...texts]);
  const seeded = await runTask("predict", [
    "--model",
    `${dir}/base`,
    "--adapter",
    `${dir}/lora`,
    "--json",
    "--seed",
    "999",
    ...texts,
  ]);
  assert.equal(viaAdapter.code, 0, viaAdapter.stderr);
  const parse = (s: string) => s.trim().split("\n").map((l) => JSON.parse(l).logits as number[]);
  const la = parse(viaAdapter.stdout), lm = parse(viaMerged.stdout), ls = parse(seeded.stdout);
  let maxDiff = 0;
  la.forEach((row, i) =>
    row.forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - lm[i][j]))))
  );
  assert.ok(maxDiff <= 1e-5, `max abs logit difference ${maxDiff}`);
  assert.deepEqual(ls, la, "the saved head, not a seed-dependent fresh one, is used");
  assert.ok(
    la.some((row) => Math.abs(row[0] - row[1]) > 1e-4),
    "the adapter changed the predictions",
  );
});

// ---- The training loop of issue 11: the best checkpoint, early stopping, class weights.

const loopArgs = (dir: string, out: string, extra: string[]) => [
  "--model",
  `${dir}/model`,
  "--data",
  `${dir}/data.tsv`,
  "--val-data",
  `${dir}/data.tsv`,
  "--mode",
  "full",
  "--batch-size",
  "2",
  "--epochs",
  "3",
  "--out",
  out,
  ...extra,
];

interface Evaluation {
  step: number;
  epoch: number;
  metrics: Record<string, number | null>;
}

Deno.test("train --eval-steps: best checkpoint = the evaluation metrics.json names; its metric is the max and OUT/best holds that step's weights", async () => {
  const f = await fixture({ hidden_dropout_prob: 0.1 });
  // Constant lr (no warmup), so a run cut at the best step with --max-steps trains identically.
  const extra = ["--lr", "0.05", "--eval-steps", "2", "--metric-for-best", "auroc"];
  const r = await runTask("train", loopArgs(f.dir, `${f.dir}/run`, extra));
  assert.equal(r.code, 0, r.stderr);
  const m = JSON.parse(await Deno.readTextFile(`${f.dir}/run/metrics.json`));
  const evs: Evaluation[] = m.evaluations;
  // 4 steps an epoch: every 2 steps, the epoch ends included once each.
  assert.deepEqual(evs.map((e) => e.step), [2, 4, 6, 8, 10, 12]);
  assert.deepEqual(evs.map((e) => e.epoch), [0.5, 1, 1.5, 2, 2.5, 3]);
  const values = evs.map((e) => e.metrics.auroc!);
  const max = Math.max(...values), first = values.indexOf(max);
  assert.equal(m.best.metric, "auroc");
  assert.equal(m.best.value, max);
  assert.equal(m.best.step, evs[first].step, "ties keep the earlier evaluation");
  assert.equal(m.best.epoch, evs[first].epoch);
  assert.equal(m.best.dir, "best");
  assert.ok(m.best.step < 12, `the best should not be the last evaluation here: ${values}`);
  const cut = await runTask("train", [
    ...loopArgs(f.dir, `${f.dir}/cut`, extra),
    "--max-steps",
    String(m.best.step),
  ]);
  assert.equal(cut.code, 0, cut.stderr);
  assert.deepEqual(
    await Deno.readFile(`${f.dir}/run/best/model.safetensors`),
    await Deno.readFile(`${f.dir}/cut/model.safetensors`),
  );
  assert.notDeepEqual(
    await Deno.readFile(`${f.dir}/run/best/model.safetensors`),
    await Deno.readFile(`${f.dir}/run/model.safetensors`),
  );
  assert.ok(isFile(`${f.dir}/run/best/config.json`), "best is a loadable model folder");
  const bad = await runTask("train", loopArgs(f.dir, `${f.dir}/bad`, ["--metric-for-best", "f2"]));
  assert.equal(bad.code, 1);
  assert.match(
    bad.stderr,
    /^error: --metric-for-best f2: no such metric; the metrics are .*f1.*\n$/,
  );
});

Deno.test("train --early-stopping-patience 2: stops after two evaluations without improvement (EarlyStoppingCallback)", async () => {
  const f = await fixture();
  // A learning rate this small leaves F1 where it starts, so no evaluation improves on the first.
  const extra = ["--lr", "1e-6", "--eval-steps", "1", "--early-stopping-patience", "2"];
  const r = await runTask("train", loopArgs(f.dir, `${f.dir}/run`, extra));
  assert.equal(r.code, 0, r.stderr);
  const m = JSON.parse(await Deno.readTextFile(`${f.dir}/run/metrics.json`));
  const values: number[] = m.evaluations.map((e: Evaluation) => e.metrics.f1);
  // The callback's rule from its definition: strictly better resets the counter, else +1.
  let best = -Infinity, counter = 0, stopAt = -1;
  for (let i = 0; i < values.length && stopAt < 0; i++) {
    if (values[i] > best) [best, counter] = [values[i], 0];
    else if (++counter >= 2) stopAt = i;
  }
  assert.ok(stopAt >= 0, `never stopped: ${values}`);
  assert.equal(values.length, stopAt + 1, "no evaluation after the stop");
  assert.equal(m.stopped_early_at_step, m.evaluations[stopAt].step);
  assert.ok(m.stopped_early_at_step < 12);
  assert.match(r.stdout, /early stopping at step \d+: f1 did not improve/);
});

Deno.test("balancedClassWeights: n_samples / (n_classes · bincount); an absent class is named", () => {
  const labels = [0, 0, 0, 2, 1, 0, 2];
  assert.deepEqual(balancedClassWeights(labels, 3), [7 / (3 * 4), 7 / (3 * 1), 7 / (3 * 2)]);
  assert.throws(
    () => balancedClassWeights([0, 0, 2], 3, ["a", "b", "c"]),
    /training data has no example of b/,
  );
});

Deno.test("train head --class-weights balanced, sgd lr 1, one step: the classifier moves by -gradient of the weighted loss", async () => {
  const f = await fixture();
  const r = await sgdStep(f.dir, "head", `${f.dir}/head`, "1", ["--class-weights", "balanced"]);
  assert.equal(r.code, 0, r.stderr);
  const saved = await readSafetensors(`${f.dir}/head/model.safetensors`);
  const n = f.labels.length, count = [0, 1].map((c) => f.labels.filter((l) => l === c).length);
  const w = count.map((k) => n / (2 * k));
  assert.notEqual(w[0], w[1], "the fixture is imbalanced");
  const ref = toF64(f.weights);
  // torch's CrossEntropyLoss(weight=w), reduction mean: Σ w_y·nll / Σ w_y.
  const loss = () => {
    const logits = bertForwardRef(refConfig(f.config), ref, f.ids, f.mask);
    let num = 0, den = 0;
    logits.forEach((row, i) => {
      const mx = Math.max(...row);
      const nll = mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0)) - row[f.labels[i]];
      num += w[f.labels[i]] * nll;
      den += w[f.labels[i]];
    });
    return num / den;
  };
  for (const name of ["classifier.weight", "classifier.bias"]) {
    const g = fdGrad(ref.get(name)!, loss);
    const delta = saved.get(name)!.data.map((v, i) => v - f.weights.get(name)![i]);
    assert.ok(
      relError(delta, g.map((v) => -v)) <= TOL,
      `${name}: ${relError(delta, g.map((v) => -v))}`,
    );
  }
});
