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
