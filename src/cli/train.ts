// deno task train --model DIR|PRESET --data FILE [--val-data FILE] --mode full|head|lora|all [options] [--out DIR]
import { intFlag, maxLength, numFlag, parseFlags, run } from "./common.ts";
import { UserError } from "../errors.ts";
import { initGpu } from "../gpu/kernel.ts";
import { getAdapterName } from "../gpu/device.ts";
import { loadCheckpoint, saveCheckpoint } from "../bert/checkpoint.ts";
import { HEAD_KEYS } from "../bert/params.ts";
import { defaultSmsZip, type Example, stratifiedSplit } from "../data/sms.ts";
import { DATA_FLAGS, dataOptions } from "./data_flags.ts";
import { loadRecords, loadSummary } from "../data/dataset.ts";
import {
  applyLabels,
  checkSeenInTraining,
  chooseLabels,
  oneClassWarning,
  parseLabelsFlag,
  toExamples,
} from "../data/labels.ts";
import { computeMetrics } from "../train/metrics.ts";
import { predictLogits, softmax } from "../train/inference.ts";
import { metricsReport } from "../train/report.ts";
import { parseTargets } from "../nn/lora.ts";
import { saveAdapter } from "../io/peft.ts";
import { writeJsonAtomic } from "../io/atomic.ts";
import {
  encodeAll,
  type Mode,
  type ModeResult,
  type TrainConfig,
  trainMode,
} from "../train/trainer.ts";
import { epochTable, modeTable } from "../train/report.ts";
import { BertForSequenceClassification } from "../bert/model.ts";
import { writeHtmlReport } from "../train/html_report.ts";

await run(async () => {
  const { values: v } = parseFlags("train", {
    model: { type: "string", default: "bert-base-uncased" },
    tokenizer: { type: "string" },
    data: { type: "string" },
    "val-data": { type: "string" },
    mode: { type: "string", default: "all" },
    epochs: { type: "string" },
    "batch-size": { type: "string" },
    "max-length": { type: "string" },
    lr: { type: "string" },
    optimizer: { type: "string", default: "adamw" },
    "weight-decay": { type: "string" },
    seed: { type: "string" },
    "val-ratio": { type: "string" },
    "max-steps": { type: "string" },
    "no-shuffle": { type: "boolean", default: false },
    "warmup-ratio": { type: "string" },
    "max-grad-norm": { type: "string" },
    "lora-rank": { type: "string" },
    "lora-alpha": { type: "string" },
    "lora-dropout": { type: "string" },
    "lora-targets": { type: "string", default: "all-linear" },
    "train-head": { type: "boolean", default: false },
    "eval-batch-size": { type: "string" },
    "log-every": { type: "string" },
    out: { type: "string" },
    report: { type: "string" },
    // Data files and labels (issue 11): formats, columns, encodings, label order, a test set.
    ...DATA_FLAGS,
    "test-data": { type: "string" },
    labels: { type: "string" },
  });
  const modes: Mode[] = v.mode === "all" ? ["full", "head", "lora"] : [v.mode as Mode];
  if (!["full", "head", "lora", "all"].includes(v.mode)) {
    throw new UserError(`--mode must be full, head, lora or all, got "${v.mode}"`);
  }
  if (v.optimizer !== "adamw" && v.optimizer !== "sgd") {
    throw new UserError(`--optimizer must be adamw or sgd, got "${v.optimizer}"`);
  }
  const seed = intFlag("seed", v.seed, 42);
  const command = ["deno", "task", "train", ...Deno.args].join(" ");
  const positive = (name: string, n: number) => {
    if (!(n > 0)) throw new UserError(`--${name} must be positive, got ${n}`);
    return n;
  };
  const dataOpts = dataOptions(v);
  const trainRecs = await loadRecords(v.data ?? (await defaultSmsZip()), dataOpts);
  const valRecs = v["val-data"] ? await loadRecords(v["val-data"], dataOpts) : null;
  const testRecs = v["test-data"] ? await loadRecords(v["test-data"], dataOpts) : null;
  for (const r of [trainRecs, valRecs, testRecs]) if (r) console.log(loadSummary(r));
  const ck = await loadCheckpoint(v.model, { seed, tokenizerDir: v.tokenizer });
  const labels = chooseLabels(trainRecs, {
    labels: parseLabelsFlag(v.labels),
    modelLabels: ck.config.id2label,
  });
  const all = toExamples(trainRecs, labels, "training");
  const { train, val } = valRecs
    ? { train: all, val: toExamples(valRecs, labels, "training") }
    : stratifiedSplit(all, numFlag("val-ratio", v["val-ratio"], 0.2), seed, trainRecs.where);
  if (valRecs) checkSeenInTraining(val, train, valRecs, labels);
  let test: Example[] | null = null;
  if (testRecs) {
    test = toExamples(testRecs, labels, "training");
    checkSeenInTraining(test, train, testRecs, labels);
  }
  const oneClass = oneClassWarning(train, labels);
  if (oneClass) console.error(oneClass);
  applyLabels(ck, labels, seed);
  const cfgBase = {
    epochs: positive("epochs", intFlag("epochs", v.epochs, 2)),
    batchSize: positive("batch-size", intFlag("batch-size", v["batch-size"], 16)),
    maxLength: maxLength(v["max-length"], ck.config),
    lr: positive("lr", numFlag("lr", v.lr, 5e-5)),
    optimizer: v.optimizer as "adamw" | "sgd",
    weightDecay: numFlag("weight-decay", v["weight-decay"], v.optimizer === "sgd" ? 0 : 0.01),
    seed,
    maxSteps: v["max-steps"] === undefined
      ? null
      : positive("max-steps", intFlag("max-steps", v["max-steps"], 0)),
    shuffle: !v["no-shuffle"],
    warmupRatio: numFlag("warmup-ratio", v["warmup-ratio"], 0),
    maxGradNorm: v["max-grad-norm"] === undefined
      ? null
      : positive("max-grad-norm", numFlag("max-grad-norm", v["max-grad-norm"], 0)),
    lora: {
      r: intFlag("lora-rank", v["lora-rank"], 8),
      alpha: numFlag("lora-alpha", v["lora-alpha"], 16),
      dropout: numFlag("lora-dropout", v["lora-dropout"], 0),
      targets: parseTargets(v["lora-targets"]),
    },
    trainHead: v["train-head"],
    evalBatchSize: positive(
      "eval-batch-size",
      intFlag("eval-batch-size", v["eval-batch-size"], 64),
    ),
    logEvery: positive("log-every", intFlag("log-every", v["log-every"], 10)),
  };
  await initGpu();
  console.log(`adapter: ${getAdapterName()}`);
  console.log(
    `model: ${ck.source} (${ck.config.numHiddenLayers} layers, hidden ${ck.config.hiddenSize}); data: ${train.length} train / ${val.length} validation messages; max length ${cfgBase.maxLength}`,
  );
  const randomBase = ck.newlyInitialized.some((k) => !HEAD_KEYS.includes(k));
  const results: ModeResult[] = [];
  for (const mode of modes) {
    const cfg: TrainConfig = { ...cfgBase, mode };
    const outDir = v.out ? (modes.length > 1 ? `${v.out}/${mode}` : v.out) : null;
    let baseSaved = false;
    const { result, model } = await trainMode(ck, train, val, cfg, {
      onEpoch: async (model, _r, sofar) => {
        if (!outDir) return;
        if (mode === "lora") {
          // A randomly initialised base cannot be fetched again: it travels with the adapter.
          if (randomBase && !baseSaved) {
            const base = new BertForSequenceClassification(ck.config, ck.weights);
            await saveCheckpoint(`${outDir}/base_model`, base, ck.tokenizerDir);
            base.release();
            baseSaved = true;
          }
          await saveAdapter(outDir, model, {
            spec: cfg.lora,
            baseModel: randomBase ? await Deno.realPath(`${outDir}/base_model`) : ck.source,
            saveHead: cfg.trainHead || ck.newlyInitialized.includes("classifier.weight"),
          });
        } else {
          await saveCheckpoint(outDir, model, ck.tokenizerDir);
        }
        await writeJsonAtomic(`${outDir}/metrics.json`, {
          mode,
          adapter: getAdapterName(),
          model: ck.source,
          seed,
          command,
          trainable_params: sofar.trainableParams,
          options: { ...cfg },
          epochs: sofar.epochs,
          losses: sofar.losses,
        });
      },
    });
    if (test) {
      // The final model on the test file, with the metrics evaluate prints.
      const logits = await predictLogits(
        model,
        encodeAll(ck, test, cfg.maxLength),
        cfg.evalBatchSize,
      );
      const m = computeMetrics(logits.map((l) => softmax(l)), test.map((e) => e.label));
      console.log(`\n[${mode}] test: ${testRecs!.where}\n${metricsReport(m, labels)}`);
    }
    model.release();
    results.push(result);
    console.log(`\n[${mode}] epochs\n${epochTable(result)}\n`);
    const last = result.epochs[result.epochs.length - 1];
    if (last) {
      console.log(`[${mode}] validation, last epoch\n${metricsReport(last.metrics, labels)}\n`);
    }
  }
  console.log(`modes compared (adapter: ${getAdapterName()})\n${modeTable(results)}`);
  if (v.report) {
    await writeHtmlReport(v.report, results, {
      adapter: getAdapterName(),
      model: ck.source,
      command,
    });
    console.log(`report: ${v.report}`);
  }
});
