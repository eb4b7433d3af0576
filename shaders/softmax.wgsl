// Masked softmax over attention scores, as Hugging Face BERT computes it:
// P (B, H, Tq, Tk) = softmax(S · scale + (1 - mask) · f32::MIN) along Tk, mask (B, Tk) of 1/0.
// One thread per row. Backward: dS = scale · P · (dP - Σ_k P · dP).

struct Params { rows: u32, tk: u32, rowsPerBatch: u32, scale: f32 }

// Exactly -(2 - 2⁻²³)·2¹²⁷ in hex: Dawn's Tint rejects the rounded decimal -3.40282347e+38 as
// out of f32 range (it is, by 3.6e29), where wgpu's naga rounds it.
const F32_MIN: f32 = -0x1.fffffep+127f;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> scores: array<f32>;   // (B, H, Tq, Tk)
@group(0) @binding(2) var<storage, read> mask: array<f32>;     // (B, Tk)
@group(0) @binding(3) var<storage, read_write> probs: array<f32>; // (B, H, Tq, Tk)

@compute @workgroup_size(64)
fn masked_softmax_forward(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = g.x + g.y * nwg.x * 64u;
  if (r >= p.rows) { return; }
  let base = r * p.tk;
  let maskBase = (r / p.rowsPerBatch) * p.tk;
  var mx = F32_MIN;
  for (var k = 0u; k < p.tk; k++) {
    let z = scores[base + k] * p.scale + (1.0 - mask[maskBase + k]) * F32_MIN;
    mx = max(mx, z);
  }
  var sum = 0.0;
  for (var k = 0u; k < p.tk; k++) {
    let e = exp(scores[base + k] * p.scale + (1.0 - mask[maskBase + k]) * F32_MIN - mx);
    probs[base + k] = e;
    sum += e;
  }
  let inv = 1.0 / sum;
  for (var k = 0u; k < p.tk; k++) { probs[base + k] = probs[base + k] * inv; }
}

@group(0) @binding(1) var<storage, read> savedProbs: array<f32>; // (B, H, Tq, Tk)
@group(0) @binding(2) var<storage, read> dProbs: array<f32>;     // (B, H, Tq, Tk)
@group(0) @binding(3) var<storage, read_write> dScores: array<f32>;

@compute @workgroup_size(64)
fn masked_softmax_backward(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = g.x + g.y * nwg.x * 64u;
  if (r >= p.rows) { return; }
  let base = r * p.tk;
  var dot = 0.0;
  for (var k = 0u; k < p.tk; k++) { dot += savedProbs[base + k] * dProbs[base + k]; }
  for (var k = 0u; k < p.tk; k++) {
    dScores[base + k] = p.scale * savedProbs[base + k] * (dProbs[base + k] - dot);
  }
}
