// AdamW with torch.optim.AdamW's semantics and defaults.
import { Tensor } from "../tensor.ts";
import { Optimizer } from "./optimizer.ts";

export interface AdamWOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export class AdamW extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  private state: { m: Tensor; v: Tensor }[] = [];

  constructor(params: Tensor[], opts: AdamWOptions = {}) {
    super(params, opts.lr ?? 1e-3, opts.weightDecay ?? 0.01);
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
  }

  protected hyperValues(): number[] {
    const t = this.stepCount;
    const bc1 = 1 - Math.pow(this.beta1, t);
    const bc2 = 1 - Math.pow(this.beta2, t);
    return [this.lr, this.beta1, this.beta2, this.eps, this.weightDecay, bc1, bc2, 0];
  }

  protected updateOne(param: Tensor, _grad: Tensor, i: number): void {
    this.state[i] ??= { m: Tensor.zeros(param.shape), v: Tensor.zeros(param.shape) };
    this.dispatch("adamw_step", param, [this.state[i].m.buffer, this.state[i].v.buffer]);
  }

  /** torch's exp_avg and exp_avg_sq of parameter i (as its shape), null before its first step. */
  moments(i: number): { m: Tensor; v: Tensor } | null {
    return this.state[i] ?? null;
  }

  /** Restores parameter i's moments (resuming a run); stepCount is restored by the caller. */
  setMoments(i: number, m: Float32Array, v: Float32Array): void {
    const shape = this.params[i].shape;
    this.state[i]?.m.release();
    this.state[i]?.v.release();
    this.state[i] = { m: Tensor.from(m, shape), v: Tensor.from(v, shape) };
  }

  override release(): void {
    super.release();
    for (const s of this.state) {
      s?.m.release();
      s?.v.release();
    }
    this.state = [];
  }
}
