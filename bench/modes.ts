// deno task bench:modes [--model DIR|PRESET] [--steps N] [--json FILE] [--peer]
// Times full, head and lora training steps (after a warm-up step) and an evaluation batch on one
// adapter, extrapolates to an epoch of the SMS task (4,459 training messages at batch 16 → 279
// steps; 1,115 validation messages), and with --peer runs TensorFlow.js WebGPU's full step and
// matmuls in the same process. Results go where --results FILE and --json FILE say, nowhere else.
import { intFlag, parseFlags, run } from "../src/cli/common.ts";
import { UserError } from "../src/errors.ts";
import { gpu, initGpu } from "../src/gpu/kernel.ts";
import { getAdapterName } from "../src/gpu/device.ts";
import { loadCheckpoint } from "../src/bert/checkpoint.ts";
import { BertForSequenceClassification } from "../src/bert/model.ts";
import { type Encoding, makeBatch } from "../src/data/batches.ts";
import { backward, endStep, noGrad } from "../src/autograd/tape.ts";
import { crossEntropy } from "../src/ops/cross_entropy.ts";
import { AdamW } from "../src/optim/adamw.ts";
import { type Mode, trainableTensors } from "../src/train/trainer.ts";
import { matmulRaw } from "../src/ops/matmul.ts";
import { Tensor } from "../src/tensor.ts";
import type { BertConfig } from "../src/bert/config.ts";
import { writeFileAtomic, writeJsonAtomic } from "../src/io/atomic.ts";

const TRAIN_MESSAGES = 4459, VAL_MESSAGES = 1115;

interface ModeTiming {
  step_ms: number;
  epoch_s: number;
  eval_s: number;
  tokens_per_s: number;
  trainable_params: number;
  peak_bytes: number;
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
  const ck = await loadCheckpoint(v.model, { seed: 42, tokenizerDir: v.tokenizer, warn: () => {} });
  const rt = await initGpu();
  const adapter = getAdapterName();
  console.log(
    `adapter: ${adapter}; model ${v.model}; batch ${B} × ${T}; ${steps} timed steps per mode`,
  );
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
    const t0 = performance.now();
    for (let s = 1; s <= steps; s++) stepOnce(s);
    await sync();
    const stepMs = (performance.now() - t0) / steps;
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
    };
    console.log(
      `${mode.padEnd(5)} step ${stepMs.toFixed(0)} ms, epoch ≈ ${
        modes[mode].epoch_s.toFixed(0)
      } s + eval ≈ ${evalS.toFixed(0)} s, ${modes[mode].tokens_per_s.toFixed(0)} tokens/s, ${
        modes[mode].trainable_params.toLocaleString("en-US")
      } trainable, peak ${(rt.pool.peakBytes / 2 ** 20).toFixed(0)} MiB`,
    );
    opt.release();
    model.release();
  }
  const ratio = (m: Mode, k: keyof ModeTiming) => modes[m][k] / modes.full[k];
  console.log(
    `lora/full step ${ratio("lora", "step_ms").toFixed(2)}, head/full step ${
      ratio("head", "step_ms").toFixed(2)
    }, lora/full peak memory ${ratio("lora", "peak_bytes").toFixed(2)}`,
  );

  let peer: {
    step_ms: number;
    ratio: number;
    matmul: { shape: string; ours_gflops: number; tfjs_gflops: number }[];
  } | null = null;
  if (v.peer) peer = await runPeer(ck.config, enc, labels, B, T, steps, modes.full.step_ms);

  const totalParams = modes.full.trainable_params;
  const result = {
    adapter,
    model: v.model,
    steps,
    batch: B,
    seq_len: T,
    command: `deno task bench:modes ${Deno.args.join(" ")}`,
    date: new Date().toISOString().slice(0, 10),
    weight_bytes: 4 * totalParams,
    modes,
    peer,
  };
  if (v.json) await writeJsonAtomic(v.json, result);
  // Results go only where asked (--results FILE), never over a tracked file by default.
  if (v.results) await writeResults(v.results, result);
});

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

async function writeResults(
  file: string,
  r: {
    adapter: string;
    model: string;
    steps: number;
    batch: number;
    seq_len: number;
    command?: string;
    date?: string;
    weight_bytes?: number;
    modes: Record<string, ModeTiming>;
    peer: Awaited<ReturnType<typeof runPeer>> | null;
  },
) {
  const m = r.modes;
  const row = (k: string) =>
    `| ${k} | ${m[k].step_ms.toFixed(0)} | ${m[k].epoch_s.toFixed(0)} | ${
      m[k].eval_s.toFixed(0)
    } | ${m[k].tokens_per_s.toFixed(0)} | ${m[k].trainable_params.toLocaleString("en-US")} | ${
      (m[k].peak_bytes / 2 ** 20).toFixed(0)
    } MiB | ${(m[k].step_ms / m.full.step_ms).toFixed(2)} | ${
      (m[k].peak_bytes / m.full.peak_bytes).toFixed(2)
    } |`;
  const lines = [
    `# ${r.adapter}`,
    "",
    `\`${r.command ?? `deno task bench:modes ${Deno.args.join(" ")}`}\` on ${
      r.date ?? new Date().toISOString().slice(0, 10)
    }: model ${r.model}, batch ${r.batch} × ${r.seq_len} tokens, ${r.steps} timed steps after one warm-up step per mode; epoch = 279 steps, eval = 1,115 messages (extrapolated from one batch of ${r.batch}).`,
    "",
    "| mode | step ms | epoch s | eval s | tokens/s | trainable params | peak memory | step / full | memory / full |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...["full", "head", "lora"].map(row),
  ];
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
function targets(r: {
  modes: Record<string, ModeTiming>;
  peer: Awaited<ReturnType<typeof runPeer>> | null;
  weight_bytes?: number;
}): string[] {
  const m = r.modes, mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const verdict = (ok: boolean, got: number, target: number, less = true) =>
    ok
      ? `met (${got.toFixed(3)})`
      : `missed: ${got.toFixed(3)} against ${less ? "≤" : "≥"} ${target} (${less ? "+" : "−"}${
        Math.abs(got - target).toFixed(3)
      })`;
  const lora = m.lora.step_ms / m.full.step_ms, head = m.head.step_ms / m.full.step_ms;
  const mem = m.lora.peak_bytes / m.full.peak_bytes;
  // The head step is the encoder's forward pass (no backward through it): the forward's share.
  const backwardShare = (m.lora.step_ms - m.head.step_ms) / (m.full.step_ms - m.head.step_ms);
  const weights = r.weight_bytes ?? 0;
  const out = ["## Targets", ""];
  if (r.peer) {
    const ratios = r.peer.matmul.map((x) => x.ours_gflops / x.tfjs_gflops);
    const best = Math.max(...r.peer.matmul.map((x) => x.ours_gflops));
    out.push(
      `- matmul ≥ 2× TensorFlow.js WebGPU at the three BERT-base shapes: ${
        verdict(Math.min(...ratios) >= 2, Math.min(...ratios), 2, false)
      } (lowest ratio).`,
      `- matmul ≥ 15 GFLOP/s on lavapipe: ${
        verdict(best >= 15, best, 15, false)
      } (best shape, compute + readback). Limit: the 16×16 register tile per thread spills on a CPU with 16 vector registers; every operand load is a per-lane gather. Variants measured while building it, on this machine at 512×768×3072: loop-indexed 8×8 tile 1.0–1.3, unrolled 8×8 3.4–4.7, vec4 panels 8×16 3–4.5, vec4 panels 16×16 (this kernel) 5.3–7.5 GFLOP/s.`,
      `- full training step ≤ 0.5× TensorFlow.js: ${
        verdict(r.peer.ratio <= 0.5, r.peer.ratio, 0.5)
      }.`,
    );
  }
  out.push(
    `- lora step ≤ 0.6× full: ${
      verdict(lora <= 0.6, lora, 0.6)
    }. Limit: LoRA skips the weight-gradient matmuls and AdamW over ${
      (weights / 4 / 1e6).toFixed(0)
    } M parameters but must still backpropagate the input gradient through every layer. The forward pass is ${
      (head * 100).toFixed(0)
    } % of a full step (head/full), and LoRA's backward still costs ${
      (backwardShare * 100).toFixed(0)
    } % of full's ((lora − head)/(full − head)).`,
    `- head step ≤ 0.25× full: ${
      verdict(head <= 0.25, head, 0.25)
    }: a head step is the frozen encoder's forward pass plus the classifier.`,
    `- lora peak memory ≤ 0.4× full: ${verdict(mem <= 0.4, mem, 0.4)}. Limit: the frozen weights (${
      mib(weights)
    }) stay resident, and lora keeps the activations the backward pass needs (≈ ${
      mib(m.lora.peak_bytes - weights)
    } = lora peak − weights); full adds gradients and AdamW state (3 × ${mib(weights)}).`,
  );
  return out;
}
