// Reuses freed GPU buffers of the same size. Queue order makes reuse safe: a buffer released
// while earlier work still reads it is only written by work submitted after that work.

import { GpuError } from "../errors.ts";
import { scoped } from "./faults.ts";

// Read at allocation, not at import: importing the library where WebGPU is absent (Node, an old
// browser) must not throw; initGpu throws NoAdapterError there instead.
const storageUsage = () =>
  GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  /** Buffers handed out and not yet released. */
  live = 0;
  /** Bytes of every buffer the pool created (handed out or waiting for reuse). */
  allocatedBytes = 0;
  peakBytes = 0;

  constructor(private device: GPUDevice) {}

  /** Sizes round up to 16 bytes, the granularity of storage bindings. */
  static roundSize(bytes: number): number {
    return Math.max(16, Math.ceil(bytes / 16) * 16);
  }

  acquire(bytes: number): GPUBuffer {
    const size = BufferPool.roundSize(bytes);
    const list = this.free.get(size);
    this.live++;
    if (list && list.length > 0) return list.pop()!;
    const limit = this.device.limits.maxBufferSize;
    if (size > limit) {
      throw new GpuError(
        `allocating a ${size}-byte tensor: over the adapter's maxBufferSize of ${limit} bytes`,
      );
    }
    // Scoped, not awaited: out of memory is recorded and thrown at the next readback (faults.ts).
    const buffer = scoped(
      this.device,
      `allocating a ${size}-byte tensor (maxBufferSize ${limit} bytes)`,
      () => this.device.createBuffer({ size, usage: storageUsage() }),
    );
    this.allocatedBytes += size;
    this.peakBytes = Math.max(this.peakBytes, this.allocatedBytes);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    const list = this.free.get(buffer.size);
    if (list) list.push(buffer);
    else this.free.set(buffer.size, [buffer]);
    this.live--;
  }

  /**
   * Destroys a handed-out buffer instead of keeping it for reuse: one of a size nothing else asks
   * for (a parameter's own buffer once it moved into an optimizer arena). Submit work using it first.
   */
  discard(buffer: GPUBuffer): void {
    this.allocatedBytes -= buffer.size;
    this.live--;
    buffer.destroy();
  }

  /** Destroys every waiting buffer, e.g. between benchmark modes so peaks are per mode. */
  trim(): void {
    for (const list of this.free.values()) {
      for (const b of list) {
        this.allocatedBytes -= b.size;
        b.destroy();
      }
    }
    this.free.clear();
  }

  resetPeak(): void {
    this.peakBytes = this.allocatedBytes;
  }
}
