// Kernel families with more than one good shape, and which one this adapter runs.
//
// Row reductions (LayerNorm, softmax): "workgroup" gives each row a workgroup whose lanes stride
// the columns and reduce in shared memory, which coalesces on a GPU; "thread" gives each row one
// thread with vec4 loads, which lavapipe runs fastest (its lanes pay per load instruction and per
// barrier: LayerNorm (512, 768) forward 2.1 ms against 3.6 ms row-per-workgroup, 4.1 ms with the
// old scalar row-per-thread kernel). The default follows the adapter: CPU rasterisers
// (lavapipe/llvmpipe, SwiftShader) take "thread", everything else "workgroup"; setVariant()
// overrides it (tests run both).
import { getAdapterName } from "../gpu/device.ts";
import { grid1d } from "../gpu/kernel.ts";

export type RowLayout = "thread" | "workgroup";

let rowLayout: RowLayout | null = null;

/** Whether the adapter is a CPU implementation of WebGPU. */
export function isCpuAdapter(name = getAdapterName()): boolean {
  return /llvmpipe|lavapipe|swiftshader/i.test(name);
}

/** Whether the adapter is Mesa's lavapipe (llvmpipe), which the tall matmul tile is made for. */
export function isLavapipe(name = getAdapterName()): boolean {
  return /llvmpipe|lavapipe/i.test(name);
}

export function rowReductionLayout(): RowLayout {
  return rowLayout ?? (isCpuAdapter() ? "thread" : "workgroup");
}

/** Forces a layout (null: back to the adapter's default). */
export function setRowReductionLayout(layout: RowLayout | null): void {
  rowLayout = layout;
}

export type TransposedA = "in-kernel" | "materialize";

let transposedA: TransposedA | null = null;

/**
 * A matmul with A transposed (weight gradients dYᵀ·x, LoRA's dA and dB, attention's dK and dV):
 * "in-kernel" reads A transposed inside the matmul (coalesced on a GPU); "materialize" first
 * writes Aᵀ (one memory-bound pass) and runs the untransposed kernel, which lavapipe runs several
 * times faster (its transposed operand loads are per-lane gathers): a bert-tiny backward pass
 * took 1.8–2.9 s in-kernel and 0.15–0.34 s materialized on this shared 2-core machine.
 */
export function transposedALayout(): TransposedA {
  return transposedA ?? (isCpuAdapter() ? "materialize" : "in-kernel");
}

export function setTransposedALayout(layout: TransposedA | null): void {
  transposedA = layout;
}

export type MatmulTile = "register" | "register-tall" | "workgroup";

let matmulTileLayout: MatmulTile | null = null;

/**
 * Every matmul: "register" keeps a block of C per thread in registers and reads A and B straight
 * from storage (matmul_vec4.wgsl when the shape allows vec4, else matmul.wgsl), which CPU
 * rasterisers run best; "register-tall" is the same with the vec4 path's large tile 32×16 per
 * thread in a workgroup of one 8-lane row (tools/gen_matmul_vec4.ts says why), which lavapipe runs
 * faster at some shapes (SwiftShader: no faster, compiles 2.3× slower); "workgroup" stages 32×16
 * panels of A and B in var<workgroup> memory behind barriers (matmul_shared.wgsl), the classic
 * shape for a GPU's on-chip memory. Untuned, every adapter takes "register": the tall tile is a
 * candidate the tuner times on lavapipe only (src/ops/tune.ts), because each of its pipeline
 * variants takes lavapipe 3-4× longer to compile cold (about 10 s against 3 s for a bias or
 * accumulate variant) and, on a quiet machine, it ran about as fast as the 16×16 tile at most of
 * BERT's shapes.
 */
export function matmulTile(): MatmulTile {
  return matmulTileLayout ?? "register";
}

export function setMatmulTile(layout: MatmulTile | null): void {
  matmulTileLayout = layout;
}

/** One workgroup per row; shaders read the row as workgroup_id.x + workgroup_id.y · num_workgroups.x. */
export function rowGrid(rows: number): [number, number] {
  return grid1d(rows, 1);
}
