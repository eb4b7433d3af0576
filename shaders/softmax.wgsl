// Masked softmax over attention scores, as Hugging Face BERT computes it:
// P (B, H, Tq, Tk) = softmax(S · scale + (1 - mask) · f32::MIN) along Tk, mask (B, Tk) of 1/0.
// Backward: dS = scale · P · (dP - Σ_k P · dP).
// Two shapes (src/ops/variants.ts): a workgroup of WG lanes per row, reducing in shared memory
// (coalesced on a GPU), or a thread per row with vec4 loads when Tk % 4 = 0 (fastest on lavapipe).

struct Params { rows: u32, tk: u32, rowsPerBatch: u32, scale: f32 }

// Exactly -(2 - 2⁻²³)·2¹²⁷ in hex: Dawn's Tint rejects the rounded decimal -3.40282347e+38 as
// out of f32 range (it is, by 3.6e29), where wgpu's naga rounds it.
const F32_MIN: f32 = -0x1.fffffep+127f;

override WG: u32 = 32u;
var<workgroup> red: array<f32, WG>;

/** max (isMax) or Σ over the workgroup; every lane gets the result. */
fn workgroup_reduce(lid: u32, v: f32, isMax: bool) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      red[lid] = select(red[lid] + red[lid + s], max(red[lid], red[lid + s]), isMax);
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> scores: array<f32>;   // (B, H, Tq, Tk)
@group(0) @binding(2) var<storage, read> mask: array<f32>;     // (B, Tk)
@group(0) @binding(3) var<storage, read_write> probs: array<f32>; // (B, H, Tq, Tk)

@compute @workgroup_size(WG)
fn masked_softmax_forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) lid: u32) {
  let r = wg.x + wg.y * nwg.x;
  if (r >= p.rows) { return; }
  let base = r * p.tk;
  let maskBase = (r / p.rowsPerBatch) * p.tk;
  var mx = F32_MIN;
  for (var k = lid; k < p.tk; k += WG) {
    mx = max(mx, scores[base + k] * p.scale + (1.0 - mask[maskBase + k]) * F32_MIN);
  }
  mx = workgroup_reduce(lid, mx, true);
  var sum = 0.0;
  for (var k = lid; k < p.tk; k += WG) {
    let e = exp(scores[base + k] * p.scale + (1.0 - mask[maskBase + k]) * F32_MIN - mx);
    probs[base + k] = e;
    sum += e;
  }
  let inv = 1.0 / workgroup_reduce(lid, sum, false);
  for (var k = lid; k < p.tk; k += WG) { probs[base + k] = probs[base + k] * inv; }
}

@group(0) @binding(1) var<storage, read> scores4: array<vec4<f32>>;      // (B, H, Tq, Tk/4)
@group(0) @binding(2) var<storage, read> mask4: array<vec4<f32>>;        // (B, Tk/4)
@group(0) @binding(3) var<storage, read_write> probs4: array<vec4<f32>>; // (B, H, Tq, Tk/4)

@compute @workgroup_size(64)
fn masked_softmax_forward_rows4(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = g.x + g.y * nwg.x * 64u;
  if (r >= p.rows) { return; }
  let k4 = p.tk / 4u;
  let base = r * k4;
  let maskBase = (r / p.rowsPerBatch) * k4;
  var mx = vec4<f32>(F32_MIN);
  for (var k = 0u; k < k4; k++) {
    mx = max(mx, scores4[base + k] * p.scale + (1.0 - mask4[maskBase + k]) * F32_MIN);
  }
  let m = max(max(mx.x, mx.y), max(mx.z, mx.w));
  var sum = vec4<f32>();
  for (var k = 0u; k < k4; k++) {
    let e = exp(scores4[base + k] * p.scale + (1.0 - mask4[maskBase + k]) * F32_MIN - m);
    probs4[base + k] = e;
    sum += e;
  }
  let inv = 1.0 / (sum.x + sum.y + sum.z + sum.w);
  for (var k = 0u; k < k4; k++) { probs4[base + k] = probs4[base + k] * inv; }
}

/** Key block k of row `base` (four keys), scaled and masked; past the row, F32_MIN. */
fn masked4(base: u32, maskBase: u32, k: u32, k4: u32) -> vec4<f32> {
  if (k >= k4) { return vec4<f32>(F32_MIN); }
  return scores4[base + k] * p.scale + (1.0 - mask4[maskBase + k]) * F32_MIN;
}

fn max4(v: vec4<f32>) -> f32 { return max(max(v.x, v.y), max(v.z, v.w)); }

// Tk ≤ 32 (a multiple of 4), BERT's short sequences: the row stays in registers (eight named
// vec4: lavapipe keeps only constant-indexed values in registers), so scores and mask are read
// once and probs written once, against twice and three times above.
@compute @workgroup_size(64)
fn masked_softmax_forward_rows4_short(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = g.x + g.y * nwg.x * 64u;
  if (r >= p.rows) { return; }
  let k4 = p.tk / 4u;
  let base = r * k4;
  let mb = (r / p.rowsPerBatch) * k4;
  let a0 = masked4(base, mb, 0u, k4);
  let a1 = masked4(base, mb, 1u, k4);
  let a2 = masked4(base, mb, 2u, k4);
  let a3 = masked4(base, mb, 3u, k4);
  let a4 = masked4(base, mb, 4u, k4);
  let a5 = masked4(base, mb, 5u, k4);
  let a6 = masked4(base, mb, 6u, k4);
  let a7 = masked4(base, mb, 7u, k4);
  let m = max4(max(max(max(a0, a1), max(a2, a3)), max(max(a4, a5), max(a6, a7))));
  // Blocks past the row count nothing (a fully masked row's max is F32_MIN itself).
  let z = vec4<f32>();
  let e0 = exp(a0 - m);
  let e1 = select(z, exp(a1 - m), 1u < k4);
  let e2 = select(z, exp(a2 - m), 2u < k4);
  let e3 = select(z, exp(a3 - m), 3u < k4);
  let e4 = select(z, exp(a4 - m), 4u < k4);
  let e5 = select(z, exp(a5 - m), 5u < k4);
  let e6 = select(z, exp(a6 - m), 6u < k4);
  let e7 = select(z, exp(a7 - m), 7u < k4);
  let s = ((e0 + e1) + (e2 + e3)) + ((e4 + e5) + (e6 + e7));
  let inv = 1.0 / (s.x + s.y + s.z + s.w);
  probs4[base] = e0 * inv;
  if (1u < k4) { probs4[base + 1u] = e1 * inv; }
  if (2u < k4) { probs4[base + 2u] = e2 * inv; }
  if (3u < k4) { probs4[base + 3u] = e3 * inv; }
  if (4u < k4) { probs4[base + 4u] = e4 * inv; }
  if (5u < k4) { probs4[base + 5u] = e5 * inv; }
  if (6u < k4) { probs4[base + 6u] = e6 * inv; }
  if (7u < k4) { probs4[base + 7u] = e7 * inv; }
}

@group(0) @binding(1) var<storage, read> savedProbs: array<f32>; // (B, H, Tq, Tk)
@group(0) @binding(2) var<storage, read> dProbs: array<f32>;     // (B, H, Tq, Tk)
@group(0) @binding(3) var<storage, read_write> dScores: array<f32>;

@compute @workgroup_size(WG)
fn masked_softmax_backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                           @builtin(local_invocation_index) lid: u32) {
  let r = wg.x + wg.y * nwg.x;
  if (r >= p.rows) { return; }
  let base = r * p.tk;
  var dot = 0.0;
  for (var k = lid; k < p.tk; k += WG) { dot += savedProbs[base + k] * dProbs[base + k]; }
  dot = workgroup_reduce(lid, dot, false);
  for (var k = lid; k < p.tk; k += WG) {
    dScores[base + k] = p.scale * savedProbs[base + k] * (dProbs[base + k] - dot);
  }
}

@group(0) @binding(1) var<storage, read> savedProbs4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> dProbs4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> dScores4: array<vec4<f32>>;

@compute @workgroup_size(64)
fn masked_softmax_backward_rows4(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = g.x + g.y * nwg.x * 64u;
  if (r >= p.rows) { return; }
  let k4 = p.tk / 4u;
  let base = r * k4;
  var d = vec4<f32>();
  for (var k = 0u; k < k4; k++) { d += savedProbs4[base + k] * dProbs4[base + k]; }
  let dot = d.x + d.y + d.z + d.w;
  for (var k = 0u; k < k4; k++) {
    dScores4[base + k] = p.scale * savedProbs4[base + k] * (dProbs4[base + k] - dot);
  }
}
