// deno task train --model DIR|PRESET --data FILE [--val-data FILE] --mode full|head|lora|all [options] [--out DIR]
import { intFlag, maxLength, numFlag, parseFlags, run } from "./common.ts";
import { UserError } from "../errors.ts";
import { initGpu } from "../gpu/kernel.ts";
import { getAdapterName } from "../gpu/device.ts";
import { loadCheckpoint, saveCheckpoint } from "../bert/checkpoint.ts";
import { HEAD_KEYS } from "../bert/params.ts";
import { defaultSmsZip, loadSms, stratifiedSplit } from "../data/sms.ts";
import { parseTargets } from "../nn/lora.ts";
import { saveAdapter } from "../io/peft.ts";
import { writeJsonAtomic } from "../io/atomic.ts";
import {
  defaultMetricForBest,
  type Mode,
  type ModeResult,
  type TrainConfig,
  trainMode,
} from "../train/trainer.ts";
import { latestCheckpoint, recoverDir, writeDirAtomic } from "../train/checkpointing.ts";
import { epochTable, modeTable } from "../train/report.ts";
import { BertForSequenceClassification } from "../bert/model.ts";
import { writeHtmlReport } from "../train/html_report.ts";

// ---- Training-loop flags (issue 11): evaluation every N steps, the best checkpoint in OUT/best,
// early stopping, resuming from OUT's checkpoint-<step>/, class-weighted loss.
const LOOP_FLAGS = {
  "eval-steps": { type: "string" },
  "metric-for-best": { type: "string" },
  "early-stopping-patience": { type: "string" },
  resume: { type: "string" },
  "class-weights": { type: "string" },
} as const;

function loopOptions(v: { [K in keyof typeof LOOP_FLAGS]?: string }, numLabels: number) {
  const count = (name: string, s: string | undefined) => {
    if (s === undefined) return null;
    const n = intFlag(name, s, 0);
    if (n < 1) throw new UserError(`--${name} must be at least 1, got ${n}`);
    return n;
  };
  if (v["class-weights"] !== undefined && v["class-weights"] !== "balanced") {
    throw new UserError(`--class-weights must be balanced, got "${v["class-weights"]}"`);
  }
  return {
    evalSteps: count("eval-steps", v["eval-steps"]),
    metricForBest: v["metric-for-best"] ?? defaultMetricForBest(numLabels),
    earlyStoppingPatience: count("early-stopping-patience", v["early-stopping-patience"]),
    classWeights: v["class-weights"] === "balanced" ? "balanced" as const : null,
  };
}
// ---- end of training-loop flags

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
    "skip-bad-lines": { type: "boolean", default: false },
    out: { type: "string" },
    report: { type: "string" },
    ...LOOP_FLAGS,
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
  const loadOpts = { skipBadLines: v["skip-bad-lines"], warn: console.error };
  const all = await loadSms(v.data ?? (await defaultSmsZip()), loadOpts);
  const { train, val } = v["val-data"]
    ? { train: all, val: await loadSms(v["val-data"], loadOpts) }
    : stratifiedSplit(all, numFlag("val-ratio", v["val-ratio"], 0.2), seed);
  const ck = await loadCheckpoint(v.model, { seed, tokenizerDir: v.tokenizer });
  if (v.resume !== undefined) {
    if (v.out !== undefined && v.out !== v.resume) {
      throw new UserError(`--resume ${v.resume} continues in that folder; drop --out ${v.out}`);
    }
    if (!(await Deno.stat(v.resume).then((s) => s.isDirectory, () => false))) {
      throw new UserError(`--resume ${v.resume}: no such folder`);
    }
    v.out = v.resume;
  }
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
    ...loopOptions(v, ck.config.numLabels),
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
    const saveModel = async (model: BertForSequenceClassification, dir: string) => {
      if (mode === "lora") {
        // A randomly initialised base cannot be fetched again: it travels with the adapter.
        if (randomBase && !baseSaved) {
          const base = new BertForSequenceClassification(ck.config, ck.weights);
          await saveCheckpoint(`${outDir}/base_model`, base, ck.tokenizerDir);
          base.release();
          baseSaved = true;
        }
        await saveAdapter(dir, model, {
          spec: cfg.lora,
          baseModel: randomBase ? await Deno.realPath(`${outDir}/base_model`) : ck.source,
          saveHead: cfg.trainHead || ck.newlyInitialized.includes("classifier.weight"),
        });
      } else {
        await saveCheckpoint(dir, model, ck.tokenizerDir);
      }
    };
    const resume = v.resume !== undefined && outDir !== null &&
      (modes.length === 1 || (await latestCheckpoint(outDir)) !== null);
    if (v.resume !== undefined && !resume) {
      console.log(`[${mode}] ${outDir} holds no checkpoint: this mode starts from step 0`);
    }
    if (outDir) await recoverDir(`${outDir}/best`);
    const { result, model } = await trainMode(ck, train, val, cfg, {
      checkpointDir: outDir ?? undefined,
      resume,
      onEvaluate: async (model, _ev, sofar, improved) => {
        if (!outDir) return;
        await saveModel(model, outDir);
        if (improved) await writeDirAtomic(`${outDir}/best`, (tmp) => saveModel(model, tmp));
        await writeJsonAtomic(`${outDir}/metrics.json`, {
          mode,
          adapter: getAdapterName(),
          model: ck.source,
          seed,
          command,
          trainable_params: sofar.trainableParams,
          options: { ...cfg },
          epochs: sofar.epochs,
          evaluations: sofar.evaluations,
          best: sofar.best ? { ...sofar.best, dir: "best" } : null,
          stopped_early_at_step: sofar.stoppedEarlyAtStep,
          losses: sofar.losses,
        });
      },
    });
    if (result.best) {
      const b = result.best;
      console.log(
        `[${mode}] best ${b.metric} ${b.value.toFixed(4)} at step ${b.step} (epoch ${
          b.epoch.toFixed(2)
        })${outDir ? `: ${outDir}/best` : ""}`,
      );
    }
    model.release();
    results.push(result);
    console.log(`\n[${mode}] epochs\n${epochTable(result)}\n`);
  }
  console.log(`modes compared (adapter: ${getAdapterName()})\n${modeTable(results)}`);
  if (v.report) {
    await writeHtmlReport(v.report, results, {
      adapter: getAdapterName(),
      model: ck.source,
      command,
      labels: Array.from(
        { length: ck.config.numLabels },
        (_, i) => ck.config.id2label[i] ?? String(i),
      ),
    });
    console.log(`report: ${v.report}`);
  }
});
