// clipGradNorm: scales all gradients so their global L2 norm is at most maxNorm, on the GPU; the
// factor lands in the optimizer's gradScale, which its update kernels multiply in.
import { Tensor } from "../tensor.ts";
import { gpu } from "../gpu/kernel.ts";
import { bindingWindows } from "../gpu/windows.ts";
import type { Optimizer } from "./optimizer.ts";

export class GradClipper {
  private partials: Tensor;
  /** (2): the scale and the norm before clipping, readable for logging. */
  readonly result: Tensor;

  /** 256 partial sums per binding window of each gradient (one window unless it is huge). */
  private slots: number;

  constructor(private opt: Optimizer, readonly maxNorm: number) {
    this.slots = opt.params.reduce((n, p) => n + gpu().windows(p.bytes).length, 0);
    this.partials = Tensor.zeros([this.slots * 256]);
    this.result = Tensor.zeros([2]);
  }

  /** Call after backward, before opt.step(). */
  clip(): void {
    const rt = gpu();
    const count = this.slots * 256;
    rt.clear(this.partials.buffer);
    let slot = 0; // slots follow params and their windows; a param without a gradient adds 0s
    for (const p of this.opt.params) {
      if (!p.grad) {
        slot += rt.windows(p.bytes).length;
        continue;
      }
      for (const w of bindingWindows(p.grad.buffer, p.bytes)) {
        rt.dispatch(
          { shader: "optim.wgsl", entry: "grad_sum_squares" },
          [w, this.partials.buffer],
          [w.count, slot++, count],
          [this.maxNorm],
          [1],
        );
      }
    }
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
