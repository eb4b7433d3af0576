// transformers' get_linear_schedule_with_warmup: the factor for the update after `step` updates
// is step/warmup during warmup, then decays linearly to 0 at `total`.
export function linearWarmupDecay(step: number, warmup: number, total: number): number {
  if (step < warmup) return step / Math.max(1, warmup);
  return Math.max(0, (total - step) / Math.max(1, total - warmup));
}
