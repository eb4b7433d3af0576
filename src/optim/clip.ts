// clipGradNorm: scales all gradients so their global L2 norm is at most maxNorm, on the GPU; the
// factor lands in the optimizer's gradScale, which its update kernels multiply in.
import { Tensor } from "../tensor.ts";
import { gpu } from "../gpu/kernel.ts";
import type { Optimizer } from "./optimizer.ts";

export class GradClipper {
  private partials: Tensor;
  /** (2): the scale and the norm before clipping, readable for logging. */
  readonly result: Tensor;

  constructor(private opt: Optimizer, readonly maxNorm: number) {
    this.partials = Tensor.zeros([opt.params.length * 256]);
    this.result = Tensor.zeros([2]);
  }

  /** Call after backward, before opt.step(). */
  clip(): void {
    const rt = gpu();
    const count = this.opt.params.length * 256;
    rt.clear(this.partials.buffer);
    this.opt.params.forEach((p, slot) => {
      if (!p.grad) return;
      rt.dispatch(
        { shader: "optim.wgsl", entry: "grad_sum_squares" },
        [p.grad.buffer, this.partials.buffer],
        [p.size, slot, count],
        [this.maxNorm],
        [1],
      );
    });
    rt.dispatch(
      { shader: "optim.wgsl", entry: "grad_clip_scale" },
      [null, this.partials.buffer, this.result.buffer],
      [0, 0, count],
      [this.maxNorm],
      [1],
    );
    rt.copy(this.result.buffer, this.opt.gradScale.buffer, 4);
  }

  release(): void {
    this.partials.release();
    this.result.release();
  }
}
