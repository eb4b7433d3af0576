// Label names → ids, and a checkpoint made to carry them: num_labels, id2label and label2id as
// transformers writes them, and a fresh classifier when the saved head has another size
// (transformers' from_pretrained(..., num_labels=N, ignore_mismatched_sizes=True)).
import { UserError } from "../errors.ts";
import type { LoadedCheckpoint } from "../bert/checkpoint_files.ts";
import { initParam, paramShapes } from "../bert/params.ts";
import { deriveSeed, Rng } from "../nn/init.ts";
import type { Records } from "./dataset.ts";
import { type Example, LABELS } from "./example.ts";

const INTEGER = /^-?\d+$/;

/** Label names in sorted order: numerically when every label is an integer, else by code unit. */
export function sortLabels(names: Iterable<string>): string[] {
  const u = [...new Set(names)];
  return u.every((l) => INTEGER.test(l))
    ? u.sort((a, b) => Number(a) - Number(b))
    : u.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** `--labels a,b,c`: the ids in that order; names must be distinct. */
export function parseLabelsFlag(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const names = value.split(",").map((s) => s.trim());
  if (names.some((n) => n === "") || new Set(names).size !== names.length || names.length < 2) {
    throw new UserError(`--labels must name two or more distinct labels, got "${value}"`);
  }
  return names;
}

/** True for transformers' placeholder names (LABEL_0, …), which say nothing about the data. */
function generic(id2label: Record<string, string>): boolean {
  return Object.values(id2label).every((v) => /^LABEL_\d+$/.test(v));
}

/**
 * The label list of a run, first match wins: `--labels`; ham, spam for the SMS format; the
 * ClassLabel names a Hugging Face Parquet file declares; the model's own id2label when it names
 * every training label (so a fine-tuned head keeps its meaning); else the training labels sorted.
 */
export function chooseLabels(
  train: Records,
  opts: { labels?: string[]; modelLabels?: Record<string, string> },
): string[] {
  if (opts.labels) return opts.labels;
  if (train.format === "sms") return LABELS;
  if (train.labelOrder) return train.labelOrder;
  const seen = sortLabels(train.records.map((r) => r.label!));
  const m = opts.modelLabels;
  if (m && !generic(m)) {
    const model = Object.keys(m).sort((a, b) => Number(a) - Number(b)).map((k) => m[k]);
    if (seen.every((l) => model.includes(l))) return model;
  }
  if (seen.length < 2) {
    throw new UserError(
      `${train.where}: every message has the label "${seen[0]}"; a classifier needs two or more ` +
        `(name the others with --labels)`,
    );
  }
  return seen;
}

/** Records with label ids; a label outside `labels` is an error naming it, the file and line. */
export function toExamples(recs: Records, labels: string[], source: string): Example[] {
  const id = new Map(labels.map((l, i) => [l, i]));
  return recs.records.map((r) => {
    const label = id.get(r.label!);
    if (label === undefined) {
      throw new UserError(
        `${recs.where}:${r.line}: label "${r.label}" is not one of the ${source} labels ` +
          `(${labels.join(", ")})`,
      );
    }
    return {
      text: r.text,
      ...(r.textPair !== undefined ? { textPair: r.textPair } : {}),
      label,
      line: r.line,
    };
  });
}

/**
 * Sets the checkpoint's labels. A classifier of another size is replaced by a fresh one (normal(0,
 * initializer_range) from the seed, bias 0), as transformers does with ignore_mismatched_sizes,
 * and `note` says so. A trained classifier given its own labels in another order keeps what it
 * learned: its rows (weight [numLabels, hidden] and bias) are reordered with the names.
 */
export function applyLabels(
  ck: LoadedCheckpoint,
  labels: string[],
  seed: number,
  note: (msg: string) => void = console.error,
): void {
  const c = ck.config;
  const before = c.numLabels;
  const wasFresh = ck.newlyInitialized.includes("classifier.weight");
  const old = Array.from({ length: before }, (_, i) => c.id2label[String(i)]);
  // Renaming alone would swap what the rows mean (a model trained on spam,ham read as ham,spam).
  if (
    !wasFresh && before === labels.length && labels.every((l) => old.includes(l)) &&
    labels.some((l, i) => old[i] !== l)
  ) {
    const w = ck.weights.get("classifier.weight")!, b = ck.weights.get("classifier.bias")!;
    const h = w.length / before;
    const w2 = new Float32Array(w.length), b2 = new Float32Array(b.length);
    labels.forEach((l, i) => {
      const j = old.indexOf(l);
      w2.set(w.subarray(j * h, (j + 1) * h), i * h);
      b2[i] = b[j];
    });
    ck.weights.set("classifier.weight", w2);
    ck.weights.set("classifier.bias", b2);
  }
  c.numLabels = labels.length;
  c.id2label = Object.fromEntries(labels.map((l, i) => [String(i), l]));
  c.raw = { ...c.raw, id2label: c.id2label };
  if (before === labels.length) return;
  const rng = new Rng(deriveSeed(seed, "classifier"));
  const shapes = paramShapes(c);
  for (const k of ["classifier.weight", "classifier.bias"]) {
    ck.weights.set(k, initParam(k, shapes.get(k)!, c, rng));
    if (!ck.newlyInitialized.includes(k)) ck.newlyInitialized.push(k);
  }
  if (wasFresh) return;
  note(
    `note: ${ck.source} has a ${before}-label classifier and the data ${labels.length} labels ` +
      `(${labels.join(", ")}): the classifier is newly initialised from seed ${seed} ` +
      `(as transformers' ignore_mismatched_sizes)`,
  );
}

/** A label in a separate validation or test file that no training message has is an error. */
export function checkSeenInTraining(
  examples: Example[],
  train: Example[],
  recs: Records,
  labels: string[],
): void {
  const seen = new Set(train.map((e) => e.label));
  const unseen = examples.find((e) => !seen.has(e.label));
  if (unseen) {
    throw new UserError(
      `${recs.where}:${unseen.line}: label "${labels[unseen.label]}" does not occur in the ` +
        `training data (training labels: ${[...seen].sort().map((i) => labels[i]).join(", ")})`,
    );
  }
}

/** A warning when every training message has one label: what the metrics will then mean. */
export function oneClassWarning(train: Example[], labels: string[]): string | null {
  const ids = new Set(train.map((e) => e.label));
  if (ids.size !== 1) return null;
  const only = labels[[...ids][0]];
  return `warning: every training message is labelled "${only}": the model can only learn to ` +
    `predict "${only}", so accuracy will be the share of "${only}" in validation, precision, ` +
    `recall and F1 of the other labels 0, and AUROC near 0.5 or undefined`;
}
