// A contiguous GPU tensor: shape, buffer, gradient and whether autograd tracks it.
import { gpu } from "./gpu/kernel.ts";

export type DType = "f32" | "u32";

export class Tensor {
  readonly size: number;
  requiresGrad = false;
  grad: Tensor | null = null;
  private released = false;
  /** The data was given back (autograd's dropData) while the tensor stays a gradient target. */
  private dropped = false;
  /** Views share their source's buffer and never return it to the pool. */
  private ownsBuffer = true;
  private storage: GPUBuffer;

  constructor(
    readonly shape: readonly number[],
    buffer: GPUBuffer,
    readonly dtype: DType = "f32",
    public name = "",
  ) {
    this.size = shape.reduce((a, b) => a * b, 1);
    this.storage = buffer;
  }

  /** The buffer kernels bind: its own, a view's source, or an optimizer arena slot (relocate). */
  get buffer(): GPUBuffer {
    return this.storage;
  }

  /** A tensor naming `buffer` without owning it: an optimizer arena's slot (src/optim/arena.ts). */
  static borrowed(shape: readonly number[], buffer: GPUBuffer, name = ""): Tensor {
    const t = new Tensor(shape, buffer, "f32", name);
    t.ownsBuffer = false;
    return t;
  }

  /**
   * Copies this tensor into `buffer` and makes that its storage from now on: how an optimizer
   * moves its parameters into one flat arena (and back out when it is released) while the model
   * keeps the same Tensor objects. Views made before the move keep the old buffer, so it happens
   * before any forward pass (the optimizer's constructor). Returns the buffer it owned before, for
   * the caller to release or discard once the copy is submitted; null when it owned none (a view,
   * an arena slot) or is released (then nothing moves).
   */
  relocate(buffer: GPUBuffer, owns: boolean): GPUBuffer | null {
    if (this.released) return null;
    if (this.size > 0) gpu().copy(this.storage, buffer, this.bytes);
    const old = this.ownsBuffer ? this.storage : null;
    this.storage = buffer;
    this.ownsBuffer = owns;
    return old;
  }

  get bytes(): number {
    return this.size * 4;
  }

  /** Tests set this so every new tensor starts as NaN and an unwritten element shows. */
  static poison = false;

  /** A tensor with uninitialised contents from the buffer pool. */
  static empty(shape: readonly number[], dtype: DType = "f32"): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const t = new Tensor(shape, gpu().pool.acquire(n * 4), dtype);
    if (Tensor.poison && n > 0) gpu().write(t.buffer, new Float32Array(n).fill(NaN));
    return t;
  }

  static zeros(shape: readonly number[], dtype: DType = "f32"): Tensor {
    const t = Tensor.empty(shape, dtype);
    gpu().clear(t.buffer);
    return t;
  }

  static from(
    data: ArrayLike<number>,
    shape: readonly number[],
    opts: { dtype?: DType; requiresGrad?: boolean; name?: string } = {},
  ): Tensor {
    const dtype = opts.dtype ?? "f32";
    const n = shape.reduce((a, b) => a * b, 1);
    if (data.length !== n) {
      throw new Error(`tensor ${opts.name ?? ""}: ${data.length} values for shape [${shape}]`);
    }
    const t = Tensor.empty(shape, dtype);
    const typed = dtype === "f32" ? Float32Array.from(data) : Uint32Array.from(data);
    if (n > 0) gpu().write(t.buffer, typed);
    t.requiresGrad = opts.requiresGrad ?? false;
    t.name = opts.name ?? "";
    return t;
  }

  async read(): Promise<Float32Array> {
    if (this.dtype !== "f32") throw new Error(`read(): tensor ${this.name} is ${this.dtype}`);
    if (this.dropped || this.released) throw new Error(`read(): tensor ${this.name} was freed`);
    return new Float32Array(await gpu().read(this.buffer, this.bytes));
  }

  /** Same data under a new shape of equal size, sharing the buffer. */
  view(shape: readonly number[]): Tensor {
    const t = new Tensor(shape, this.buffer, this.dtype, this.name);
    t.ownsBuffer = false;
    if (t.size !== this.size) throw new Error(`view: [${this.shape}] cannot become [${shape}]`);
    return t;
  }

  /**
   * The same buffer under `shape` (equal size) in a new tensor that owns it; this one is left
   * released. A backward hands its incoming gradient on this way instead of copying it.
   */
  moveTo(shape: readonly number[]): Tensor {
    if (!this.movable) {
      throw new Error(`moveTo: tensor ${this.name} is released or a view`);
    }
    const t = new Tensor(shape, this.buffer, this.dtype, this.name);
    if (t.size !== this.size) throw new Error(`moveTo: [${this.shape}] cannot become [${shape}]`);
    this.released = true;
    return t;
  }

  /** Whether moveTo() may take this tensor's buffer. */
  get movable(): boolean {
    return !this.released && !this.dropped && this.ownsBuffer;
  }

  /**
   * Gives the data's buffer back to the pool but keeps the tensor, and its gradient, for autograd:
   * an activation whose last reader has run, or one it recomputes when read (src/autograd/tape.ts).
   */
  dropData(): void {
    if (this.released || this.dropped) return;
    this.dropped = true;
    if (this.ownsBuffer) gpu().pool.release(this.buffer);
  }

  /** A fresh pooled buffer (uninitialised) for a tensor whose data was dropped. */
  reviveData(): void {
    if (this.released || !this.dropped || !this.ownsBuffer) {
      throw new Error(`reviveData: tensor ${this.name} is released, a view, or holds its data`);
    }
    this.storage = gpu().pool.acquire(this.bytes);
    this.dropped = false;
  }

  get dataDropped(): boolean {
    return this.dropped;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.ownsBuffer && !this.dropped) gpu().pool.release(this.buffer);
    this.grad?.release();
    this.grad = null;
  }
}

/**
 * Reads many f32 tensors back, in order, with their copies in flight together: one wait for the
 * GPU per window instead of one per tensor. Each wait costs at least a map-polling interval
 * (about 13 ms a read under Deno's WebGPU on lavapipe, measured): read one at a time, the 41
 * tensors of the 2-layer test model took ~0.5 s to save, and an evaluation in a full-mode run
 * (model, best copy, resume state with both AdamW moments) ~2 s; read together, ~0.1 s.
 * A window holds at most `windowBytes` of readback buffers (64 MiB), so reading a large model
 * does not hold a second copy of all of it on the GPU at once.
 */
export async function readTensors(
  tensors: readonly Tensor[],
  windowBytes = 64 << 20,
): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let i = 0; i < tensors.length;) {
    let bytes = tensors[i].bytes, j = i + 1;
    while (j < tensors.length && bytes + tensors[j].bytes <= windowBytes) {
      bytes += tensors[j++].bytes;
    }
    out.push(...await Promise.all(tensors.slice(i, j).map((t) => t.read())));
    i = j;
  }
  return out;
}
