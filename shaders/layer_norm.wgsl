// LayerNorm over the last dimension: y (R, C) = (x - mean) · rstd · weight + bias, two-pass
// (mean, then variance of the centred values) for stability. mean and rstd (R) are saved.

struct Params { rows: u32, cols: u32, eps: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;        // (R, C)
@group(0) @binding(2) var<storage, read> weight: array<f32>;   // (C)
@group(0) @binding(3) var<storage, read> bias: array<f32>;     // (C)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;  // (R, C)
@group(0) @binding(5) var<storage, read_write> mean: array<f32>; // (R)
@group(0) @binding(6) var<storage, read_write> rstd: array<f32>; // (R)

@compute @workgroup_size(64)
fn layer_norm_forward(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = g.x + g.y * nwg.x * 64u;
  if (r >= p.rows) { return; }
  let base = r * p.cols;
  let n = f32(p.cols);
  var s = 0.0;
  for (var c = 0u; c < p.cols; c++) { s += x[base + c]; }
  let m = s / n;
  var v = 0.0;
  for (var c = 0u; c < p.cols; c++) { let d = x[base + c] - m; v += d * d; }
  let rs = inverseSqrt(v / n + p.eps);
  for (var c = 0u; c < p.cols; c++) {
    y[base + c] = (x[base + c] - m) * rs * weight[c] + bias[c];
  }
  mean[r] = m;
  rstd[r] = rs;
}

@group(0) @binding(3) var<storage, read> dOut: array<f32>;      // (R, C)
@group(0) @binding(4) var<storage, read> savedMean: array<f32>; // (R)
@group(0) @binding(5) var<storage, read> savedRstd: array<f32>; // (R)
@group(0) @binding(6) var<storage, read_write> dX: array<f32>;  // (R, C)

// dX = rstd · (dx̂ - mean(dx̂) - x̂ · mean(dx̂ · x̂)), dx̂ = dOut · weight
@compute @workgroup_size(64)
fn layer_norm_backward(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = g.x + g.y * nwg.x * 64u;
  if (r >= p.rows) { return; }
  let base = r * p.cols;
  let m = savedMean[r];
  let rs = savedRstd[r];
  var sumD = 0.0;
  var sumDX = 0.0;
  for (var c = 0u; c < p.cols; c++) {
    let dxh = dOut[base + c] * weight[c];
    sumD += dxh;
    sumDX += dxh * (x[base + c] - m) * rs;
  }
  let n = f32(p.cols);
  for (var c = 0u; c < p.cols; c++) {
    let xh = (x[base + c] - m) * rs;
    let dxh = dOut[base + c] * weight[c];
    dX[base + c] = rs * (dxh - sumD / n - xh * sumDX / n);
  }
}

@group(0) @binding(2) var<storage, read> dOutP: array<f32>;        // (R, C)
@group(0) @binding(3) var<storage, read> meanP: array<f32>;        // (R)
@group(0) @binding(4) var<storage, read> rstdP: array<f32>;        // (R)
@group(0) @binding(5) var<storage, read_write> dWeight: array<f32>; // (C)
@group(0) @binding(6) var<storage, read_write> dBias: array<f32>;   // (C)

// One thread per column: dWeight = Σ_rows dOut · x̂, dBias = Σ_rows dOut.
@compute @workgroup_size(64)
fn layer_norm_backward_params(@builtin(global_invocation_id) g: vec3<u32>) {
  let c = g.x;
  if (c >= p.cols) { return; }
  var dw = 0.0;
  var db = 0.0;
  for (var r = 0u; r < p.rows; r++) {
    let d = dOutP[r * p.cols + c];
    dw += d * (x[r * p.cols + c] - meanP[r]) * rstdP[r];
    db += d;
  }
  dWeight[c] = dw;
  dBias[c] = db;
}
