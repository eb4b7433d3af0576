// LayerNorm over the last dimension: y (R, C) = (x - mean) · rstd · weight + bias, with stable
// statistics (two passes over the row per workgroup; Welford's one-pass update per thread). mean and rstd (R) are saved.
// One workgroup per row: its WG lanes stride the columns (neighbouring lanes read neighbouring
// addresses, which a GPU coalesces and lavapipe turns into vector loads) and reduce in shared
// memory. One thread per row, the obvious shape, makes lanes read addresses C apart: 0.2 GB/s on
// lavapipe against several GB/s this way.

struct Params { rows: u32, cols: u32, eps: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;        // (R, C)
@group(0) @binding(2) var<storage, read> weight: array<f32>;   // (C)
@group(0) @binding(3) var<storage, read> bias: array<f32>;     // (C)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;  // (R, C)
@group(0) @binding(5) var<storage, read_write> mean: array<f32>; // (R)
@group(0) @binding(6) var<storage, read_write> rstd: array<f32>; // (R)

@compute @workgroup_size(WG)
fn layer_norm_forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
  let r = row_of(wg, nwg);
  if (r >= p.rows) { return; }
  let base = r * p.cols;
  let n = f32(p.cols);
  var s = 0.0;
  for (var c = lid; c < p.cols; c += WG) { s += x[base + c]; }
  let m = workgroup_sum2(lid, s, 0.0).x / n;
  var v = 0.0;
  for (var c = lid; c < p.cols; c += WG) { let d = x[base + c] - m; v += d * d; }
  let rs = inverseSqrt(workgroup_sum2(lid, v, 0.0).x / n + p.eps);
  for (var c = lid; c < p.cols; c += WG) {
    y[base + c] = (x[base + c] - m) * rs * weight[c] + bias[c];
  }
  if (lid == 0u) {
    mean[r] = m;
    rstd[r] = rs;
  }
}

// Row per thread, four columns per load (C a multiple of 4): the shape lavapipe runs fastest.
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;      // (R, C/4)
@group(0) @binding(2) var<storage, read> weight4: array<vec4<f32>>; // (C/4)
@group(0) @binding(3) var<storage, read> bias4: array<vec4<f32>>;   // (C/4)
@group(0) @binding(4) var<storage, read_write> y4: array<vec4<f32>>; // (R, C/4)

/**
 * Mean and Σ(x - mean)² of row x4[base .. base + c4) in one read (a third of the row's traffic
 * saved against two passes): Welford's update per vec4 component, the four merged pairwise
 * (Chan, Golub & LeVeque), as stable as the two-pass sums.
 */
fn welford_rows4(base: u32, c4: u32) -> vec2<f32> {
  var mean = vec4<f32>();
  var m2 = vec4<f32>();
  for (var c = 0u; c < c4; c++) {
    let v = x4[base + c];
    let d = v - mean;
    mean += d * (1.0 / f32(c + 1u));
    m2 += d * (v - mean);
  }
  // Two sets of n values each: mean (a + b) / 2, M2 = M2a + M2b + (b - a)² · n / 2.
  let n = f32(c4);
  let dxy = mean.y - mean.x;
  let dzw = mean.w - mean.z;
  let mxy = 0.5 * (mean.x + mean.y);
  let mzw = 0.5 * (mean.z + mean.w);
  let d = mzw - mxy;
  let q = m2.x + m2.y + m2.z + m2.w + (dxy * dxy + dzw * dzw) * (0.5 * n) + d * d * n;
  return vec2<f32>(0.5 * (mxy + mzw), q);
}

@compute @workgroup_size(64)
fn layer_norm_forward_rows4(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = g.x + g.y * nwg.x * 64u;
  if (r >= p.rows) { return; }
  let c4 = p.cols / 4u;
  let base = r * c4;
  let st = welford_rows4(base, c4);
  let m = st.x;
  let rs = inverseSqrt(st.y / f32(p.cols) + p.eps);
  for (var c = 0u; c < c4; c++) {
    y4[base + c] = (x4[base + c] - m) * rs * weight4[c] + bias4[c];
  }
  mean[r] = m;
  rstd[r] = rs;
}

@group(0) @binding(3) var<storage, read> dOut: array<f32>;      // (R, C)
@group(0) @binding(4) var<storage, read> savedMean: array<f32>; // (R)
@group(0) @binding(5) var<storage, read> savedRstd: array<f32>; // (R)
@group(0) @binding(6) var<storage, read_write> dX: array<f32>;  // (R, C)

// dX = rstd · (dx̂ - mean(dx̂) - x̂ · mean(dx̂ · x̂)), dx̂ = dOut · weight
@compute @workgroup_size(WG)
fn layer_norm_backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                       @builtin(local_invocation_index) lid: u32) {
  let r = row_of(wg, nwg);
  if (r >= p.rows) { return; }
  let base = r * p.cols;
  let m = savedMean[r];
  let rs = savedRstd[r];
  var sumD = 0.0;
  var sumDX = 0.0;
  for (var c = lid; c < p.cols; c += WG) {
    let dxh = dOut[base + c] * weight[c];
    sumD += dxh;
    sumDX += dxh * (x[base + c] - m) * rs;
  }
  let sums = workgroup_sum2(lid, sumD, sumDX) / f32(p.cols);
  for (var c = lid; c < p.cols; c += WG) {
    let xh = (x[base + c] - m) * rs;
    let dxh = dOut[base + c] * weight[c];
    dX[base + c] = rs * (dxh - sums.x - xh * sums.y);
  }
}

@group(0) @binding(3) var<storage, read> dOut4: array<vec4<f32>>;     // (R, C/4)
@group(0) @binding(6) var<storage, read_write> dX4: array<vec4<f32>>; // (R, C/4)

@compute @workgroup_size(64)
fn layer_norm_backward_rows4(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = g.x + g.y * nwg.x * 64u;
  if (r >= p.rows) { return; }
  let c4 = p.cols / 4u;
  let base = r * c4;
  let m = savedMean[r];
  let rs = savedRstd[r];
  var sumD = vec4<f32>();
  var sumDX = vec4<f32>();
  for (var c = 0u; c < c4; c++) {
    let dxh = dOut4[base + c] * weight4[c];
    sumD += dxh;
    sumDX += dxh * (x4[base + c] - m) * rs;
  }
  let n = f32(p.cols);
  let meanD = hsum(sumD) / n;
  let meanDX = hsum(sumDX) / n;
  for (var c = 0u; c < c4; c++) {
    let xh = (x4[base + c] - m) * rs;
    dX4[base + c] = rs * (dOut4[base + c] * weight4[c] - meanD - xh * meanDX);
  }
}

@group(0) @binding(2) var<storage, read> dOutP: array<f32>;        // (R, C)
@group(0) @binding(3) var<storage, read> meanP: array<f32>;        // (R)
@group(0) @binding(4) var<storage, read> rstdP: array<f32>;        // (R)
@group(0) @binding(5) var<storage, read_write> dWeight: array<f32>; // (C)
@group(0) @binding(6) var<storage, read_write> dBias: array<f32>;   // (C)

// dWeight = Σ_rows dOut · x̂, dBias = Σ_rows dOut. Columns are spread over lanes so neighbouring
// lanes read neighbouring addresses; rows are summed in order (deterministic, no atomics).
@compute @workgroup_size(WG)
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

@group(0) @binding(2) var<storage, read> dOutP4: array<vec4<f32>>;        // (R, C/4)
@group(0) @binding(5) var<storage, read_write> dWeight4: array<vec4<f32>>; // (C/4)
@group(0) @binding(6) var<storage, read_write> dBias4: array<vec4<f32>>;   // (C/4)

// The same, four columns per thread (C a multiple of 4).
@compute @workgroup_size(64)
fn layer_norm_backward_params4(@builtin(global_invocation_id) g: vec3<u32>) {
  let c = g.x;
  let c4 = p.cols / 4u;
  if (c >= c4) { return; }
  var dw = vec4<f32>();
  var db = vec4<f32>();
  for (var r = 0u; r < p.rows; r++) {
    let d = dOutP4[r * c4 + c];
    dw += d * (x4[r * c4 + c] - meanP[r]) * rstdP[r];
    db += d;
  }
  dWeight4[c] = dw;
  dBias4[c] = db;
}
