// Tensors larger than one storage binding. WebGPU caps a binding at maxStorageBufferBindingSize
// (128 MiB on lavapipe and many Vulkan drivers) while a buffer may be far larger (maxBufferSize,
// 2 GiB there): a multilingual word embedding, 119,547 × 768 floats = 367 MB, fits one buffer but
// not one binding. Such a tensor keeps its one buffer and is bound through windows (offset/size
// bindings), each at most the binding limit and starting at a multiple of
// minStorageBufferOffsetAlignment; a kernel runs once per window. Elementwise kernels (optimizer
// steps, norms) split by element, gathers and scatters by row (a window holds whole rows).
import { GpuError } from "../errors.ts";
import { gpu } from "./kernel.ts";

/** A byte range of a buffer bound as one storage binding. */
export interface BindingWindow {
  buffer: GPUBuffer;
  /** Bytes from the buffer's start: a multiple of minStorageBufferOffsetAlignment. */
  offset: number;
  /** Bytes, at most the binding limit. */
  size: number;
  /** The window's first unit (element or row) and its number of units. */
  first: number;
  count: number;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * Splits `byteLength` bytes of whole `unitBytes` units into windows: consecutive, non-overlapping,
 * covering every unit once. One window (offset 0) when the bytes fit one binding. Throws a GpuError
 * when `alignBytes / gcd(unitBytes, alignBytes)` units (the smallest aligned step) exceed the limit.
 */
export function windowRanges(
  byteLength: number,
  unitBytes: number,
  maxBindingBytes: number,
  alignBytes: number,
): Omit<BindingWindow, "buffer">[] {
  const units = Math.ceil(byteLength / unitBytes);
  if (byteLength <= maxBindingBytes) {
    return [{ offset: 0, size: byteLength, first: 0, count: units }];
  }
  // A window starts at a unit whose byte offset is a multiple of the alignment.
  const step = alignBytes / gcd(unitBytes, alignBytes);
  const perWindow = Math.floor(maxBindingBytes / (step * unitBytes)) * step;
  if (perWindow === 0) {
    throw new GpuError(
      `a ${byteLength}-byte tensor cannot be split across bindings: ${step} units of ` +
        `${unitBytes} bytes exceed maxStorageBufferBindingSize (${maxBindingBytes} bytes)`,
    );
  }
  const out: Omit<BindingWindow, "buffer">[] = [];
  for (let first = 0; first < units; first += perWindow) {
    const count = Math.min(perWindow, units - first);
    out.push({ offset: first * unitBytes, size: count * unitBytes, first, count });
  }
  return out;
}

/**
 * The windows through which kernels bind `byteLength` bytes of `buffer` from `byteOffset` (0 for
 * a tensor that owns its buffer; a multiple of minStorageBufferOffsetAlignment for a tensor packed
 * into a larger buffer), in units of `unitBytes` (4 for elementwise kernels, a row's bytes for
 * gathers). One window when the bytes fit one binding; from offset 0 the dispatch then binds the
 * whole buffer, so small tensors keep their single dispatch and cached bind group. Tensors of equal
 * byte length get equal windows, so an elementwise kernel over several of them (parameter,
 * gradient, AdamW's m and v) binds window i of each together.
 */
export function bindingWindows(
  buffer: GPUBuffer,
  byteLength: number,
  unitBytes = 4,
  byteOffset = 0,
): BindingWindow[] {
  const rt = gpu();
  const align = rt.device.limits.minStorageBufferOffsetAlignment;
  if (byteOffset % align !== 0) {
    throw new GpuError(
      `a tensor at byte ${byteOffset} of its buffer cannot be bound: offsets must be multiples ` +
        `of minStorageBufferOffsetAlignment (${align} bytes)`,
    );
  }
  return rt.windows(byteLength, unitBytes).map((r) => ({
    buffer,
    ...r,
    offset: byteOffset + r.offset,
  }));
}
