// deno task train --model DIR|PRESET --data FILE [--val-data FILE] --mode full|head|lora|all [options] [--out DIR]
import { maxLength, runCommand } from "./common.ts";
import { UserError } from "../errors.ts";
import type { CommandSpec, FlagTable } from "./flags.ts";
import { initGpu } from "../gpu/kernel.ts";
import { getAdapterName, isFallbackAdapter } from "../gpu/device.ts";
import { cpuAdapterNote, Progress, startRunClock } from "../train/progress.ts";
import { tuneKernels, type TuneLevel } from "../ops/tune.ts";
import { fileChoiceStore } from "../io/kernel_cache.ts";
import { folderResumeStore, loadModel, writeFiles } from "../lib/deno.ts";
import { HEAD_KEYS, linearPaths } from "../bert/params.ts";
import { type Example, stratifiedSplit } from "../data/sms.ts";
import { defaultSmsZip } from "../data/sms_zip.ts";
import { DATA_FLAGS, dataOptions } from "./data_flags.ts";
import { loadRecords, loadSummary } from "../data/dataset.ts";
import {
  checkSeenInTraining,
  chooseLabels,
  oneClassWarning,
  parseLabelsFlag,
  toExamples,
} from "../data/labels.ts";
import { metricsReport } from "../train/report.ts";
import { matchTargets, parseTargets } from "../nn/lora.ts";
import { writeJsonAtomic } from "../io/atomic.ts";
import {
  defaultMetricForBest,
  type Mode,
  type ModeResult,
  type ProgressBar,
  type TrainConfig,
} from "../train/trainer.ts";
import { latestCheckpoint, recoverDir, writeDirAtomic } from "../train/checkpointing.ts";
import { epochTable, modeTable } from "../train/report.ts";
import { writeHtmlReport } from "../train/html_report.ts";
import { clearEarlierRun } from "./paths.ts";

const TRAIN = {
  name: "train",
  summary:
    "Fine-tunes a BERT encoder for ham/spam classification in full, head or LoRA mode (or all three from the same initial weights) and compares the modes.",
  flags: {
    model: {
      type: "string",
      default: "bert-base-uncased",
      arg: "DIR|PRESET|HUB_ID",
      help:
        "a Hugging Face model folder, a hub id, or a random-init preset (bert-tiny, bert-mini, bert-small, bert-base)",
    },
    tokenizer: {
      type: "string",
      arg: "DIR",
      path: "in",
      defaultText: "the model folder; ../shared/models/bert-base-uncased for presets",
      help: "folder with vocab.txt or tokenizer.json",
    },
    data: {
      type: "string",
      arg: "FILE",
      path: "in",
      defaultText: "the UCI SMS Spam Collection zip (cached)",
      help:
        "training data: CSV/TSV with a header, JSON Lines, Parquet, the SMS format (label<TAB>text), or a zip holding one",
    },
    "val-data": {
      type: "string",
      arg: "FILE",
      path: "in",
      help: "validation set; then --data is all training data, no split",
    },
    "test-data": {
      type: "string",
      arg: "FILE",
      path: "in",
      help: "a test set: the final model's metrics on it are printed after training",
    },
    labels: {
      type: "string",
      arg: "A,B,...",
      defaultText: "ham,spam for the SMS format, else sorted",
      help: "the label order (ids 0, 1, …); every training label must be listed",
    },
    // Data files (issue 11): formats, columns, encodings.
    ...DATA_FLAGS,
    mode: {
      type: "string",
      default: "all",
      choices: ["full", "head", "lora", "all"],
      help: "what trains: every weight, the classifier only, LoRA matrices, or the three in turn",
    },
    epochs: { type: "int", default: 2, min: 1, help: "passes over the training data" },
    "batch-size": { type: "int", default: 16, min: 1, help: "messages per optimizer step" },
    "max-length": {
      type: "int",
      min: 2,
      defaultText: "32, or the model's max_position_embeddings when smaller",
      help: "tokens per message, [CLS] and [SEP] included (padded or truncated)",
    },
    lr: { type: "number", default: 5e-5, min: 0, minExclusive: true, help: "learning rate" },
    optimizer: {
      type: "string",
      default: "adamw",
      choices: ["adamw", "sgd"],
      help: "torch.optim.AdamW (betas 0.9/0.999, eps 1e-8) or plain SGD",
    },
    "weight-decay": {
      type: "number",
      min: 0,
      defaultText: "0.01 (0 for sgd)",
      help: "decoupled weight decay (AdamW) or L2 (SGD)",
    },
    seed: {
      type: "int",
      default: 42,
      help: "seeds the split, shuffling, dropout, a fresh head and LoRA A",
    },
    "val-ratio": {
      type: "number",
      defaultText: "0.2",
      min: 0,
      max: 1,
      minExclusive: true,
      maxExclusive: true,
      help: "share of --data held out (stratified) for validation",
    },
    "max-steps": { type: "int", min: 1, help: "stop after N optimizer steps across epochs" },
    "no-shuffle": { type: "boolean", help: "batches in file order" },
    "warmup-ratio": {
      type: "number",
      default: 0,
      min: 0,
      max: 1,
      maxExclusive: true,
      help: "linear warmup over this share of the steps, then linear decay to 0 (0: constant lr)",
    },
    "max-grad-norm": {
      type: "number",
      min: 0,
      minExclusive: true,
      help: "clip the global gradient norm as torch.nn.utils.clip_grad_norm_ (default off)",
    },
    "lora-rank": { type: "int", default: 8, min: 1, help: "LoRA rank r" },
    "lora-alpha": {
      type: "number",
      default: 16,
      min: 0,
      minExclusive: true,
      help: "LoRA alpha; the update is scaled by alpha/r as PEFT",
    },
    "lora-dropout": {
      type: "number",
      default: 0,
      min: 0,
      max: 1,
      maxExclusive: true,
      help: "dropout on the LoRA branch's input",
    },
    "lora-targets": {
      type: "string",
      default: "all-linear",
      arg: "NAMES",
      help: "all-linear, or module names such as query,value (PEFT matching)",
    },
    // Training loop (issue 11): evaluation every N steps, the best checkpoint in OUT/best, early
    // stopping, resuming from OUT's checkpoint-<step>/, class-weighted loss.
    "eval-steps": {
      type: "int",
      min: 1,
      help:
        "also evaluate (and save, with --out) every N optimizer steps; epochs always end with one",
    },
    "metric-for-best": {
      type: "string",
      arg: "KEY",
      defaultText: "f1 for two labels, macro_f1 otherwise",
      help: "the validation metric that picks OUT/best (greater is better unless it ends in loss)",
    },
    "early-stopping-patience": {
      type: "int",
      min: 1,
      help: "stop after N evaluations without improvement of --metric-for-best",
    },
    resume: {
      type: "string",
      arg: "DIR",
      path: "in",
      help: "continue an interrupted run from DIR's newest checkpoint-<step>/ (the same options)",
    },
    "class-weights": {
      type: "string",
      choices: ["balanced"],
      help: "weight the loss per class as scikit-learn's compute_class_weight('balanced')",
    },
    "eval-batch-size": { type: "int", default: 64, min: 1, help: "messages per evaluation batch" },
    "log-every": {
      type: "int",
      default: 10,
      min: 1,
      help: "steps between loss readbacks (the first step is always shown)",
    },
    out: {
      type: "string",
      arg: "DIR",
      path: "out-dir",
      help:
        "save the model (or LoRA adapter) after every epoch; with --mode all in DIR/full, DIR/head, DIR/lora",
    },
    overwrite: { type: "boolean", help: "let --out replace what an earlier run saved there" },
    tune: {
      type: "string",
      default: "quick",
      choices: ["off", "quick", "full"],
      help:
        "pick kernel shapes for this GPU adapter by timing the candidates on the model's shapes (cached per adapter and driver)",
    },
    report: {
      type: "string",
      arg: "FILE.html",
      path: "out-file",
      help: "write a self-contained HTML report (loss curves, metrics, confusion matrices)",
    },
  },
  examples: [
    "--model bert-tiny --mode all --epochs 3 --lr 5e-4 --out runs/tiny --report runs/tiny.html",
    "--model path/to/bert --data my.tsv --val-data my_val.tsv --mode lora --lora-targets query,value",
  ],
} as const satisfies CommandSpec<FlagTable>;

/** The terminal's progress bars: per epoch (moving the run's clock) and per validation pass. */
const progressBar = (label: string, total: number, kind: "train" | "eval"): ProgressBar =>
  kind === "train" ? new Progress(label, total, 10, undefined, true) : new Progress(label, total);

await runCommand(TRAIN, async ({ values: v }) => {
  const modes: Mode[] = v.mode === "all" ? ["full", "head", "lora"] : [v.mode as Mode];
  if (v["val-data"] && v["val-ratio"] !== undefined) {
    throw new UserError("--val-ratio splits --data; with --val-data nothing is split (drop one)");
  }
  const seed = v.seed;
  const command = ["deno", "task", "train", ...Deno.args].join(" ");
  const dataOpts = dataOptions(v);
  const trainRecs = await loadRecords(v.data ?? (await defaultSmsZip()), dataOpts);
  const valRecs = v["val-data"] ? await loadRecords(v["val-data"], dataOpts) : null;
  const testRecs = v["test-data"] ? await loadRecords(v["test-data"], dataOpts) : null;
  for (const r of [trainRecs, valRecs, testRecs]) if (r) console.log(loadSummary(r));
  const clf = await loadModel(v.model, { seed, tokenizer: v.tokenizer });
  const ck = clf.checkpoint;
  const labels = chooseLabels(trainRecs, {
    labels: parseLabelsFlag(v.labels),
    modelLabels: ck.config.id2label,
  });
  const all = toExamples(trainRecs, labels, "training");
  const { train, val } = valRecs
    ? { train: all, val: toExamples(valRecs, labels, "training") }
    : stratifiedSplit(all, v["val-ratio"] ?? 0.2, seed, trainRecs.where);
  if (valRecs) checkSeenInTraining(val, train, valRecs, labels);
  let test: Example[] | null = null;
  if (testRecs) {
    test = toExamples(testRecs, labels, "training");
    checkSeenInTraining(test, train, testRecs, labels);
  }
  const oneClass = oneClassWarning(train, labels);
  if (oneClass) console.error(oneClass);
  clf.setLabels(labels, seed, (m) => console.error(m));
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
    epochs: v.epochs,
    batchSize: v["batch-size"],
    maxLength: maxLength(v["max-length"], ck.config),
    lr: v.lr,
    optimizer: v.optimizer as "adamw" | "sgd",
    weightDecay: v["weight-decay"] ?? (v.optimizer === "sgd" ? 0 : 0.01),
    seed,
    maxSteps: v["max-steps"] ?? null,
    shuffle: !v["no-shuffle"],
    warmupRatio: v["warmup-ratio"],
    maxGradNorm: v["max-grad-norm"] ?? null,
    lora: {
      r: v["lora-rank"],
      alpha: v["lora-alpha"],
      dropout: v["lora-dropout"],
      targets: parseTargets(v["lora-targets"]),
    },
    evalBatchSize: v["eval-batch-size"],
    logEvery: v["log-every"],
    evalSteps: v["eval-steps"] ?? null,
    metricForBest: v["metric-for-best"] ?? defaultMetricForBest(ck.config.numLabels),
    earlyStoppingPatience: v["early-stopping-patience"] ?? null,
    classWeights: v["class-weights"] === "balanced" ? "balanced" as const : null,
  };
  // Checked before any mode trains: with --mode all a name that matches nothing would otherwise
  // surface only after full and head have run.
  if (modes.includes("lora")) matchTargets(linearPaths(ck.config), cfgBase.lora.targets);
  await initGpu();
  console.log(`GPU adapter: ${getAdapterName()}`);
  const stepsPerMode = Math.min(
    cfgBase.maxSteps ?? Infinity,
    cfgBase.epochs * Math.ceil(train.length / cfgBase.batchSize),
  );
  startRunClock(stepsPerMode * modes.length);
  const note = cpuAdapterNote(getAdapterName(), isFallbackAdapter(), {
    layers: ck.config.numHiddenLayers,
    hidden: ck.config.hiddenSize,
    intermediate: ck.config.intermediateSize,
    modes,
    stepsPerMode,
    tokensPerStep: cfgBase.batchSize * cfgBase.maxLength,
    evalTokensPerMode: cfgBase.epochs * val.length * cfgBase.maxLength,
  });
  if (note) console.log(note);
  const k = await tuneKernels(
    v.tune as TuneLevel,
    cfgBase.batchSize * cfgBase.maxLength,
    ck.config.hiddenSize,
    fileChoiceStore(),
  );
  console.log(
    `kernels (${k.source}): row reductions ${k.rowReductions}, Aᵀ·B ${k.transposedA}, ` +
      `matmul ${k.matmulTile} tile`,
  );
  console.log(
    `model: ${ck.source} (${ck.config.numHiddenLayers} layers, hidden ${ck.config.hiddenSize}); data: ${train.length} train / ${val.length} validation messages; max length ${cfgBase.maxLength}`,
  );
  const randomBase = ck.newlyInitialized.some((k) => !HEAD_KEYS.includes(k));
  // --overwrite replaces an earlier run: nothing of it stays beside the new files. It is cleared
  // at the first save, not before training, so a run that fails first (a NaN loss) loses nothing.
  let earlierRun = Boolean(v.out && v.overwrite && v.resume === undefined);
  const clearEarlierRunOnce = async () => {
    if (!earlierRun) return;
    earlierRun = false;
    await clearEarlierRun(v.out!, [ck.source, ck.tokenizerDir]);
  };
  const results: ModeResult[] = [];
  for (const mode of modes) {
    const cfg: TrainConfig = { ...cfgBase, mode };
    const outDir = v.out ? (modes.length > 1 ? `${v.out}/${mode}` : v.out) : null;
    let baseSaved = false;
    const saveModel = async (dir: string) => {
      if (mode === "lora") {
        // A randomly initialised base cannot be fetched again: it travels with the adapter.
        if (randomBase && !baseSaved) {
          await writeFiles(`${outDir}/base_model`, await clf.checkpointFiles({ initial: true }));
          baseSaved = true;
        }
        await writeFiles(
          dir,
          await clf.adapterFiles({
            baseModel: randomBase ? await Deno.realPath(`${outDir}/base_model`) : ck.source,
          }),
        );
      } else {
        await writeFiles(dir, await clf.checkpointFiles());
      }
    };
    const resume = v.resume !== undefined && outDir !== null &&
      (modes.length === 1 || (await latestCheckpoint(outDir)) !== null);
    if (v.resume !== undefined && !resume) {
      console.log(`[${mode}] ${outDir} holds no checkpoint: this mode starts from step 0`);
    }
    if (outDir) await recoverDir(`${outDir}/best`);
    const result = await clf.train(train, val, cfg, {
      resumeStore: outDir ? folderResumeStore(outDir) : undefined,
      resume,
      log: (line) => console.log(line),
      progressBar,
      onEvaluate: async (_ev, sofar, improved) => {
        if (!outDir) return;
        await clearEarlierRunOnce();
        await saveModel(outDir);
        if (improved) await writeDirAtomic(`${outDir}/best`, (tmp) => saveModel(tmp));
        await writeJsonAtomic(`${outDir}/metrics.json`, {
          mode,
          gpu_adapter: getAdapterName(),
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
    if (test) {
      // The final model on the test file, with the metrics evaluate prints.
      const m = await clf.evaluate(test, {
        maxLength: cfg.maxLength,
        batchSize: cfg.evalBatchSize,
      });
      console.log(`\n[${mode}] test: ${testRecs!.where}\n${metricsReport(m, labels)}`);
    }
    clf.release();
    results.push(result);
    console.log(`\n[${mode}] epochs\n${epochTable(result)}\n`);
    const last = result.epochs[result.epochs.length - 1];
    if (last) {
      console.log(`[${mode}] validation, last epoch\n${metricsReport(last.metrics, labels)}\n`);
    }
  }
  console.log(`modes compared (GPU adapter: ${getAdapterName()})\n${modeTable(results)}`);
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
