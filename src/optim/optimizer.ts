// Optimizers update parameters in place on the GPU. Per-step scalars (lr, bias corrections) go
// into one small buffer written once per step, so pipelines and bind groups stay cached.
import { Tensor } from "../tensor.ts";
import { gpu, grid1d } from "../gpu/kernel.ts";

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

  protected dispatch(entry: string, param: Tensor, buffers: GPUBuffer[]): void {
    gpu().dispatch(
      { shader: "optim.wgsl", entry },
      [param.buffer, param.grad!.buffer, this.hyper.buffer, this.gradScale.buffer, ...buffers],
      [Math.ceil(param.size / 4)],
      [],
      grid1d(Math.ceil(param.size / 4), 256),
    );
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
