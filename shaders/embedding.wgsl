// Embedding gather: out (R, C) = table[ids[r]] with table (V, C), ids (R) u32.
// Backward scatter-adds rows back: dTable[ids[r]] += dOut[r]. One thread per column walks the rows
// in order, so repeated ids accumulate exactly and deterministically without atomics.
// The pooler's [CLS] selection is the same gather, over the hidden states with ids 0, T, 2T, ...
// A table larger than one storage binding (a multilingual vocabulary) is bound as windows of whole
// rows [rowStart, rowEnd) (src/gpu/windows.ts); each dispatch handles the ids inside its window.

struct Params { rows: u32, cols: u32, rowStart: u32, rowEnd: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> table: array<f32>;   // (rowEnd - rowStart, C) window
@group(0) @binding(2) var<storage, read> ids: array<u32>;     // (R)
@group(0) @binding(3) var<storage, read_write> out: array<f32>; // (R, C)

@compute @workgroup_size(256)
fn embedding_forward(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = g.x + g.y * nwg.x * 256u;
  if (i >= p.rows * p.cols) { return; }
  let r = i / p.cols;
  let c = i % p.cols;
  let id = ids[r];
  if (id < p.rowStart || id >= p.rowEnd) { return; }
  out[i] = table[(id - p.rowStart) * p.cols + c];
}

@group(0) @binding(1) var<storage, read> dOut: array<f32>;        // (R, C)
@group(0) @binding(3) var<storage, read_write> dTable: array<f32>; // (rowEnd - rowStart, C) window, accumulated into

@compute @workgroup_size(64)
fn embedding_backward(@builtin(global_invocation_id) g: vec3<u32>) {
  let c = g.x;
  if (c >= p.cols) { return; }
  for (var r = 0u; r < p.rows; r++) {
    let id = ids[r];
    if (id < p.rowStart || id >= p.rowEnd) { continue; }
    let dst = (id - p.rowStart) * p.cols + c;
    dTable[dst] = dTable[dst] + dOut[r * p.cols + c];
  }
}
