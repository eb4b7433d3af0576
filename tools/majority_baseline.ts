// deno run -A tools/majority_baseline.ts --data FILE [--val-data FILE] [--val-ratio R] [--seed N]
// The metrics of always predicting the most frequent training label, on the validation set train
// would use (same loader, labels and stratified split), for comparison with a trained model.
import { intFlag, numFlag, parseFlags, run } from "../src/cli/common.ts";
import { DATA_FLAGS, dataOptions } from "../src/cli/data_flags.ts";
import { loadRecords } from "../src/data/dataset.ts";
import { chooseLabels, parseLabelsFlag, toExamples } from "../src/data/labels.ts";
import { stratifiedSplit } from "../src/data/sms.ts";
import { computeMetrics } from "../src/train/metrics.ts";
import { metricsReport } from "../src/train/report.ts";
import { UserError } from "../src/errors.ts";

await run(async () => {
  const { values: v } = parseFlags("majority_baseline", {
    data: { type: "string" },
    "val-data": { type: "string" },
    "val-ratio": { type: "string" },
    seed: { type: "string" },
    labels: { type: "string" },
    ...DATA_FLAGS,
  });
  if (!v.data) throw new UserError("majority_baseline: --data FILE is required");
  const opts = dataOptions(v);
  const recs = await loadRecords(v.data, opts);
  const labels = chooseLabels(recs, { labels: parseLabelsFlag(v.labels) });
  const all = toExamples(recs, labels, "training");
  const { train, val } = v["val-data"]
    ? { train: all, val: toExamples(await loadRecords(v["val-data"], opts), labels, "training") }
    : stratifiedSplit(
      all,
      numFlag("val-ratio", v["val-ratio"], 0.2),
      intFlag("seed", v.seed, 42),
      recs.where,
    );
  const counts = labels.map((_, k) => train.filter((e) => e.label === k).length);
  const major = counts.indexOf(Math.max(...counts));
  const probs = val.map(() => labels.map((_, k) => (k === major ? 1 : 0)));
  console.log(`majority class: ${labels[major]} (${counts[major]} of ${train.length} training)`);
  console.log(metricsReport(computeMetrics(probs, val.map((e) => e.label)), labels));
});
