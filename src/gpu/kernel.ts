// Loads WGSL, caches pipelines, bind groups and uniform buffers, and records dispatches into one
// command encoder that is submitted only when a caller needs the results (or it grows large).
import { getDevice } from "./device.ts";
import { BufferPool } from "./buffer_pool.ts";
import { checkFaults, scoped } from "./faults.ts";
import { GpuError } from "../errors.ts";
import { type BindingWindow, windowRanges } from "./windows.ts";
import { PRELUDES, SHADERS } from "./shaders.ts";

/** A storage binding: a whole buffer, or a window of one (see bindingWindows). */
export type Binding = GPUBuffer | BindingWindow;

export interface Kernel {
  shader: string; // file name under shaders/
  entry: string;
  constants?: Record<string, number>;
}

const MAX_DISPATCHES_PER_SUBMIT = 4096;
const MAX_WORKGROUPS_X = 65535;
/**
 * Uniforms are cached by content, and some contents change every step (AdamW's bias corrections,
 * dropout seeds, a scheduled learning rate): past this many the caches start again, so host memory
 * stays flat over a long run instead of growing by a few uniforms and bind groups per step.
 */
const MAX_UNIFORMS = 1024;

class Runtime {
  readonly pool: BufferPool;
  private pipelines = new Map<string, GPUComputePipeline>();
  private bindGroups = new Map<string, GPUBindGroup>();
  private uniforms = new Map<string, GPUBuffer>();
  private bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pending = 0;
  /** Buffers the pool retired before the last submit, destroyed at the next (see flush). */
  private doomed: GPUBuffer[] = [];
  /** Submits so far, and the count at each buffer's last recorded use (see unsubmittedUse). */
  private submits = 0;
  private lastUse = new WeakMap<GPUBuffer, number>();
  dispatchCount = 0;
  /** Dispatches per `shader:entry` since the runtime started (bench/dispatches.ts prints it). */
  readonly dispatchesByKernel: Map<string, number> = new Map();
  /** A 16-byte buffer bound where a kernel's optional input is absent. */
  readonly dummy: GPUBuffer;
  /** The adapter's maxStorageBufferBindingSize: a binding larger than this is refused. */
  readonly maxBindingBytes: number;
  /** The size tensors are split at: maxBindingBytes, or less when a test lowers it. */
  private windowBytes: number;
  /** Arena slots: placeholder buffers that stand for a byte range of a larger buffer (alias()). */
  private slots = new WeakMap<GPUBuffer, BindingWindow>();

  constructor(readonly device: GPUDevice) {
    this.maxBindingBytes = device.limits.maxStorageBufferBindingSize;
    this.windowBytes = this.maxBindingBytes;
    this.pool = new BufferPool(device, (b) => this.unsubmittedUse(b));
    this.dummy = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
  }

  /** The shader's text after its preludes (src/gpu/shaders.ts). */
  private source(file: string): string {
    return [...(PRELUDES[file] ?? []), file].map((f) => {
      const src = SHADERS[f];
      if (src === undefined) throw new Error(`shaders/${f} is not listed in src/gpu/shaders.ts`);
      return src;
    }).join("\n");
  }

  pipeline(k: Kernel): GPUComputePipeline {
    const key = `${k.shader}:${k.entry}:${JSON.stringify(k.constants ?? {})}`;
    let p = this.pipelines.get(key);
    if (!p) {
      const code = this.source(k.shader);
      p = scoped(this.device, `creating the compute pipeline ${key}`, () => {
        const module = this.device.createShaderModule({ code, label: k.shader });
        return this.device.createComputePipeline({
          label: key,
          layout: "auto",
          compute: { module, entryPoint: k.entry, constants: k.constants },
        });
      });
      this.pipelines.set(key, p);
    }
    return p;
  }

  private markUse(b: GPUBuffer): void {
    this.lastUse.set(b, this.submits);
  }

  /**
   * Whether work recorded and not yet submitted uses `b`: the pool destroys a buffer it retires
   * at once when not (WebGPU lets submitted work keep a destroyed buffer alive), else after the
   * next submit.
   */
  unsubmittedUse(b: GPUBuffer): boolean {
    return this.encoder !== null && this.lastUse.get(b) === this.submits;
  }

  private id(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) {
      id = this.nextBufferId++;
      this.bufferIds.set(b, id);
    }
    return id;
  }

  /** Uniforms are immutable and shared by content: ints first (u32), then floats (f32). */
  uniform(ints: number[], floats: number[]): GPUBuffer {
    const key = `${ints.join(",")}|${floats.join(",")}`;
    let buf = this.uniforms.get(key);
    if (!buf) {
      if (this.uniforms.size >= MAX_UNIFORMS) this.dropUniforms();
      const words = Math.max(4, Math.ceil((ints.length + floats.length) / 4) * 4);
      buf = this.device.createBuffer({
        size: words * 4,
        usage: GPUBufferUsage.UNIFORM,
        mappedAtCreation: true,
      });
      const range = buf.getMappedRange();
      new Uint32Array(range).set(ints);
      new Float32Array(range).set(floats, ints.length);
      buf.unmap();
      this.uniforms.set(key, buf);
    }
    return buf;
  }

  /**
   * Submits what was recorded, then destroys every cached uniform and forgets the bind groups that
   * use them; WebGPU keeps a destroyed buffer alive for work already submitted.
   */
  private dropUniforms(): void {
    this.flush();
    for (const b of this.uniforms.values()) b.destroy();
    this.uniforms.clear();
    this.bindGroups.clear();
  }

  private computePass(): GPUComputePassEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    this.pass ??= this.encoder.beginComputePass();
    return this.pass;
  }

  private commandEncoder(): GPUCommandEncoder {
    this.pass?.end();
    this.pass = null;
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  /**
   * Splits tensors at `bytes` instead of the adapter's binding limit, so a test windows small
   * tensors as an adapter with that limit would (other buffers stay bound whole); `null` restores
   * the adapter's limit.
   */
  setBindingLimitForTests(bytes: number | null): void {
    this.windowBytes = Math.min(this.maxBindingBytes, bytes ?? Infinity);
  }

  /**
   * A placeholder buffer that stands for `size` bytes of `buffer` at `offset` (a multiple of
   * minStorageBufferOffsetAlignment) wherever it is bound, copied, read, written or cleared: how a
   * tensor lives in an optimizer's arena (src/optim/arena.ts) while every op keeps binding
   * `tensor.buffer`. The placeholder is destroyed at once, so it holds no memory and any use that
   * bypasses this runtime fails loudly instead of touching the wrong bytes.
   */
  alias(buffer: GPUBuffer, offset: number, size: number, label: string): GPUBuffer {
    const token = this.device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE, label });
    token.destroy();
    this.slots.set(token, { buffer, offset, size, first: 0, count: size / 4 });
    return token;
  }

  /** Forgets a placeholder made by alias(); its range may then be reused. */
  unalias(token: GPUBuffer): void {
    this.slots.delete(token);
  }

  /** `b` with an arena placeholder replaced by the range of the arena it stands for. */
  resolve(b: Binding): Binding {
    const slot = this.slots.get(b instanceof GPUBuffer ? b : b.buffer);
    if (!slot) return b;
    if (b instanceof GPUBuffer) return slot;
    return { ...b, buffer: slot.buffer, offset: slot.offset + b.offset };
  }

  /** The real buffer and byte offset of byte `offset` of `b` (a buffer or an arena placeholder). */
  private place(b: GPUBuffer, offset: number): [GPUBuffer, number] {
    const slot = this.slots.get(b);
    return slot ? [slot.buffer, slot.offset + offset] : [b, offset];
  }

  /** The most bytes one binding window holds: maxBindingBytes, or a test's lower limit. */
  get windowLimit(): number {
    return this.windowBytes;
  }

  /** How `byteLength` bytes split into bindings of whole `unitBytes` units (see windows.ts). */
  windows(byteLength: number, unitBytes = 4): Omit<BindingWindow, "buffer">[] {
    const align = this.device.limits.minStorageBufferOffsetAlignment;
    return windowRanges(byteLength, unitBytes, this.windowBytes, align);
  }

  /**
   * Binding 0 is the uniform made of `ints` and `floats`; storage bindings follow from binding 1.
   * Pass `null` for a binding the entry point does not use. A whole buffer larger than the binding
   * limit is refused here, naming the kernel, rather than left to fail as a validation error:
   * kernels that touch such tensors bind them window by window (bindingWindows).
   */
  dispatch(
    k: Kernel,
    buffers: (Binding | null)[],
    ints: number[],
    floats: number[],
    workgroups: [number, number?, number?],
  ): void {
    const [x, y = 1, z = 1] = workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    for (const b of buffers) if (b) this.markUse(b instanceof GPUBuffer ? b : b.buffer);
    buffers = buffers.map((b) => b && this.resolve(b));
    const pipeline = this.pipeline(k);
    const uni = this.uniform(ints, floats);
    const key = `${pipeline.label}|${this.id(uni)}|${buffers.map((b) => this.bindingKey(b))}`;
    let group = this.bindGroups.get(key);
    if (!group) {
      if (this.bindGroups.size > 20000) this.bindGroups.clear();
      const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: uni } }];
      buffers.forEach((b, i) => {
        if (!b) return;
        if (!(b instanceof GPUBuffer) && this.whole(b)) b = b.buffer;
        if (b instanceof GPUBuffer) {
          if (b.size > this.maxBindingBytes) {
            throw new GpuError(
              `${pipeline.label}: binding ${i + 1} is a ${b.size}-byte buffer, over the ` +
                `adapter's maxStorageBufferBindingSize of ${this.maxBindingBytes} bytes, and ` +
                `this kernel does not split its tensors across bindings`,
            );
          }
          entries.push({ binding: i + 1, resource: { buffer: b } });
        } else {
          if (b.size > this.maxBindingBytes) {
            throw new GpuError(
              `${pipeline.label}: binding ${i + 1} is a ${b.size}-byte range, over the ` +
                `adapter's maxStorageBufferBindingSize of ${this.maxBindingBytes} bytes, and ` +
                `this kernel does not split its tensors across bindings`,
            );
          }
          entries.push({
            binding: i + 1,
            resource: { buffer: b.buffer, offset: b.offset, size: b.size },
          });
        }
      });
      group = this.device.createBindGroup({
        label: pipeline.label,
        layout: pipeline.getBindGroupLayout(0),
        entries,
      });
      this.bindGroups.set(key, group);
    }
    const pass = this.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(x, y, z);
    this.dispatchCount++;
    const name = `${k.shader}:${k.entry}`;
    this.dispatchesByKernel.set(name, (this.dispatchesByKernel.get(name) ?? 0) + 1);
    if (++this.pending >= MAX_DISPATCHES_PER_SUBMIT) this.flush();
  }

  /**
   * A window that spans its whole buffer is bound as the buffer. Any other window, an arena slot
   * at offset 0 included, is bound as its own range: two writable bindings of one dispatch on
   * different slots of a slab then do not overlap, which WebGPU requires (Chromium checks it).
   */
  private whole(w: BindingWindow): boolean {
    return w.offset === 0 && w.size === w.buffer.size && w.buffer.size <= this.windowBytes;
  }

  private bindingKey(b: Binding | null): string | number {
    if (!b) return 0;
    if (b instanceof GPUBuffer || this.whole(b)) {
      return this.id(b instanceof GPUBuffer ? b : b.buffer);
    }
    return `${this.id(b.buffer)}@${b.offset}+${b.size}`;
  }

  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number, srcOffset = 0, dstOffset = 0): void {
    this.markUse(src);
    this.markUse(dst);
    const [s, so] = this.place(src, srcOffset), [d, dO] = this.place(dst, dstOffset);
    this.commandEncoder().copyBufferToBuffer(s, so, d, dO, bytes);
  }

  clear(buf: GPUBuffer): void {
    this.markUse(buf);
    const slot = this.slots.get(buf);
    if (slot) this.commandEncoder().clearBuffer(slot.buffer, slot.offset, slot.size);
    else this.commandEncoder().clearBuffer(buf);
  }

  /** Submits what was recorded; does not wait. */
  flush(): void {
    if (!this.encoder) return;
    this.pass?.end();
    this.pass = null;
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.pending = 0;
    this.submits++;
    // A retired buffer's last use was recorded before it was retired, so it is in this submit or
    // an earlier one. WebGPU lets a buffer be destroyed while submitted work still uses it; these
    // wait one submit more all the same. Not onSubmittedWorkDone here: under Deno it blocks the
    // CPU until the GPU is idle, so recording could no longer overlap the GPU's work.
    this.pool.destroyTaken(this.doomed);
    this.doomed = this.pool.takeRetired();
  }

  /**
   * The only place the CPU waits for the GPU, and so where faults surface: a WebGPU error anywhere
   * since the device was created throws a GpuError here, before the caller can print or save
   * numbers computed after it.
   */
  async read(buf: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
    [buf, offset] = this.place(buf, offset);
    const size = Math.ceil(bytes / 4) * 4;
    const staging = scoped(
      this.device,
      `allocating a ${size}-byte readback buffer`,
      () =>
        this.device.createBuffer({
          size: Math.max(size, 4),
          usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
        }),
    );
    if (size > 0) this.copy(buf, staging, size, offset);
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      await checkFaults();
      throw new GpuError(`reading ${bytes} bytes back from the GPU: ${(e as Error).message}`);
    }
    try {
      await checkFaults();
    } catch (e) {
      staging.destroy();
      throw e;
    }
    const out = staging.getMappedRange().slice(0, bytes);
    staging.unmap();
    staging.destroy();
    return out;
  }

  write(buf: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    // Queue writes run before later submits; flushing keeps them after earlier recorded work.
    this.flush();
    [buf, offset] = this.place(buf, offset);
    this.device.queue.writeBuffer(
      buf,
      offset,
      data.buffer as ArrayBuffer,
      data.byteOffset,
      data.byteLength,
    );
  }
}

let runtime: Runtime | null = null;

export async function initGpu(): Promise<Runtime> {
  runtime ??= new Runtime(await getDevice());
  return runtime;
}

/** The runtime after `initGpu()` resolved; ops are synchronous and call this. */
export function gpu(): Runtime {
  if (!runtime) throw new Error("GPU not initialised: await initGpu() first");
  return runtime;
}

/** Splits a 1-D launch so no grid dimension exceeds the WebGPU limit; shaders flatten x and y. */
export function grid1d(threads: number, workgroupSize: number): [number, number] {
  const groups = Math.ceil(threads / workgroupSize);
  if (groups <= MAX_WORKGROUPS_X) return [groups, 1];
  return [MAX_WORKGROUPS_X, Math.ceil(groups / MAX_WORKGROUPS_X)];
}

export type { Runtime };
