// The peer: the same BertForSequenceClassification and AdamW step in TensorFlow.js on its WebGPU
// backend, on the same adapter, so step times compare engine to engine.
// Inline npm specifiers, not deno.json imports: `deno task` installs every deno.json import before
// any command runs, and TensorFlow.js (~70 packages) is needed by this peer bench only.
// deno-lint-ignore no-import-prefix
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
// deno-lint-ignore no-import-prefix
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";
// The union package registers the gradient functions tfjs-core ships separately.
// deno-lint-ignore no-import-prefix
import "npm:@tensorflow/tfjs@4.22.0";
import type { BertConfig } from "../../src/bert/config.ts";
import { paramShapes } from "../../src/bert/params.ts";

export async function initTfjs(): Promise<void> {
  await tf.setBackend("webgpu");
  await tf.ready();
}

export class TfjsBert {
  readonly vars = new Map<string, tf.Variable>();
  private opt: tf.AdamOptimizer;

  constructor(readonly c: BertConfig, readonly lr = 5e-5, readonly weightDecay = 0.01) {
    for (const [name, shape] of paramShapes(c)) {
      const init = name.includes("LayerNorm.weight")
        ? tf.ones(shape)
        : name.endsWith(".bias")
        ? tf.zeros(shape)
        : tf.randomNormal(shape, 0, c.initializerRange);
      this.vars.set(name, tf.variable(init, true, name));
    }
    this.opt = tf.train.adam(lr, 0.9, 0.999, 1e-8);
  }

  private p = (n: string) => this.vars.get(n)!;
  private dense = (path: string, x: tf.Tensor2D) =>
    tf.add(
      tf.matMul(x, this.p(`${path}.weight`), false, true),
      this.p(`${path}.bias`),
    ) as tf.Tensor2D;
  private layerNorm(path: string, x: tf.Tensor2D): tf.Tensor2D {
    const { mean, variance } = tf.moments(x, -1, true);
    const xh = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, this.c.layerNormEps)));
    return tf.add(tf.mul(xh, this.p(`${path}.weight`)), this.p(`${path}.bias`)) as tf.Tensor2D;
  }
  private drop = <T extends tf.Tensor>(
    x: T,
    p: number,
    train: boolean,
  ): T => (train && p > 0 ? tf.dropout(x, p) as T : x);

  /** Logits (B, labels) for ids (B·T) int32 and mask (B, T). */
  forward(ids: tf.Tensor1D, mask: tf.Tensor2D, B: number, T: number, train: boolean): tf.Tensor2D {
    const c = this.c, H = c.hiddenSize, heads = c.numAttentionHeads, D = H / heads;
    const pos = tf.tile(tf.range(0, T, 1, "int32"), [B]);
    let h = tf.add(
      tf.add(
        tf.gather(this.p("bert.embeddings.word_embeddings.weight"), ids),
        tf.gather(this.p("bert.embeddings.position_embeddings.weight"), pos),
      ),
      tf.gather(this.p("bert.embeddings.token_type_embeddings.weight"), tf.zerosLike(ids)),
    ) as tf.Tensor2D;
    h = this.drop(this.layerNorm("bert.embeddings.LayerNorm", h), c.hiddenDropoutProb, train);
    const addMask = tf.reshape(tf.mul(tf.sub(1, mask), -3.4028234663852886e38), [B, 1, 1, T]);
    const split = (x: tf.Tensor2D) => tf.transpose(tf.reshape(x, [B, T, heads, D]), [0, 2, 1, 3]);
    for (let i = 0; i < c.numHiddenLayers; i++) {
      const l = `bert.encoder.layer.${i}`;
      const q = split(this.dense(`${l}.attention.self.query`, h)),
        k = split(this.dense(`${l}.attention.self.key`, h)),
        v = split(this.dense(`${l}.attention.self.value`, h));
      const scores = tf.add(
        tf.mul(tf.matMul(q as tf.Tensor4D, k as tf.Tensor4D, false, true), 1 / Math.sqrt(D)),
        addMask,
      );
      const probs = this.drop(tf.softmax(scores), c.attentionProbsDropoutProb, train);
      const ctx = tf.reshape(
        tf.transpose(tf.matMul(probs as tf.Tensor4D, v as tf.Tensor4D), [0, 2, 1, 3]),
        [B * T, H],
      ) as tf.Tensor2D;
      h = this.layerNorm(
        `${l}.attention.output.LayerNorm`,
        tf.add(
          this.drop(this.dense(`${l}.attention.output.dense`, ctx), c.hiddenDropoutProb, train),
          h,
        ) as tf.Tensor2D,
      );
      const inter = this.dense(`${l}.intermediate.dense`, h);
      const gelu = tf.mul(
        tf.mul(inter, 0.5),
        tf.add(1, tf.erf(tf.div(inter, Math.SQRT2))),
      ) as tf.Tensor2D;
      h = this.layerNorm(
        `${l}.output.LayerNorm`,
        tf.add(
          this.drop(this.dense(`${l}.output.dense`, gelu), c.hiddenDropoutProb, train),
          h,
        ) as tf.Tensor2D,
      );
    }
    const cls = tf.gather(h, tf.range(0, B * T, T, "int32"));
    const pooled = tf.tanh(this.dense("bert.pooler.dense", cls as tf.Tensor2D)) as tf.Tensor2D;
    return this.dense("classifier", this.drop(pooled, c.hiddenDropoutProb, train));
  }

  /** One full fine-tuning step: mean cross-entropy, AdamW (decoupled decay, then Adam). */
  step(ids: tf.Tensor1D, mask: tf.Tensor2D, labels: tf.Tensor1D, B: number, T: number): tf.Scalar {
    return tf.tidy(() => {
      for (const v of this.vars.values()) v.assign(tf.mul(v, 1 - this.lr * this.weightDecay));
      const { value, grads } = tf.variableGrads(() => {
        const logits = this.forward(ids, mask, B, T, true);
        const onehot = tf.oneHot(labels, this.c.numLabels);
        return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), -1))) as tf.Scalar;
      });
      this.opt.applyGradients(grads as tf.NamedTensorMap as Record<string, tf.Variable>);
      return value;
    });
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.opt.dispose();
  }
}

export { tf };
