// WebGPU faults, collected without waiting and turned into a GpuError where the CPU already waits.
// WebGPU reports errors asynchronously: an error scope resolves after the call, and an unscoped
// error arrives as an `uncapturederror` event. Awaiting a scope after every dispatch would stall the
// training step, so allocations and pipeline creations are scoped without awaiting, every other
// error is caught by the device's event, and `checkFaults()` runs at the readback points (loss,
// evaluation, saving), where the CPU waits for the GPU anyway.
import { GpuError } from "../errors.ts";

let first: string | null = null;
let later = 0;
const pending: Promise<void>[] = [];

/** Keeps the first fault (the cause; later ones are usually its consequences) and a count. */
export function recordFault(message: string): void {
  if (first === null) first = message;
  else later++;
}

/**
 * Runs a synchronous WebGPU call inside validation and out-of-memory error scopes; the scopes are
 * popped at once but not awaited, and an error they catch is recorded under `operation`.
 */
export function scoped<T>(device: GPUDevice, operation: string, fn: () => T): T {
  device.pushErrorScope("out-of-memory");
  device.pushErrorScope("validation");
  try {
    return fn();
  } finally {
    const validation = device.popErrorScope();
    const memory = device.popErrorScope();
    pending.push(
      Promise.all([validation, memory]).then(([v, m]) => {
        if (v) recordFault(`${operation}: ${v.message}`);
        if (m) recordFault(`${operation}: out of GPU memory (${m.message})`);
      }, (e) => recordFault(`${operation}: ${(e as Error).message}`)),
    );
  }
}

/** Throws the first recorded fault as a GpuError; faults are sticky (the device state is lost). */
export async function checkFaults(): Promise<void> {
  if (pending.length > 0) await Promise.all(pending.splice(0));
  if (first !== null) {
    throw new GpuError(`${first}${later ? ` (and ${later} later WebGPU errors)` : ""}`);
  }
}

/**
 * The recorded fault as a GpuError, or null: for an exception that may be a fault's consequence
 * (after a device loss WebGPU calls throw OperationError), so the cause is reported instead.
 * Lets pending events (device.lost, scopes) arrive first.
 */
export async function faultAfter(): Promise<GpuError | null> {
  await new Promise((resolve) => setTimeout(resolve, 0));
  try {
    await checkFaults();
    return null;
  } catch (e) {
    return e as GpuError;
  }
}
