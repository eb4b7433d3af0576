// Swaps axes 1 and 2 of a 4-D tensor: y (A, C, B, D) from x (A, B, C, D). Attention uses it to
// turn (batch, T, heads, headDim) into (batch, heads, T, headDim) and back. Its backward is the
// same kernel with B and C exchanged.

struct Params { a: u32, b: u32, c: u32, d: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn transpose12_forward(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = g.x + g.y * nwg.x * 256u;
  if (i >= p.a * p.b * p.c * p.d) { return; }
  let d = i % p.d;
  let c = (i / p.d) % p.c;
  let b = (i / (p.d * p.c)) % p.b;
  let a = i / (p.d * p.c * p.b);
  y[((a * p.c + c) * p.b + b) * p.d + d] = x[i];
}
