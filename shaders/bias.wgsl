// Bias over rows: forward y (R, C) = x (R, C) + bias (C); backward dBias (C) = Σ_rows dOut (R, C).
// (linear fuses its bias into the matmul epilogue; bias_add_backward serves both, and
// bias_grad_transpose also writes dOutᵀ for a weight gradient that materializes it.)

struct Params { rows: u32, cols: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn bias_add_forward(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = g.x + g.y * nwg.x * 256u;
  if (i >= p.rows * p.cols) { return; }
  y[i] = x[i] + bias[i % p.cols];
}

@group(0) @binding(1) var<storage, read> dOut: array<f32>;
@group(0) @binding(2) var<storage, read_write> dBias: array<f32>;

// One thread per column, summing rows in order: deterministic, no atomics.
@compute @workgroup_size(64)
fn bias_add_backward(@builtin(global_invocation_id) g: vec3<u32>) {
  let col = g.x;
  if (col >= p.cols) { return; }
  var s = 0.0;
  for (var r = 0u; r < p.rows; r++) { s += dOut[r * p.cols + col]; }
  dBias[col] = s;
}

@group(0) @binding(1) var<storage, read> dOut4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dBias4: array<vec4<f32>>;

// The same, four columns per thread (C a multiple of 4).
@compute @workgroup_size(64)
fn bias_add_backward4(@builtin(global_invocation_id) g: vec3<u32>) {
  let col = g.x;
  let c4 = p.cols / 4u;
  if (col >= c4) { return; }
  var s = vec4<f32>();
  for (var r = 0u; r < p.rows; r++) { s += dOut4[r * c4 + col]; }
  dBias4[col] = s;
}

@group(0) @binding(1) var<storage, read> dOutT: array<f32>;           // (R, C)
@group(0) @binding(2) var<storage, read_write> dBiasT: array<f32>;    // (C)
@group(0) @binding(3) var<storage, read_write> dOutTransposed: array<f32>; // (C, R)

// dBias and dOutᵀ in one pass (linear's dW = dOutᵀ·x where Aᵀ is materialized, see
// src/ops/variants.ts): the thread of column c walks its column, as bias_add_backward does
// (the same sums, in the same order), and writes it out as row c of dOutᵀ.
@compute @workgroup_size(64)
fn bias_grad_transpose(@builtin(global_invocation_id) g: vec3<u32>) {
  let col = g.x;
  if (col >= p.cols) { return; }
  var s = 0.0;
  for (var r = 0u; r < p.rows; r++) {
    let v = dOutT[r * p.cols + col];
    dOutTransposed[col * p.rows + r] = v;
    s += v;
  }
  dBiasT[col] = s;
}
