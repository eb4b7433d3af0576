// Plain SGD (torch.optim.SGD without momentum): p ← p - lr · (g + wd · p).
import { Tensor } from "../tensor.ts";
import { Optimizer } from "./optimizer.ts";
import type { Kind } from "./arena.ts";

export class SGD extends Optimizer {
  protected readonly entry = "sgd_step";
  protected readonly state: Kind[] = [];

  constructor(params: Tensor[], opts: { lr?: number; weightDecay?: number } = {}) {
    super(params, opts.lr ?? 1e-3, opts.weightDecay ?? 0);
  }

  protected hyperValues(): number[] {
    return [this.lr, 0, 0, 0, this.weightDecay, 1, 1, 0];
  }
}
