// clipGradNorm: scales all gradients so their global L2 norm is at most maxNorm, on the GPU; the
// factor lands in the optimizer's gradScale, which its update kernels multiply in. The squares are
// summed over the optimizer's gradient slabs: one dispatch per slab window, then one for the scale.
import { Tensor } from "../tensor.ts";
import { gpu, grid1d } from "../gpu/kernel.ts";
import type { Optimizer } from "./optimizer.ts";
import { optimKernel } from "./arena.ts";

export class GradClipper {
  /** One partial sum per workgroup of the norm dispatches; grows if more tensors get gradients. */
  private partials: Tensor | null = null;
  /** (2): the scale and the norm before clipping, readable for logging. */
  readonly result: Tensor;

  constructor(private opt: Optimizer, readonly maxNorm: number) {
    this.result = Tensor.zeros([2]);
  }

  /** Call after backward, before opt.step(). */
  clip(): void {
    const rt = gpu();
    const units = this.opt.units();
    const count = units.reduce((n, u) => n + u.workgroups, 0);
    if (!this.partials || this.partials.size < Math.max(count, 1)) {
      this.partials?.release();
      this.partials = Tensor.zeros([Math.max(count, 1)]);
    }
    let base = 0;
    for (const u of units) {
      rt.dispatch(
        optimKernel("grad_sum_squares"),
        [this.opt.arena.binding("grad", u), this.partials.buffer, null, u.table],
        [u.workgroups, base, 0],
        [this.maxNorm],
        grid1d(u.workgroups, 1),
      );
      base += u.workgroups;
    }
    rt.dispatch(
      { shader: "optim.wgsl", entry: "grad_clip_scale" },
      [null, this.partials.buffer, this.result.buffer, null],
      [0, 0, count],
      [this.maxNorm],
      [1],
    );
    rt.copy(this.result.buffer, this.opt.gradScale.buffer, 4);
  }

  release(): void {
    this.partials?.release();
    this.result.release();
  }
}
