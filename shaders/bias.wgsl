// Bias over rows: forward y (R, C) = x (R, C) + bias (C); backward dBias (C) = Σ_rows dOut (R, C).
// (linear fuses its bias into the matmul epilogue; bias_add_backward serves both.)

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
