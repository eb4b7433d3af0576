// AdamW with torch.optim.AdamW's semantics and defaults.
import { Tensor } from "../tensor.ts";
import { gpu } from "../gpu/kernel.ts";
import { Optimizer } from "./optimizer.ts";
import type { Kind } from "./arena.ts";

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
  protected readonly entry = "adamw_step";
  /** exp_avg and exp_avg_sq, each a zeroed slab set made at the first step (or restore). */
  protected readonly state: Kind[] = ["exp_avg", "exp_avg_sq"];

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

  /**
   * torch's exp_avg and exp_avg_sq of parameter i (as its shape; views of the arena, valid until
   * the next step or release), null before its first step.
   */
  moments(i: number): { m: Tensor; v: Tensor } | null {
    if (!this.stepped[i]) return null;
    return { m: this.arena.view("exp_avg", i), v: this.arena.view("exp_avg_sq", i) };
  }

  /** Restores parameter i's moments (resuming a run); stepCount is restored by the caller. */
  setMoments(i: number, m: Float32Array, v: Float32Array): void {
    const size = this.params[i].size;
    if (m.length !== size || v.length !== size) {
      throw new Error(`setMoments: ${m.length}/${v.length} values for ${size} elements`);
    }
    gpu().write(this.arena.view("exp_avg", i).buffer, m);
    gpu().write(this.arena.view("exp_avg_sq", i).buffer, v);
    this.stepped[i] = true;
  }
}
