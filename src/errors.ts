// A UserError is bad input or a missing file: the CLI prints its one line and exits 1.
export class UserError extends Error {}

/**
 * A WebGPU fault: a validation error, an allocation past a limit or out of GPU memory, or a lost
 * device. Results computed after one are wrong, so the command stops (one line, exit 1) at the next
 * point where it reads the GPU back, before anything is printed or saved.
 */
export class GpuError extends Error {}
