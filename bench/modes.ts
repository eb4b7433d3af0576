// deno task bench:modes [--model DIR|PRESET] [--steps N] [--json FILE] [--peer] [--browser-tune]
// [--packing on|off] (off: every batch on all B·T rows, no packing; src/data/batches.ts)
// Times full, head and lora training steps (after a warm-up step) and an evaluation batch on one
// adapter, extrapolates to an epoch of the SMS task (4,459 training messages at batch 16 → 279
// steps; 1,115 validation messages), and with --peer runs TensorFlow.js WebGPU's full step and
// matmuls in the same process, and the same BERT step in plain PyTorch on the CPU
// (bench/peer/torch_bert.py, /usr/bin/python3.11 or python3 with torch; skipped with a note when
// absent). Each mode also reports GPU dispatches per step and the host milliseconds spent
// recording (and submitting) a step. --browser-tune also runs the kernel tuner inside headless
// Chromium (bench/tune_page.ts, its own adapter: SwiftShader without a GPU) and prints and
// records its choices beside this adapter's. Results go where --results FILE and --json FILE say, nowhere
// else.
import { intFlag, parseFlags, run } from "../src/cli/common.ts";
import { UserError } from "../src/errors.ts";
import { gpu, initGpu } from "../src/gpu/kernel.ts";
import { getAdapterName } from "../src/gpu/device.ts";
import { loadCheckpoint } from "../src/bert/checkpoint.ts";
import { BertForSequenceClassification } from "../src/bert/model.ts";
import { type Encoding, makeBatch, setPacking } from "../src/data/batches.ts";
import { backward, endStep, noGrad } from "../src/autograd/tape.ts";
import { crossEntropy } from "../src/ops/cross_entropy.ts";
import { AdamW } from "../src/optim/adamw.ts";
import { type Mode, trainableTensors } from "../src/train/trainer.ts";
import { matmulRaw } from "../src/ops/matmul.ts";
import { Tensor } from "../src/tensor.ts";
import type { BertConfig } from "../src/bert/config.ts";
import { writeFileAtomic, writeJsonAtomic } from "../src/io/atomic.ts";
import { isCpuAdapter } from "../src/ops/variants.ts";
import { type KernelChoices, tuneKernels, type TuneLevel } from "../src/ops/tune.ts";
import { CHROMIUM, runInChromium } from "../tools/browser.ts";
import { fileChoiceStore } from "../src/io/kernel_cache.ts";

const TRAIN_MESSAGES = 4459, VAL_MESSAGES = 1115;

interface ModeTiming {
  step_ms: number;
  epoch_s: number;
  eval_s: number;
  tokens_per_s: number;
  trainable_params: number;
  peak_bytes: number;
  dispatches_per_step?: number;
  host_ms_per_step?: number;
}

interface TorchPeer {
  torch: string;
  threads: number;
  modes: Record<string, { step_ms: number }>;
}

/** Milliseconds spent inside queue.submit and queue.writeBuffer (lavapipe runs work there). */
let queueMs = 0;

/** Host time recording a step excludes the queue calls, which on lavapipe execute the work. */
function timeQueueCalls(queue: GPUQueue): void {
  const submit = queue.submit.bind(queue), writeBuffer = queue.writeBuffer.bind(queue);
  queue.submit = (buffers) => {
    const t = performance.now();
    submit(buffers);
    queueMs += performance.now() - t;
  };
  queue.writeBuffer = (...args: Parameters<GPUQueue["writeBuffer"]>) => {
    const t = performance.now();
    writeBuffer(...args);
    queueMs += performance.now() - t;
  };
}

async function sync(): Promise<void> {
  gpu().flush();
  await gpu().device.queue.onSubmittedWorkDone();
}

/** Synthetic messages: lengths vary as SMS messages do, ids are ordinary (non-special) tokens. */
function encodings(n: number, T: number, vocab: number, cls: number, sep: number): Encoding[] {
  const first = Math.min(1000, Math.floor(vocab / 2)); // bert's vocab: past [unused…] and specials
  return Array.from({ length: n }, (_, i) => {
    const len = Math.max(2, Math.min(T, 8 + ((i * 7) % Math.max(1, T - 7))));
    const ids = Array.from({ length: T }, (_, t) => {
      if (t === 0) return cls;
      if (t === len - 1) return sep;
      return t < len ? first + ((i * 31 + t * 17) % (vocab - first)) : 0;
    });
    return { inputIds: ids, attentionMask: ids.map((_, t) => (t < len ? 1 : 0)) };
  });
}

await run(async () => {
  const { values: v } = parseFlags("bench:modes", {
    model: { type: "string", default: "bert-base" },
    tokenizer: { type: "string" },
    steps: { type: "string" },
    "batch-size": { type: "string" },
    "max-length": { type: "string" },
    json: { type: "string" },
    peer: { type: "boolean", default: false },
    results: { type: "string" },
    "from-json": { type: "string" },
    tune: { type: "string", default: "quick" },
    "browser-tune": { type: "boolean", default: false },
    packing: { type: "string", default: "on" },
  });
  if (v["from-json"]) {
    // Re-renders the results file from a saved run, without timing anything.
    const saved = JSON.parse(await Deno.readTextFile(v["from-json"]));
    if (!v.results) throw new UserError("bench:modes --from-json needs --results FILE");
    await writeResults(v.results, saved);
    return;
  }
  const steps = intFlag("steps", v.steps, 3),
    B = intFlag("batch-size", v["batch-size"], 16),
    T = intFlag("max-length", v["max-length"], 32);
  if (!["on", "off"].includes(v.packing)) {
    throw new UserError(`--packing must be on or off, got "${v.packing}"`);
  }
  setPacking(v.packing === "on");
  const ck = await loadCheckpoint(v.model, { seed: 42, tokenizerDir: v.tokenizer, warn: () => {} });
  const rt = await initGpu();
  timeQueueCalls(rt.device.queue);
  const adapter = getAdapterName();
  console.log(
    `adapter: ${adapter}; model ${v.model}; batch ${B} × ${T}${
      v.packing === "on" ? ", packed" : ", padded (--packing off)"
    }; ${steps} timed steps per mode`,
  );
  // Kernel shapes chosen for this adapter (src/ops/variants.ts): by adapter kind, not timed.
  if (!["off", "quick", "full"].includes(v.tune)) {
    throw new UserError(`--tune must be off, quick or full, got "${v.tune}"`);
  }
  const k = await tuneKernels(
    v.tune as TuneLevel,
    B * T,
    ck.config.hiddenSize,
    fileChoiceStore(),
  );
  const kind = isCpuAdapter() ? "CPU adapter" : "GPU adapter";
  const how = k.source === "default" ? `${kind} default` : `${k.source}, --tune ${v.tune}`;
  const tuning = {
    row_reductions: `${k.rowReductions} per row (${how})`,
    transposed_a: `${k.transposedA} (${how})`,
    matmul_tile: `${k.matmulTile} (${how})`,
  };
  console.log(
    `kernel choices: row reductions ${tuning.row_reductions}; Aᵀ·B ${tuning.transposed_a}; ` +
      `matmul tile ${tuning.matmul_tile}`,
  );
  const browserTuning = v["browser-tune"]
    ? await tuneInChromium(v.tune as TuneLevel, B * T, ck.config.hiddenSize)
    : null;
  const enc = encodings(
    B * (steps + 1),
    T,
    ck.config.vocabSize,
    ck.tokenizer.cls,
    ck.tokenizer.sep,
  );
  const labels = enc.map((_, i) => i % 2);
  const modes: Record<string, ModeTiming> = {};
  for (const mode of ["full", "head", "lora"] as Mode[]) {
    rt.pool.trim();
    rt.pool.resetPeak();
    const model = new BertForSequenceClassification(ck.config, ck.weights);
    const params = trainableTensors(model, {
      mode,
      lora: { r: 8, alpha: 16, dropout: 0, targets: "all-linear" },
      seed: 42,
    });
    const opt = new AdamW(params, { lr: 5e-5 });
    const stepOnce = (s: number) => {
      const batch = makeBatch(
        enc.slice(s * B, (s + 1) * B),
        labels.slice(s * B, (s + 1) * B),
        ck.config.vocabSize,
      );
      backward(crossEntropy(model.forward(batch, { train: true, dropoutSeed: s }), batch.labels!));
      opt.step();
      opt.zeroGrad();
      endStep();
    };
    stepOnce(0); // warm-up: pipeline compilation, first allocations
    await sync();
    const d0 = rt.dispatchCount;
    let hostMs = 0;
    const t0 = performance.now();
    for (let s = 1; s <= steps; s++) {
      const h0 = performance.now(), q0 = queueMs;
      stepOnce(s);
      hostMs += performance.now() - h0 - (queueMs - q0);
    }
    await sync();
    const stepMs = (performance.now() - t0) / steps;
    const dispatches = (rt.dispatchCount - d0) / steps;
    const evalBatch = enc.slice(0, B);
    noGrad(() => model.forward(makeBatch(evalBatch, null, ck.config.vocabSize), { train: false }));
    endStep();
    await sync();
    const t1 = performance.now();
    noGrad(() => model.forward(makeBatch(evalBatch, null, ck.config.vocabSize), { train: false }));
    endStep();
    await sync();
    const evalS = (performance.now() - t1) / 1000 * (VAL_MESSAGES / evalBatch.length);
    modes[mode] = {
      step_ms: stepMs,
      epoch_s: stepMs * Math.ceil(TRAIN_MESSAGES / B) / 1000,
      eval_s: evalS,
      tokens_per_s: (B * T) / (stepMs / 1000),
      trainable_params: params.reduce((n, t) => n + t.size, 0),
      peak_bytes: rt.pool.peakBytes,
      dispatches_per_step: dispatches,
      host_ms_per_step: hostMs / steps,
    };
    console.log(
      `${mode.padEnd(5)} step ${stepMs.toFixed(0)} ms, epoch ≈ ${
        modes[mode].epoch_s.toFixed(0)
      } s + eval ≈ ${evalS.toFixed(0)} s, ${modes[mode].tokens_per_s.toFixed(0)} tokens/s, ${
        modes[mode].trainable_params.toLocaleString("en-US")
      } trainable, peak ${
        (rt.pool.peakBytes / 2 ** 20).toFixed(0)
      } MiB, ${dispatches} dispatches, ${(hostMs / steps).toFixed(0)} ms host`,
    );
    opt.release();
    model.release();
  }
  const ratio = (m: Mode, k: "step_ms" | "peak_bytes") => modes[m][k] / modes.full[k];
  console.log(
    `lora/full step ${ratio("lora", "step_ms").toFixed(2)}, head/full step ${
      ratio("head", "step_ms").toFixed(2)
    }, lora/full peak memory ${ratio("lora", "peak_bytes").toFixed(2)}, head/full peak memory ${
      ratio("head", "peak_bytes").toFixed(2)
    }`,
  );

  let peer: {
    step_ms: number;
    ratio: number;
    matmul: { shape: string; ours_gflops: number; tfjs_gflops: number }[];
  } | null = null;
  if (v.peer) peer = await runPeer(ck.config, enc, labels, B, T, steps, modes.full.step_ms);
  const torch = v.peer ? await runTorchPeer(ck.config, enc, labels, B, steps) : null;

  const totalParams = modes.full.trainable_params;
  const result = {
    adapter,
    model: v.model,
    steps,
    batch: B,
    seq_len: T,
    packing: v.packing === "on",
    command: `deno task bench:modes ${Deno.args.join(" ")}`,
    date: new Date().toISOString().slice(0, 10),
    weight_bytes: 4 * totalParams,
    tuning,
    browser_tuning: browserTuning,
    modes,
    peer,
    torch,
  };
  if (v.json) await writeJsonAtomic(v.json, result);
  // Results go only where asked (--results FILE), never over a tracked file by default.
  if (v.results) await writeResults(v.results, result);
});

/** The tuner's choices for the same shapes on Chromium's adapter, or why there are none. */
async function tuneInChromium(
  level: TuneLevel,
  rows: number,
  hidden: number,
): Promise<BrowserTuning | { skipped: string }> {
  if (!CHROMIUM) {
    console.log("kernel choices in Chromium: skipped, chromium is not installed");
    return { skipped: "chromium is not installed" };
  }
  const { result } = await runInChromium<{ adapter: string; choices: KernelChoices }>(
    new URL("./tune_page.ts", import.meta.url).pathname,
    {
      timeoutMs: 10 * 60_000,
      query: { tune: level, rows: String(rows), hidden: String(hidden) },
    },
  );
  const c = result.choices;
  const how = `${c.source}, --tune ${level}`;
  const tuning = {
    row_reductions: `${c.rowReductions} per row (${how})`,
    transposed_a: `${c.transposedA} (${how})`,
    matmul_tile: `${c.matmulTile} (${how})`,
  };
  console.log(
    `kernel choices in Chromium (${result.adapter}): row reductions ${tuning.row_reductions}; ` +
      `Aᵀ·B ${tuning.transposed_a}; matmul tile ${tuning.matmul_tile}`,
  );
  return { adapter: result.adapter, tuning };
}

interface BrowserTuning {
  adapter: string;
  tuning: Record<string, string>;
}

async function runPeer(
  config: BertConfig,
  enc: Encoding[],
  labels: number[],
  B: number,
  T: number,
  steps: number,
  oursMs: number,
) {
  const { initTfjs, TfjsBert, tf } = await import("./peer/tfjs_bert.ts");
  await initTfjs();
  const model = new TfjsBert(config, 5e-5);
  const batch = (s: number) => ({
    ids: tf.tensor1d(enc.slice(s * B, (s + 1) * B).flatMap((e) => e.inputIds), "int32"),
    mask: tf.tensor2d(enc.slice(s * B, (s + 1) * B).flatMap((e) => e.attentionMask), [B, T]),
    labels: tf.tensor1d(labels.slice(s * B, (s + 1) * B), "int32"),
  });
  const stepOnce = async (s: number, wait: boolean) => {
    const b = batch(s);
    const loss = model.step(b.ids, b.mask, b.labels, B, T);
    if (wait) await loss.data();
    loss.dispose();
    Object.values(b).forEach((t) => t.dispose());
  };
  await stepOnce(0, true);
  const t0 = performance.now();
  for (let s = 1; s <= steps; s++) await stepOnce(s, s === steps);
  const stepMs = (performance.now() - t0) / steps;
  model.dispose();
  console.log(
    `tfjs-webgpu full step ${stepMs.toFixed(0)} ms; ours/theirs ${(oursMs / stepMs).toFixed(2)}`,
  );
  const matmul = [];
  for (const [inF, outF] of [[768, 768], [768, 3072], [3072, 768]]) {
    const flops = 2 * 512 * inF * outF;
    const x = tf.randomNormal([512, inF]), w = tf.randomNormal([outF, inF]);
    await tf.matMul(x, w, false, true).data();
    const t1 = performance.now();
    const c = tf.matMul(x, w, false, true);
    await c.data();
    const theirs = flops / ((performance.now() - t1) / 1000) / 1e9;
    [x, w, c].forEach((t) => t.dispose());
    const xo = Tensor.from(new Float32Array(512 * inF).fill(0.5), [512, inF]),
      wo = Tensor.from(new Float32Array(outF * inF).fill(0.25), [outF, inF]);
    matmulRaw({ a: xo, b: wo, transB: true }).release();
    await sync();
    const t2 = performance.now();
    const co = matmulRaw({ a: xo, b: wo, transB: true });
    await co.read(); // the same protocol as tfjs: compute and read back
    const ours = flops / ((performance.now() - t2) / 1000) / 1e9;
    [xo, wo, co].forEach((t) => t.release());
    matmul.push({ shape: `512x${inF}x${outF} (x·Wᵀ)`, ours_gflops: ours, tfjs_gflops: theirs });
    console.log(
      `matmul 512x${inF}x${outF}: ours ${ours.toFixed(2)} GFLOP/s, tfjs ${
        theirs.toFixed(2)
      } GFLOP/s, ratio ${(ours / theirs).toFixed(2)}`,
    );
  }
  return { step_ms: stepMs, ratio: oursMs / stepMs, matmul };
}

/** The same step in plain PyTorch on the CPU, best of 1 and 2 threads per mode; null if absent. */
async function runTorchPeer(
  config: BertConfig,
  enc: Encoding[],
  labels: number[],
  B: number,
  steps: number,
): Promise<TorchPeer | { skipped: string }> {
  const spec = {
    config: {
      hidden: config.hiddenSize,
      layers: config.numHiddenLayers,
      heads: config.numAttentionHeads,
      intermediate: config.intermediateSize,
      vocab: config.vocabSize,
      max_pos: config.maxPositionEmbeddings,
      type_vocab: config.typeVocabSize,
      eps: config.layerNormEps,
    },
    batches: Array.from({ length: steps + 1 }, (_, s) => ({
      ids: enc.slice(s * B, (s + 1) * B).map((e) => e.inputIds),
      mask: enc.slice(s * B, (s + 1) * B).map((e) => e.attentionMask),
      labels: labels.slice(s * B, (s + 1) * B),
    })),
    lora: { r: 8, alpha: 16 },
    threads: 1,
  };
  const script = new URL("./peer/torch_bert.py", import.meta.url).pathname;
  let best: TorchPeer | null = null;
  for (const threads of [1, 2]) {
    let out: Deno.CommandOutput;
    try {
      const child = new Deno.Command(
        (await exists("/usr/bin/python3.11")) ? "/usr/bin/python3.11" : "python3",
        { args: [script], stdin: "piped", stdout: "piped", stderr: "piped" },
      ).spawn();
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(JSON.stringify({ ...spec, threads })));
      await w.close();
      out = await child.output();
    } catch (e) {
      return { skipped: `no python: ${(e as Error).message}` };
    }
    if (!out.success) {
      const err = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1) ?? "";
      return { skipped: `PyTorch peer did not run: ${err}` };
    }
    const r = JSON.parse(new TextDecoder().decode(out.stdout)) as TorchPeer;
    if (!best) best = r;
    else {
      for (const m of Object.keys(r.modes)) {
        if (r.modes[m].step_ms < best.modes[m].step_ms) best.modes[m] = r.modes[m];
      }
      best.threads = Math.max(best.threads, r.threads);
    }
  }
  console.log(
    `pytorch ${best!.torch} CPU (best of 1 and 2 threads): ${
      ["full", "head", "lora"].map((m) => `${m} ${best!.modes[m].step_ms.toFixed(0)} ms`).join(", ")
    }`,
  );
  return best!;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

type Result = {
  adapter: string;
  model: string;
  steps: number;
  batch: number;
  seq_len: number;
  /** Whether batches were packed (absent in results from before packing: padded). */
  packing?: boolean;
  command?: string;
  date?: string;
  weight_bytes?: number;
  tuning?: Record<string, string>;
  browser_tuning?: BrowserTuning | { skipped: string } | null;
  modes: Record<string, ModeTiming>;
  peer: Awaited<ReturnType<typeof runPeer>> | null;
  torch?: TorchPeer | { skipped: string } | null;
};

function isTorch(t: Result["torch"]): t is TorchPeer {
  return !!t && "modes" in t;
}

async function writeResults(file: string, r: Result) {
  const m = r.modes;
  const opt = (x: number | undefined, digits = 0) => x === undefined ? "–" : x.toFixed(digits);
  const row = (k: string) =>
    `| ${k} | ${m[k].step_ms.toFixed(0)} | ${m[k].epoch_s.toFixed(0)} | ${
      m[k].eval_s.toFixed(0)
    } | ${m[k].tokens_per_s.toFixed(0)} | ${m[k].trainable_params.toLocaleString("en-US")} | ${
      (m[k].peak_bytes / 2 ** 20).toFixed(0)
    } MiB | ${(m[k].step_ms / m.full.step_ms).toFixed(2)} | ${
      (m[k].peak_bytes / m.full.peak_bytes).toFixed(2)
    } | ${opt(m[k].dispatches_per_step)} | ${opt(m[k].host_ms_per_step)} |`;
  const lines = [
    `# ${r.adapter}`,
    "",
    `\`${r.command ?? `deno task bench:modes ${Deno.args.join(" ")}`}\` on ${
      r.date ?? new Date().toISOString().slice(0, 10)
    }: model ${r.model}, batch ${r.batch} × ${r.seq_len} tokens (${
      r.packing ? "packed" : "padded"
    }), ${r.steps} timed steps after one warm-up step per mode; epoch = 279 steps, eval = 1,115 messages (extrapolated from one batch of ${r.batch}). Host ms: time the CPU spends recording a step's GPU work (encoding dispatches, bind groups, autograd), without the time inside queue.submit/writeBuffer.`,
    "",
    "| mode | step ms | epoch s | eval s | tokens/s | trainable params | peak memory | step / full | memory / full | dispatches / step | host ms / step |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...["full", "head", "lora"].map(row),
  ];
  if (r.tuning) {
    lines.push(
      "",
      `Kernel choices: ${Object.entries(r.tuning).map(([k, v]) => `${k} ${v}`).join("; ")}.`,
    );
  }
  const bt = r.browser_tuning;
  if (bt && "adapter" in bt) {
    lines.push(
      "",
      `Kernel choices in headless Chromium, adapter ${bt.adapter} (same shapes, in-memory store): ${
        Object.entries(bt.tuning).map(([k, v]) => `${k} ${v}`).join("; ")
      }.`,
    );
  } else if (bt) lines.push("", `Kernel choices in Chromium skipped: ${bt.skipped}.`);
  if (isTorch(r.torch)) {
    const t = r.torch;
    lines.push(
      "",
      `PyTorch ${t.torch} on the CPU (bench/peer/torch_bert.py: the same BERT in torch.nn, AdamW, same batches, best of 1 and 2 threads), same run:`,
      "",
      "| mode | PyTorch step ms | ours step ms | ours / PyTorch |",
      "| --- | ---: | ---: | ---: |",
      ...["full", "head", "lora"].map((k) =>
        `| ${k} | ${t.modes[k].step_ms.toFixed(0)} | ${m[k].step_ms.toFixed(0)} | ${
          (m[k].step_ms / t.modes[k].step_ms).toFixed(2)
        } |`
      ),
    );
  } else if (r.torch) {
    lines.push("", `PyTorch peer skipped: ${r.torch.skipped}.`);
  }
  if (r.peer) {
    lines.push(
      "",
      `TensorFlow.js WebGPU (tfjs-core 4.22.0), same model, batch and AdamW step, same process: ${
        r.peer.step_ms.toFixed(0)
      } ms per full step; ours/theirs **${r.peer.ratio.toFixed(2)}**.`,
      "",
      "| matmul (compute + readback) | ours GFLOP/s | tfjs GFLOP/s | ours / tfjs |",
      "| --- | ---: | ---: | ---: |",
    );
    for (const x of r.peer.matmul) {
      lines.push(
        `| ${x.shape} | ${x.ours_gflops.toFixed(2)} | ${x.tfjs_gflops.toFixed(2)} | ${
          (x.ours_gflops / x.tfjs_gflops).toFixed(2)
        } |`,
      );
    }
  }
  lines.push("", ...targets(r));
  await Deno.mkdir(file.slice(0, file.lastIndexOf("/")), { recursive: true });
  await writeFileAtomic(file, lines.join("\n") + "\n");
  console.log(`results: ${file}`);
}

/** The issue's targets, met or missed by how much, with the measured quantities that limit them. */
function targets(r: Result): string[] {
  const m = r.modes, mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const verdict = (ok: boolean, got: number, target: number, less = true) =>
    ok
      ? `met (${got.toFixed(3)})`
      : `missed: ${got.toFixed(3)} against ${less ? "≤" : "≥"} ${target} (${less ? "+" : "−"}${
        Math.abs(got - target).toFixed(3)
      })`;
  const lora = m.lora.step_ms / m.full.step_ms, head = m.head.step_ms / m.full.step_ms;
  const mem = m.lora.peak_bytes / m.full.peak_bytes;
  const headMem = m.head.peak_bytes / m.full.peak_bytes;
  // The head step is the encoder's forward pass (no backward through it): the forward's share.
  const backwardShare = (m.lora.step_ms - m.head.step_ms) / (m.full.step_ms - m.head.step_ms);
  const weights = r.weight_bytes ?? 0;
  const out = ["## Targets", ""];
  if (isTorch(r.torch)) {
    for (const [k, limit] of [["full", 1], ["head", 2], ["lora", 2]] as const) {
      const x = m[k].step_ms / r.torch.modes[k].step_ms;
      out.push(
        `- ${k} step ≤ ${limit.toFixed(1)}× PyTorch CPU's: ${verdict(x <= limit, x, limit)}.`,
      );
    }
  }
  if (r.peer) {
    const ratios = r.peer.matmul.map((x) => x.ours_gflops / x.tfjs_gflops);
    out.push(
      `- matmul ≥ 2× TensorFlow.js WebGPU at the three BERT-base shapes: ${
        verdict(Math.min(...ratios) >= 2, Math.min(...ratios), 2, false)
      } (lowest ratio).`,
      `- full training step ≤ 0.5× TensorFlow.js: ${
        verdict(r.peer.ratio <= 0.5, r.peer.ratio, 0.5)
      }.`,
    );
  }
  const dispatches = m.full.dispatches_per_step;
  out.push(
    `- lora step ≤ 0.55× full: ${
      verdict(lora <= 0.55, lora, 0.55)
    }. LoRA skips the weight-gradient matmuls and AdamW over ${
      (weights / 4 / 1e6).toFixed(0)
    } M parameters but must still backpropagate the input gradient through every layer: the forward pass is ${
      (head * 100).toFixed(0)
    } % of a full step (head/full), and LoRA's backward costs ${
      (backwardShare * 100).toFixed(0)
    } % of full's ((lora − head)/(full − head)).`,
    `- head step ≤ 0.2× full: ${
      verdict(head <= 0.2, head, 0.2)
    }: a head step is the frozen encoder's forward pass plus the classifier.`,
    `- lora peak memory ≤ 0.35× full: ${verdict(mem <= 0.35, mem, 0.35)}. The frozen weights (${
      mib(weights)
    }) stay resident; lora keeps what its backward reads (≈ ${
      mib(m.lora.peak_bytes - weights)
    } = lora peak − weights); full adds gradients and AdamW state (3 × ${mib(weights)}).`,
    `- head peak memory ≤ 0.15× full: ${
      verdict(headMem <= 0.15, headMem, 0.15)
    }. The f32 weights alone are ${
      (weights / m.full.peak_bytes).toFixed(3)
    } of full's peak; head keeps one layer's activations on top (${
      mib(m.head.peak_bytes - weights)
    }).`,
  );
  if (dispatches !== undefined) {
    out.push(
      `- dispatches per full step ≤ 500: ${verdict(dispatches <= 500, dispatches, 500)}.`,
    );
  }
  return out;
}
