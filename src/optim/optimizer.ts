// Optimizers update parameters in place on the GPU. Per-step scalars (lr, bias corrections) go
// into one small buffer written once per step, so pipelines and bind groups stay cached. Every
// parameter, gradient and state lives in the optimizer's flat arena (arena.ts), so a step is one
// dispatch per arena slab, not one per tensor.
import { Tensor } from "../tensor.ts";
import { gpu, grid1d } from "../gpu/kernel.ts";
import { type ArenaUnit, type Kind, optimKernel, ParamArena } from "./arena.ts";

export abstract class Optimizer {
  lr: number;
  stepCount = 0;
  protected hyper: Tensor;
  /** gradScale[0] multiplies every gradient: 1, or the clipping factor of this step. */
  readonly gradScale: Tensor;
  /** Where the parameters now live; built (and the parameters moved there) by the constructor. */
  readonly arena: ParamArena;
  /** Whether parameter i has been updated (or its state restored): its state is meaningful. */
  protected stepped: boolean[];

  /** Create before any forward pass: the parameters move into the arena (Tensor.relocate). */
  constructor(readonly params: Tensor[], lr: number, readonly weightDecay: number) {
    this.lr = lr;
    this.hyper = Tensor.zeros([8]);
    this.gradScale = Tensor.from([1], [1]);
    this.arena = new ParamArena(params);
    this.stepped = params.map(() => false);
  }

  protected abstract hyperValues(): number[];
  /** The update kernel's entry point in shaders/optim.wgsl and the state slabs it binds. */
  protected abstract readonly entry: string;
  protected abstract readonly state: Kind[];

  /**
   * Moves gradients set directly (a test, a benchmark, an op that made its own) into their arena
   * slots; gradients made by autograd are there already. Returns which parameters have one: the
   * others are skipped this step, no decay and no moment update, as torch skips `grad is None`.
   */
  gatherGrads(): boolean[] {
    const rt = gpu();
    return this.params.map((p, i) => {
      if (!p.grad) return false;
      if (!this.arena.isSlot("grad", i, p.grad)) {
        const home = this.arena.view("grad", i);
        rt.copy(p.grad.buffer, home.buffer, p.bytes);
        p.grad.release();
        p.grad = home;
      }
      return true;
    });
  }

  /** The dispatches of this step: one per binding window of each slab with a gradient in it. */
  units(): ArenaUnit[] {
    return this.arena.unitsFor(this.gatherGrads());
  }

  step(): void {
    this.stepCount++;
    const rt = gpu();
    rt.write(this.hyper.buffer, new Float32Array(this.hyperValues()));
    const units = this.units();
    this.params.forEach((p, i) => this.stepped[i] ||= p.grad !== null);
    for (const kind of this.state) this.arena.allocate(kind);
    for (const u of units) {
      const state = this.state.map((kind) => this.arena.binding(kind, u));
      rt.dispatch(
        optimKernel(this.entry),
        [
          this.arena.binding("param", u),
          this.arena.binding("grad", u),
          this.hyper.buffer,
          this.gradScale.buffer,
          state[0] ?? null,
          state[1] ?? null,
          u.table,
        ],
        [u.workgroups],
        [],
        grid1d(u.workgroups, 1),
      );
    }
  }

  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.release();
      p.grad = null;
    }
  }

  /** Frees the arena; the parameters move back into buffers of their own and stay usable. */
  release(): void {
    this.arena.release();
    this.hyper.release();
    this.gradScale.release();
  }
}
