// The optimizer's flat storage: every parameter, its gradient and AdamW's two moments live at
// 256-byte-aligned offsets of a few large "slab" buffers, so one dispatch per slab updates every
// tensor in it (BERT-base: 201 tensors, 438 MB, in 4 slabs of lavapipe's 128 MiB binding limit).
// The model keeps its Tensor objects: each is relocated onto an arena placeholder buffer that the
// runtime binds as the tensor's range of its slab (Runtime.alias), so no op changes. Gradients
// reach their slot through autograd's gradHomes (the first gradient of a step is copied in).
//
// A kernel finds its tensor through a table per (slab, binding window): word w < workgroups is the
// piece that workgroup w works on; then 4 words per piece: its first workgroup, its first vec4 in
// the window, its element count. Only tensors that have a gradient this step are pieces, as the
// per-tensor loop skipped tensors without one.
import { Tensor } from "../tensor.ts";
import { gpu } from "../gpu/kernel.ts";
import type { BindingWindow } from "../gpu/windows.ts";
import { BufferPool } from "../gpu/buffer_pool.ts";
import { gradHomes } from "../autograd/tape.ts";

/** Elements one workgroup updates: 256 threads × 4 vec4s (4 × shaders/optim.wgsl CHUNK_VEC4). */
export const CHUNK = 4096;

/** shaders/optim.wgsl's entry `entry`, with this file's chunk size. */
export const optimKernel = (entry: string) => ({
  shader: "optim.wgsl",
  entry,
  constants: { CHUNK_VEC4: CHUNK / 4 },
});

/** What a slab holds: the parameters themselves, their gradients, or an optimizer state. */
export type Kind = "param" | "grad" | "exp_avg" | "exp_avg_sq";

/** One dispatch: a binding window of one slab, and the pieces of active tensors inside it. */
export interface ArenaUnit {
  slab: number;
  window: { offset: number; size: number };
  workgroups: number;
  /** The u32 table described above. */
  table: GPUBuffer;
}

interface Slab {
  bytes: number;
  windows: { offset: number; size: number }[];
}

export class ParamArena {
  private slabs: Slab[] = [];
  /** Parameter i's slab and byte offset in it. */
  private slots: { slab: number; offset: number }[] = [];
  private buffers = new Map<Kind, GPUBuffer[]>();
  private tokens = new Map<Kind, GPUBuffer[]>();
  private units: { key: string; units: ArenaUnit[] } | null = null;

  /**
   * Packs `params` (f32) in order into slabs of at most one binding (a larger tensor gets a slab
   * of its own, bound window by window), moves them there and gives them gradient slots.
   */
  constructor(readonly params: readonly Tensor[]) {
    if (new Set(params).size !== params.length) {
      throw new Error("optimizer: a tensor is listed twice among the parameters");
    }
    const rt = gpu();
    const align = rt.device.limits.minStorageBufferOffsetAlignment;
    const cap = Math.min(rt.windowLimit, rt.device.limits.maxBufferSize);
    for (const p of params) {
      const bytes = BufferPool.roundSize(p.bytes);
      const last = this.slabs.at(-1);
      let offset = last ? Math.ceil(last.bytes / align) * align : 0;
      if (!last || offset + bytes > cap) {
        this.slabs.push({ bytes: 0, windows: [] });
        offset = 0;
      }
      this.slots.push({ slab: this.slabs.length - 1, offset });
      this.slabs[this.slabs.length - 1].bytes = offset + bytes;
    }
    for (const s of this.slabs) {
      s.windows = rt.windows(s.bytes, 16).map(({ offset, size }) => ({ offset, size }));
    }
    const placed = this.allocate("param");
    const own = params.map((p, i) => p.relocate(placed[i], false));
    // The parameters' own buffers have sizes no activation asks for: free them, not pool them
    // (after submitting the copies out of them), so the arena does not double parameter memory.
    rt.flush();
    for (const b of own) if (b) rt.pool.discard(b);
    this.allocate("grad");
    params.forEach((p, i) => gradHomes.set(p, () => this.view("grad", i)));
  }

  /** Number of slabs (each one dispatch per binding window). */
  get slabCount(): number {
    return this.slabs.length;
  }

  /** Zeroed slabs for `kind` and a placeholder per parameter; returns the placeholders. */
  allocate(kind: Kind): GPUBuffer[] {
    const existing = this.tokens.get(kind);
    if (existing) return existing;
    const rt = gpu();
    const buffers = this.slabs.map((s) => {
      const b = rt.pool.acquire(s.bytes);
      rt.clear(b);
      return b;
    });
    const tokens = this.params.map((p, i) =>
      rt.alias(
        buffers[this.slots[i].slab],
        this.slots[i].offset,
        BufferPool.roundSize(p.bytes),
        `${kind} of ${p.name || `parameter ${i}`}`,
      )
    );
    this.buffers.set(kind, buffers);
    this.tokens.set(kind, tokens);
    return tokens;
  }

  has(kind: Kind): boolean {
    return this.tokens.has(kind);
  }

  /** Parameter i's slot of `kind` as a tensor of its shape (not owning; releasing it is a no-op). */
  view(kind: Kind, i: number): Tensor {
    const token = this.allocate(kind)[i];
    return Tensor.borrowed(this.params[i].shape, token, this.params[i].name);
  }

  /** Whether `t` is parameter i's slot of `kind`. */
  isSlot(kind: Kind, i: number, t: Tensor): boolean {
    return this.tokens.get(kind)?.[i] === t.buffer;
  }

  /** Unit u's binding of `kind`: its window of that kind's slab. */
  binding(kind: Kind, u: ArenaUnit): BindingWindow {
    const buffer = this.buffers.get(kind)![u.slab];
    const { offset, size } = u.window;
    return { buffer, offset, size, first: offset / 4, count: size / 4 };
  }

  /**
   * The dispatches for the tensors flagged in `active`: one per binding window of each slab with
   * an active tensor in it. Tables are rebuilt only when the active set changes.
   */
  unitsFor(active: readonly boolean[]): ArenaUnit[] {
    const key = active.map((a) => (a ? 1 : 0)).join("");
    if (this.units?.key === key) return this.units.units;
    for (const u of this.units?.units ?? []) gpu().pool.release(u.table);
    const units: ArenaUnit[] = [];
    this.slabs.forEach((slab, s) => {
      for (const window of slab.windows) {
        // Pieces: each active tensor's elements inside this window, in vec4s from its start.
        const pieces: [number, number][] = [];
        this.params.forEach((p, i) => {
          if (!active[i] || this.slots[i].slab !== s || p.size === 0) return;
          const from = Math.max(this.slots[i].offset, window.offset);
          const to = Math.min(this.slots[i].offset + p.bytes, window.offset + window.size);
          if (to > from) pieces.push([(from - window.offset) / 16, (to - from) / 4]);
        });
        if (pieces.length === 0) continue;
        const groups = pieces.map(([, n]) => Math.ceil(n / CHUNK));
        const workgroups = groups.reduce((a, b) => a + b, 0);
        const table = new Uint32Array(workgroups + 4 * pieces.length);
        let wg = 0;
        pieces.forEach(([start, n], k) => {
          table.fill(k, wg, wg + groups[k]);
          table.set([wg, start, n, 0], workgroups + 4 * k);
          wg += groups[k];
        });
        const buffer = gpu().pool.acquire(table.byteLength);
        gpu().write(buffer, table);
        units.push({ slab: s, window, workgroups, table: buffer });
      }
    });
    this.units = { key, units };
    return units;
  }

  /**
   * Moves the parameters (and any gradient still in its slot) back into buffers of their own and
   * frees the slabs: the model outlives its optimizer (evaluation, saving, merging after training).
   */
  release(): void {
    const rt = gpu();
    this.params.forEach((p, i) => {
      gradHomes.delete(p);
      if (p.grad && this.isSlot("grad", i, p.grad)) {
        const g = Tensor.empty(p.shape);
        rt.copy(p.grad.buffer, g.buffer, p.bytes);
        p.grad = g;
      }
      p.relocate(rt.pool.acquire(p.bytes), true); // from an arena slot: returns no buffer
    });
    // Submit the copies out of the slabs now: a pool.trim() before the next submit would destroy
    // the slabs under them.
    rt.flush();
    for (const tokens of this.tokens.values()) for (const t of tokens) rt.unalias(t);
    for (const buffers of this.buffers.values()) for (const b of buffers) rt.pool.release(b);
    for (const u of this.units?.units ?? []) rt.pool.release(u.table);
    this.tokens.clear();
    this.buffers.clear();
    this.units = null;
  }
}
