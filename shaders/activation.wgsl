// Elementwise activations, forward beside backward (all tensors (n)).
// gelu is the exact erf form BERT uses: x·Φ(x). WGSL has no erf, so Φ comes from erfc with a
// Chebyshev fit whose *relative* error is below 1.2e-7 everywhere (Numerical Recipes' erfcc),
// which keeps Φ accurate in the far negative tail where 1 + erf(x) would cancel.

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;       // forward input
@group(0) @binding(2) var<storage, read_write> y: array<f32>; // forward output

fn erfc_nonneg(z: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.5 * z);
  let poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
    t * (-0.82215223 + t * 0.17087277))))))));
  return t * exp(poly);
}

// Φ(v) = 0.5·erfc(-v/√2)
fn normal_cdf(v: f32) -> f32 {
  let z = abs(v) * 0.70710678118654752;
  let half_tail = 0.5 * erfc_nonneg(z);
  return select(1.0 - half_tail, half_tail, v < 0.0);
}

fn index(g: vec3<u32>, nwg: vec3<u32>) -> u32 { return g.x + g.y * nwg.x * 256u; }

@compute @workgroup_size(256)
fn gelu_forward(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(g, nwg);
  if (i >= p.n) { return; }
  y[i] = x[i] * normal_cdf(x[i]);
}

@group(0) @binding(2) var<storage, read> dOut: array<f32>;
@group(0) @binding(3) var<storage, read_write> dX: array<f32>;

// d/dx x·Φ(x) = Φ(x) + x·φ(x)
@compute @workgroup_size(256)
fn gelu_backward(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(g, nwg);
  if (i >= p.n) { return; }
  let v = x[i];
  let pdf = 0.39894228040143268 * exp(-0.5 * v * v);
  dX[i] = dOut[i] * (normal_cdf(v) + v * pdf);
}

// tanh through exp of a non-positive argument: no overflow, and exact signs.
fn tanh_stable(v: f32) -> f32 {
  let e = exp(-2.0 * abs(v));
  return sign(v) * (1.0 - e) / (1.0 + e);
}

@compute @workgroup_size(256)
fn tanh_forward(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(g, nwg);
  if (i >= p.n) { return; }
  y[i] = tanh_stable(x[i]);
}

// Backward from the saved output: d tanh = 1 - y²; here binding 1 holds y, not x.
@compute @workgroup_size(256)
fn tanh_backward(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(g, nwg);
  if (i >= p.n) { return; }
  let t = x[i];
  dX[i] = dOut[i] * (1.0 - t * t);
}
