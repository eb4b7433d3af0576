// Optimizers update parameters in place on the GPU. Per-step scalars (lr, bias corrections) go
// into one small buffer written once per step, so pipelines and bind groups stay cached.
import { Tensor } from "../tensor.ts";
import { gpu, grid1d } from "../gpu/kernel.ts";
import { bindingWindows } from "../gpu/windows.ts";

export abstract class Optimizer {
  lr: number;
  stepCount = 0;
  protected hyper: Tensor;
  /** gradScale[0] multiplies every gradient: 1, or the clipping factor of this step. */
  readonly gradScale: Tensor;

  constructor(readonly params: Tensor[], lr: number, readonly weightDecay: number) {
    this.lr = lr;
    this.hyper = Tensor.zeros([8]);
    this.gradScale = Tensor.from([1], [1]);
  }

  protected abstract hyperValues(): number[];
  protected abstract updateOne(param: Tensor, grad: Tensor, index: number): void;

  step(): void {
    this.stepCount++;
    gpu().write(this.hyper.buffer, new Float32Array(this.hyperValues()));
    this.params.forEach((p, i) => {
      if (p.grad) this.updateOne(p, p.grad, i);
    });
  }

  /**
   * One dispatch per binding window: a tensor larger than one storage binding (a multilingual
   * word embedding) is updated window by window; parameter, gradient and state have equal byte
   * lengths, so window i of each covers the same elements.
   */
  protected dispatch(entry: string, param: Tensor, buffers: GPUBuffer[]): void {
    // The kernels update four elements per thread (vec4): windows split on whole vec4s, and the
    // last one covers the buffer's padding to 16 bytes (the pool rounds every buffer up to it).
    const bytes = Math.ceil(param.bytes / 16) * 16;
    const all = [param.buffer, param.grad!.buffer, ...buffers];
    const windows = all.map((b) => bindingWindows(b, bytes, 16));
    windows[0].forEach((w, i) => {
      const [p, g, ...state] = windows.map((ws) => ws[i]);
      gpu().dispatch(
        { shader: "optim.wgsl", entry },
        [p, g, this.hyper.buffer, this.gradScale.buffer, ...state],
        [w.count],
        [],
        grid1d(w.count, 256),
      );
    });
  }

  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.release();
      p.grad = null;
    }
  }

  release(): void {
    this.hyper.release();
    this.gradScale.release();
  }
}
