// Inverted dropout with a stateless counter-based RNG: element i of call (seed, stream) is kept
// when uniform(hash(i, key)) ≥ prob, and scaled by 1/(1 - prob). Backward regenerates the same
// mask from (seed, stream, i) instead of storing it. The mask itself is dropout_mask.wgsl's; with
// rowStride > 1, x (n / cols, cols) holds every rowStride-th row of the tensor the mask is drawn
// over, and each element takes its mask bit from its place there (dropout_row_index); with
// table 1, row r is row rowOf[r] there instead (a batch's packed rows).

struct Params { n: u32, seed: u32, stream: u32, cols: u32, rowStride: u32, table: u32, prob: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;       // forward: x; backward: dOut
@group(0) @binding(2) var<storage, read_write> y: array<f32>; // forward: y; backward: dX
@group(0) @binding(3) var<storage, read> rowOf: array<u32>;   // (rows) with table 1

fn keep(i: u32) -> bool {
  var at = dropout_row_index(i, p.cols, p.rowStride);
  if (p.table == 1u) { at = rowOf[i / p.cols] * p.cols + i % p.cols; }
  return dropout_keep(at, dropout_key(p.seed, p.stream), p.prob);
}

fn apply(g: vec3<u32>, nwg: vec3<u32>) {
  let i = g.x + g.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  y[i] = select(0.0, x[i] / (1.0 - p.prob), keep(i));
}

@compute @workgroup_size(256)
fn dropout_forward(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  apply(g, nwg);
}

// dX = dOut · mask / (1 - prob): the same map as forward, applied to the gradient.
@compute @workgroup_size(256)
fn dropout_backward(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  apply(g, nwg);
}
