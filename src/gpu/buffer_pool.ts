// Reuses freed GPU buffers of the same size, or, when none is free, of up to REUSE_SLACK times
// the size; a request that must allocate retires a free buffer of between 1/REUSE_SLACK of its
// size and its size, as the larger one will serve that one's requests. Queue order makes reuse
// safe: a buffer released while earlier work still reads it is only written by work submitted
// after that work.

import { GpuError } from "../errors.ts";
import { scoped } from "./faults.ts";

// Read at allocation, not at import: importing the library where WebGPU is absent (Node, an old
// browser) must not throw; initGpu throws NoAdapterError there instead.
const storageUsage = () =>
  GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/**
 * A request takes a free buffer up to this many times its size when none of its own size is
 * free. Packed batches (src/data/batches.ts) vary the rows of every activation from step to step
 * (SMS at batch 16 × 32: nine sizes from 224 to 480 rows in an epoch); an exact-size pool would
 * end up holding a step's activations at each of them (LoRA on bert-tiny: peak 49 MiB after 60
 * steps against 24 padded). With the slack and retirement, it holds about one step's worth, at
 * the largest rows seen. Kernels read the sizes they are given, never a binding's length, so a
 * tensor in a larger buffer computes the same.
 */
const REUSE_SLACK = 2;

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  /** Free buffers given up for larger ones, destroyed once the GPU finishes work that used them. */
  private retired: GPUBuffer[] = [];
  /** Buffers handed out and not yet released. */
  live = 0;
  /** Bytes of every buffer the pool created (handed out or waiting for reuse). */
  allocatedBytes = 0;
  peakBytes = 0;

  /**
   * `unsubmittedUse(b)`: whether work recorded but not yet submitted uses b (the runtime knows;
   * by default assumed so), which decides when a retired buffer can be destroyed.
   */
  constructor(
    private device: GPUDevice,
    private unsubmittedUse: (b: GPUBuffer) => boolean = () => true,
  ) {}

  /** Sizes round up to 16 bytes, the granularity of storage bindings. */
  static roundSize(bytes: number): number {
    return Math.max(16, Math.ceil(bytes / 16) * 16);
  }

  acquire(bytes: number): GPUBuffer {
    const size = BufferPool.roundSize(bytes);
    this.live++;
    const reused = this.free.get(size)?.pop() ?? this.larger(size);
    if (reused) return reused;
    this.retireSmaller(size);
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

  /**
   * The smallest free buffer of up to REUSE_SLACK times `size`, taken from the free lists; none
   * past the binding limit for a size within it (a kernel binds a small tensor's buffer whole).
   */
  private larger(size: number): GPUBuffer | undefined {
    let most = Math.floor(size * REUSE_SLACK);
    const bindable = this.device.limits.maxStorageBufferBindingSize;
    if (size <= bindable) most = Math.min(most, bindable);
    let best = 0;
    for (const [s, list] of this.free) {
      if (s > size && s <= most && list.length > 0 && (best === 0 || s < best)) best = s;
    }
    return best ? this.free.get(best)!.pop() : undefined;
  }

  /** Retires the largest free buffer of at least size/REUSE_SLACK and below `size`, if any. */
  private retireSmaller(size: number): void {
    let best = 0;
    for (const [s, list] of this.free) {
      if (s < size && s * REUSE_SLACK >= size && list.length > 0 && s > best) best = s;
    }
    if (!best) return;
    const b = this.free.get(best)!.pop()!;
    if (this.unsubmittedUse(b)) this.retired.push(b); // counted in allocatedBytes until destroyed
    else this.destroyTaken([b]);
  }

  /**
   * Hands over the retired buffers, for the caller to destroy once the work that last used them
   * has been submitted: every use was recorded before they were retired (they were free then).
   */
  takeRetired(): GPUBuffer[] {
    const done = this.retired;
    this.retired = [];
    return done;
  }

  /** Destroys buffers handed over by takeRetired once their work is submitted. */
  destroyTaken(buffers: GPUBuffer[]): void {
    for (const b of buffers) {
      this.allocatedBytes -= b.size;
      b.destroy();
    }
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

  /** Destroys every waiting and retired buffer (after the work using them is done), e.g. between
   * benchmark modes so peaks are per mode. */
  trim(): void {
    for (const list of this.free.values()) {
      for (const b of list) {
        this.allocatedBytes -= b.size;
        b.destroy();
      }
    }
    this.free.clear();
    this.destroyTaken(this.takeRetired());
  }

  resetPeak(): void {
    this.peakBytes = this.allocatedBytes;
  }
}
