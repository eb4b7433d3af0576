// A few training steps through mod.ts only, on a tiny model whose files are built in memory: what
// a browser page does with a chosen folder. Run by tests/mod_test.ts in Deno and, through
// tests/browser/mod_page.ts, in Chromium; the two must agree.
import {
  AdamW,
  backward,
  BertForSequenceClassification,
  configJson,
  crossEntropy,
  endStep,
  initGpu,
  makeBatch,
  paramShapes,
  parseCheckpoint,
  serializeSafetensors,
} from "../mod.ts";
import { FIXTURE_MESSAGES, randomWeights, TINY_VOCAB, tinyConfig } from "./bert_fixture.ts";

/** A tiny model folder (config.json, vocab.txt, tokenizer_config.json, model.safetensors). */
export function tinyModelFiles(): Map<string, Uint8Array> {
  const config = tinyConfig({ vocab_size: TINY_VOCAB.length, max_position_embeddings: 16 });
  const weights = randomWeights(config, 5);
  const tensors = new Map(
    [...paramShapes(config)].map(([k, shape]) => [k, { shape, data: weights.get(k)! }]),
  );
  const text = (s: string) => new TextEncoder().encode(s);
  return new Map([
    ["config.json", text(JSON.stringify(configJson(config)))],
    ["vocab.txt", text(TINY_VOCAB.join("\n") + "\n")],
    ["tokenizer_config.json", text(JSON.stringify({ do_lower_case: true }))],
    ["model.safetensors", serializeSafetensors(tensors)],
  ]);
}

/** The loss of each of `steps` full fine-tuning steps (AdamW lr 1e-2) on the fixture messages. */
export async function trainTiny(steps: number): Promise<number[]> {
  await initGpu();
  const ck = await parseCheckpoint(tinyModelFiles(), { seed: 42, source: "tiny" });
  const model = new BertForSequenceClassification(ck.config, ck.weights);
  const params = [...model.params.values()];
  params.forEach((p) => (p.requiresGrad = true));
  const opt = new AdamW(params, { lr: 1e-2 });
  const enc = FIXTURE_MESSAGES.map(([, t]) => ck.tokenizer.encode(t, 12));
  const labels = FIXTURE_MESSAGES.map(([l]) => (l === "spam" ? 1 : 0));
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const batch = makeBatch(enc, labels, ck.config.vocabSize);
    const loss = crossEntropy(model.forward(batch, { train: true, dropoutSeed: s }), batch.labels!);
    backward(loss);
    opt.step();
    opt.zeroGrad();
    losses.push((await loss.read())[0]);
    endStep();
  }
  opt.release();
  params.forEach((p) => p.release());
  return losses;
}
