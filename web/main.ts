/// <reference lib="dom" />
// The page's main thread: reads the chosen files, hands them to the training worker
// (web/worker.ts), and draws what it reports: progress, the loss chart, metrics, predictions, and
// the trained files to download. Nothing here touches the GPU, so the page stays responsive.
import type { Evaluation, FromWorker, ToWorker, TrainOptions } from "./protocol.ts";
import { drawLossChart } from "./chart.ts";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const input = (id: string) => $<HTMLInputElement>(id);

const worker = new Worker("/worker.js", { type: "module" });
const post = (msg: ToWorker, transfer: Transferable[] = []) => worker.postMessage(msg, transfer);

let haveModel = false, haveData = false, training = false, trained = false;
let losses: number[] = [], totalSteps = 0, tokensPerSecond = 0;
let savedUrl: string | null = null;

function setStatus(id: string, text: string, error = false): void {
  const e = $(id);
  e.textContent = text;
  e.classList.toggle("error", error);
}

function refreshButtons(): void {
  $<HTMLButtonElement>("train").disabled = !(haveModel && haveData) || training;
  $<HTMLButtonElement>("stop").disabled = !training;
  $<HTMLButtonElement>("predict").disabled = !haveModel || training;
  $<HTMLButtonElement>("download").disabled = !trained || training;
  for (const id of ["model-folder", "hub-load", "data-file"]) {
    $<HTMLInputElement>(id).disabled = training;
  }
}

const duration = (s: number) =>
  !Number.isFinite(s)
    ? "…"
    : s < 90
    ? `${Math.round(s)} s`
    : s < 5400
    ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`
    : `${(s / 3600).toFixed(1)} h`;

const f4 = (v: number | null) => (v === null ? "undefined" : v.toFixed(4));

function showEvaluation(ev: Evaluation): void {
  const m = ev.metrics;
  const many = m.numLabels > 2;
  const rows: [string, string][] = [
    ["step", `${ev.step} (epoch ${ev.epoch.toFixed(2)})`],
    ["messages", String(m.n)],
    ["accuracy", f4(m.accuracy)],
    [`${many ? "macro " : ""}precision`, f4(m.precision)],
    [`${many ? "macro " : ""}recall`, f4(m.recall)],
    [`${many ? "macro " : ""}F1`, f4(m.f1)],
    ["AUROC", f4(m.auroc)],
    ["log loss", f4(m.logLoss)],
  ];
  const table = document.createElement("table");
  table.id = "metrics-table";
  for (const [k, v] of rows) {
    const tr = table.insertRow();
    const th = document.createElement("th");
    th.textContent = k;
    tr.append(th);
    tr.insertCell().textContent = v;
  }
  $("metrics").replaceChildren(table);
  // Rows are the true label, columns the prediction (scikit-learn's confusion_matrix).
  const cm = document.createElement("table");
  cm.id = "confusion-table";
  const head = cm.insertRow();
  const corner = document.createElement("th");
  corner.textContent = "true \\ predicted";
  head.append(corner);
  for (const l of ev.labels) {
    const th = document.createElement("th");
    th.textContent = l;
    head.append(th);
  }
  m.confusion.forEach((row, i) => {
    const tr = cm.insertRow();
    const th = document.createElement("th");
    th.textContent = ev.labels[i];
    tr.append(th);
    for (const c of row) tr.insertCell().textContent = String(c);
  });
  $("confusion").replaceChildren(cm);
}

worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const msg = e.data;
  switch (msg.type) {
    case "loading":
      setStatus("model-status", msg.text);
      break;
    case "model": {
      const i = msg.info;
      haveModel = true;
      trained = false;
      setStatus(
        "model-status",
        `${i.source}: ${i.layers} layers, hidden ${i.hidden}, vocabulary ${i.vocab}` +
          ` (WebGPU adapter: ${i.adapter})${i.notes.length ? `\n${i.notes.join("\n")}` : ""}`,
      );
      break;
    }
    case "data":
      haveData = true;
      setStatus(
        "data-status",
        `${msg.info.summary}\n` +
          // The labels' order and the split depend on the model (its id2label): none yet.
          (msg.info.labels.length
            ? `labels ${msg.info.labels.join(", ")}; ${msg.info.train} training / ` +
              `${msg.info.val} validation messages (stratified 80/20)`
            : "labels and the training / validation split: once a model is chosen") +
          (msg.info.warning ? `\n${msg.info.warning}` : ""),
      );
      break;
    case "progress": {
      const p = msg.progress;
      losses.push(...p.losses);
      totalSteps = p.totalSteps;
      tokensPerSecond = p.tokensPerSecond;
      drawLossChart($("chart") as unknown as SVGSVGElement, losses, totalSteps);
      // The losses as data too (for scripts and the tests; the chart is their picture).
      $("chart").dataset.losses = JSON.stringify(losses);
      setStatus(
        "train-status",
        `step ${p.step}/${p.totalSteps} (epoch ${p.epoch}) · loss ${
          losses.length ? losses[losses.length - 1].toFixed(4) : "…"
        } · ${p.tokensPerSecond.toFixed(0)} tokens/s · ETA ${duration(p.etaSeconds)}`,
      );
      break;
    }
    case "evaluation":
      showEvaluation(msg.evaluation);
      break;
    case "done":
      training = false;
      trained = msg.steps > 0;
      setStatus(
        "train-status",
        `${msg.stopped ? "stopped" : "done"} after ${msg.steps} steps in ${duration(msg.seconds)}${
          losses.length
            ? ` · last loss ${losses[losses.length - 1].toFixed(4)} · ${
              tokensPerSecond.toFixed(0)
            } tokens/s`
            : ""
        }`,
      );
      document.body.dataset.state = msg.stopped ? "stopped" : "done";
      break;
    case "prediction":
      $("prediction").textContent = `${msg.label} (p = ${msg.probability.toFixed(4)})`;
      break;
    case "saved": {
      if (savedUrl) URL.revokeObjectURL(savedUrl);
      savedUrl = URL.createObjectURL(new Blob([msg.zip as BlobPart], { type: "application/zip" }));
      const a = document.createElement("a");
      a.href = savedUrl;
      a.download = msg.name;
      a.click();
      setStatus("download-status", `${msg.name}: ${msg.files.join(", ")}`);
      break;
    }
    case "error": {
      const where: Record<string, string> = {
        "load-model": "model-status",
        "load-hub": "model-status",
        "load-data": "data-status",
        predict: "prediction",
        save: "download-status",
      };
      setStatus(where[msg.during] ?? "train-status", `error: ${msg.message}`, true);
      if (msg.during === "train") {
        training = false;
        document.body.dataset.state = "error";
      }
      break;
    }
  }
  refreshButtons();
};

input("model-folder").onchange = async () => {
  const chosen = [...(input("model-folder").files ?? [])];
  if (chosen.length === 0) return;
  setStatus("model-status", `reading ${chosen.length} files…`);
  // A folder input gives paths under the folder (webkitRelativePath); the engine wants base names.
  const top = chosen.filter((f) => (f.webkitRelativePath || f.name).split("/").length <= 2);
  const files = await Promise.all(
    top.map(async (f) => [f.name, new Uint8Array(await f.arrayBuffer())] as [string, Uint8Array]),
  );
  const folder = chosen[0].webkitRelativePath.split("/")[0] || "model";
  haveModel = false;
  post({ type: "load-model", source: folder, files }, files.map(([, b]) => b.buffer));
  refreshButtons();
};

$("hub-load").onclick = () => {
  const id = input("hub-id").value.trim();
  if (!id) return;
  haveModel = false;
  setStatus("model-status", `${id}: loading (from the browser's cache when fetched before)…`);
  // ?hub=URL points the page at another hub endpoint (a mirror; the tests' own server).
  const endpoint = new URL(location.href).searchParams.get("hub") ?? undefined;
  post({ type: "load-hub", id, endpoint });
  refreshButtons();
};

input("data-file").onchange = async () => {
  const f = input("data-file").files?.[0];
  if (!f) return;
  haveData = false;
  const bytes = new Uint8Array(await f.arrayBuffer());
  post({ type: "load-data", name: f.name, bytes }, [bytes.buffer]);
  refreshButtons();
};

/** A number input's value; `fallback` when empty (the optional ones). */
function num(id: string, fallback: number | null): number | null {
  const v = input(id).value.trim();
  return v === "" ? fallback : Number(v);
}

$("train").onclick = () => {
  const options: TrainOptions = {
    mode: $<HTMLSelectElement>("mode").value as TrainOptions["mode"],
    epochs: num("epochs", 2)!,
    lr: num("lr", 5e-5)!,
    loraRank: num("lora-rank", 8)!,
    batchSize: num("batch-size", 16)!,
    maxLength: num("max-length", null),
    seed: num("seed", 42)!,
    maxSteps: num("max-steps", null),
  };
  losses = [];
  totalSteps = tokensPerSecond = 0;
  drawLossChart($("chart") as unknown as SVGSVGElement, losses, totalSteps);
  training = true;
  trained = false;
  document.body.dataset.state = "training";
  setStatus("train-status", "starting…");
  post({ type: "train", options });
  refreshButtons();
};

$("stop").onclick = () => {
  post({ type: "stop" });
  setStatus("train-status", "stopping…");
};

$("predict").onclick = () => {
  post({ type: "predict", text: $<HTMLTextAreaElement>("predict-text").value });
};

$("download").onclick = () => {
  setStatus("download-status", "saving…");
  post({ type: "save" });
};

worker.onerror = (e) => {
  // A worker that fails to start (no WebGPU, a bundle error) shows where the user looks first.
  setStatus(haveModel ? "train-status" : "model-status", `error: ${e.message}`, true);
  document.body.dataset.state = "error";
};
drawLossChart($("chart") as unknown as SVGSVGElement, [], 0);
refreshButtons();
