// Residual LayerNorm with the sublayer's bias and dropout folded in (BertSelfOutput / BertOutput
// after their dense matmul, which then runs without its bias):
//   z (R, C) = dropout(branch + branchBias) + residual,  y = (z - mean) · rstd · weight + bias.
// One pass instead of dropout, add and LayerNorm (and, backward, dropout and the bias's column
// sum folded into LayerNorm's). The dropout mask is dropout_mask.wgsl's, as dropout.wgsl's:
// element i of (seed, stream) is kept when uniform(hash(i, key)) ≥ prob and scaled by
// 1/(1 - prob), so the fused op drops exactly what dropout() would. z and per-row (mean, rstd) are saved for the backward; stats
// packs them as (mean, rstd) pairs to stay within 8 storage bindings.

// rowStride: row r takes the dropout mask of row r·rowStride (dropout_row_index), as dropout.wgsl;
// table 1: of row rowOf[r] instead (a batch's packed rows), the table bound forward where the
// branch bias would be (there is none then: the dense layer added it; WebGPU's default limit of 8
// storage bindings leaves no other) and backward at binding 7.
struct Params {
  rows: u32, cols: u32, seed: u32, stream: u32, rowStride: u32, table: u32, eps: f32, prob: f32
}

override HAS_DROPOUT: bool = false;
override HAS_BRANCH_BIAS: bool = false;
/** Backward: write dResidual (false: the residual needs no gradient). */
override HAS_RESIDUAL_GRAD: bool = true;
/** Backward: dResidual += dz, into a gradient that other consumers already started. */
override ACC_RESIDUAL: bool = false;
/** Backward: write dBranch (the dropout's input gradient). */
override HAS_BRANCH_GRAD: bool = true;
/** Backward, column sums: also write dBranchᵀ (C, R), for the dense layer's weight gradient. */
override WRITE_TRANSPOSED: bool = false;

@group(0) @binding(0) var<uniform> p: Params;

/** With p.table 1, the place of the row being computed (set by each entry point from its table). */
var<private> row_place: u32;

/** Element i of the dropout map (forward on values, backward on gradients: the same map). */
fn drop(i: u32, v: f32) -> f32 {
  if (!HAS_DROPOUT) { return v; }
  var at = dropout_row_index(i, p.cols, p.rowStride);
  if (p.table == 1u) { at = row_place * p.cols + i % p.cols; }
  let keep = dropout_keep(at, dropout_key(p.seed, p.stream), p.prob);
  return select(0.0, v / (1.0 - p.prob), keep);
}

fn drop4(i: u32, v: vec4<f32>) -> vec4<f32> {
  if (!HAS_DROPOUT) { return v; }
  return vec4<f32>(drop(i, v.x), drop(i + 1u, v.y), drop(i + 2u, v.z), drop(i + 3u, v.w));
}

// ---- forward ----
@group(0) @binding(1) var<storage, read> branch: array<f32>;     // (R, C)
// (C) f32 bits, or with p.table the rows' places (R)
@group(0) @binding(2) var<storage, read> branchBias: array<u32>;
@group(0) @binding(3) var<storage, read> residual: array<f32>;   // (R, C)
@group(0) @binding(4) var<storage, read> weight: array<f32>;     // (C)
@group(0) @binding(5) var<storage, read> bias: array<f32>;       // (C)
@group(0) @binding(6) var<storage, read_write> y: array<f32>;    // (R, C)
@group(0) @binding(7) var<storage, read_write> z: array<f32>;    // (R, C)
@group(0) @binding(8) var<storage, read_write> stats: array<f32>; // (R, 2): mean, rstd

// A workgroup per row, lanes striding the columns (see layer_norm.wgsl).
@compute @workgroup_size(WG)
fn residual_layer_norm_forward(@builtin(workgroup_id) wg: vec3<u32>,
                               @builtin(num_workgroups) nwg: vec3<u32>,
                               @builtin(local_invocation_index) lid: u32) {
  let r = row_of(wg, nwg);
  if (r >= p.rows) { return; }
  if (p.table == 1u) { row_place = branchBias[r]; }
  let base = r * p.cols;
  let n = f32(p.cols);
  var s = 0.0;
  for (var c = lid; c < p.cols; c += WG) {
    var v = branch[base + c];
    if (HAS_BRANCH_BIAS) { v += bitcast<f32>(branchBias[c]); }
    let zv = drop(base + c, v) + residual[base + c];
    z[base + c] = zv;
    s += zv;
  }
  let m = workgroup_sum2(lid, s, 0.0).x / n;
  var q = 0.0;
  for (var c = lid; c < p.cols; c += WG) { let d = z[base + c] - m; q += d * d; }
  let rs = inverseSqrt(workgroup_sum2(lid, q, 0.0).x / n + p.eps);
  for (var c = lid; c < p.cols; c += WG) {
    y[base + c] = (z[base + c] - m) * rs * weight[c] + bias[c];
  }
  if (lid == 0u) {
    stats[2u * r] = m;
    stats[2u * r + 1u] = rs;
  }
}

@group(0) @binding(1) var<storage, read> branch4: array<vec4<f32>>;     // (R, C/4)
// (C/4) f32 bits, or with p.table the rows' places (R, as vec4s)
@group(0) @binding(2) var<storage, read> branchBias4: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> residual4: array<vec4<f32>>;   // (R, C/4)
@group(0) @binding(4) var<storage, read> weight4: array<vec4<f32>>;     // (C/4)
@group(0) @binding(5) var<storage, read> bias4: array<vec4<f32>>;       // (C/4)
@group(0) @binding(6) var<storage, read_write> y4: array<vec4<f32>>;    // (R, C/4)
@group(0) @binding(7) var<storage, read_write> z4: array<vec4<f32>>;    // (R, C/4)

// A thread per row, four columns per load (C a multiple of 4): the shape lavapipe runs fastest.
@compute @workgroup_size(64)
fn residual_layer_norm_forward_rows4(@builtin(global_invocation_id) g: vec3<u32>,
                                     @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = g.x + g.y * nwg.x * 64u;
  if (r >= p.rows) { return; }
  if (p.table == 1u) { row_place = branchBias4[r / 4u][r % 4u]; }
  let c4 = p.cols / 4u;
  let base = r * c4;
  let n = f32(p.cols);
  // Welford's update per vec4 component while z is made (no second read of z for the
  // variance), the four merged pairwise (Chan, Golub & LeVeque), as layer_norm.wgsl does.
  var mean = vec4<f32>();
  var m2 = vec4<f32>();
  for (var c = 0u; c < c4; c++) {
    var v = branch4[base + c];
    if (HAS_BRANCH_BIAS) { v += bitcast<vec4<f32>>(branchBias4[c]); }
    let zv = drop4((base + c) * 4u, v) + residual4[base + c];
    z4[base + c] = zv;
    let d = zv - mean;
    mean += d * (1.0 / f32(c + 1u));
    m2 += d * (zv - mean);
  }
  let k = f32(c4);
  let dxy = mean.y - mean.x;
  let dzw = mean.w - mean.z;
  let mxy = 0.5 * (mean.x + mean.y);
  let mzw = 0.5 * (mean.z + mean.w);
  let dm = mzw - mxy;
  let q = m2.x + m2.y + m2.z + m2.w + (dxy * dxy + dzw * dzw) * (0.5 * k) + dm * dm * k;
  let m = 0.5 * (mxy + mzw);
  let rs = inverseSqrt(q / n + p.eps);
  for (var c = 0u; c < c4; c++) {
    y4[base + c] = (z4[base + c] - m) * rs * weight4[c] + bias4[c];
  }
  stats[2u * r] = m;
  stats[2u * r + 1u] = rs;
}

// ---- backward: dz = rstd · (dẑ - mean(dẑ) - ẑ · mean(dẑ · ẑ)), dẑ = dOut · weight; then
// dResidual = dz and dBranch = dropout map of dz ----
@group(0) @binding(1) var<storage, read> zB: array<f32>;              // (R, C)
@group(0) @binding(2) var<storage, read> weightB: array<f32>;         // (C)
@group(0) @binding(3) var<storage, read> dOut: array<f32>;            // (R, C)
@group(0) @binding(4) var<storage, read> statsB: array<f32>;          // (R, 2)
@group(0) @binding(5) var<storage, read_write> dResidual: array<f32>; // (R, C)
@group(0) @binding(6) var<storage, read_write> dBranch: array<f32>;   // (R, C)
@group(0) @binding(7) var<storage, read> rowOfB: array<u32>;          // (R) with p.table

fn put_grads(i: u32, dz: f32) {
  if (HAS_RESIDUAL_GRAD) {
    if (ACC_RESIDUAL) { dResidual[i] = dResidual[i] + dz; } else { dResidual[i] = dz; }
  }
  if (HAS_BRANCH_GRAD) { dBranch[i] = drop(i, dz); }
}

@compute @workgroup_size(WG)
fn residual_layer_norm_backward(@builtin(workgroup_id) wg: vec3<u32>,
                                @builtin(num_workgroups) nwg: vec3<u32>,
                                @builtin(local_invocation_index) lid: u32) {
  let r = row_of(wg, nwg);
  if (r >= p.rows) { return; }
  if (p.table == 1u) { row_place = rowOfB[r]; }
  let base = r * p.cols;
  let m = statsB[2u * r];
  let rs = statsB[2u * r + 1u];
  var sumD = 0.0;
  var sumDX = 0.0;
  for (var c = lid; c < p.cols; c += WG) {
    let dxh = dOut[base + c] * weightB[c];
    sumD += dxh;
    sumDX += dxh * (zB[base + c] - m) * rs;
  }
  let sums = workgroup_sum2(lid, sumD, sumDX) / f32(p.cols);
  for (var c = lid; c < p.cols; c += WG) {
    let xh = (zB[base + c] - m) * rs;
    put_grads(base + c, rs * (dOut[base + c] * weightB[c] - sums.x - xh * sums.y));
  }
}

@group(0) @binding(1) var<storage, read> zB4: array<vec4<f32>>;              // (R, C/4)
@group(0) @binding(2) var<storage, read> weightB4: array<vec4<f32>>;         // (C/4)
@group(0) @binding(3) var<storage, read> dOut4: array<vec4<f32>>;            // (R, C/4)
@group(0) @binding(5) var<storage, read_write> dResidual4: array<vec4<f32>>; // (R, C/4)
@group(0) @binding(6) var<storage, read_write> dBranch4: array<vec4<f32>>;   // (R, C/4)

@compute @workgroup_size(64)
fn residual_layer_norm_backward_rows4(@builtin(global_invocation_id) g: vec3<u32>,
                                      @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = g.x + g.y * nwg.x * 64u;
  if (r >= p.rows) { return; }
  if (p.table == 1u) { row_place = rowOfB[r]; }
  let c4 = p.cols / 4u;
  let base = r * c4;
  let m = statsB[2u * r];
  let rs = statsB[2u * r + 1u];
  var sumD = vec4<f32>();
  var sumDX = vec4<f32>();
  for (var c = 0u; c < c4; c++) {
    let dxh = dOut4[base + c] * weightB4[c];
    sumD += dxh;
    sumDX += dxh * (zB4[base + c] - m) * rs;
  }
  let n = f32(p.cols);
  let meanD = hsum(sumD) / n;
  let meanDX = hsum(sumDX) / n;
  for (var c = 0u; c < c4; c++) {
    let xh = (zB4[base + c] - m) * rs;
    let dz = rs * (dOut4[base + c] * weightB4[c] - meanD - xh * meanDX);
    if (HAS_RESIDUAL_GRAD) {
      if (ACC_RESIDUAL) { dResidual4[base + c] = dResidual4[base + c] + dz; }
      else { dResidual4[base + c] = dz; }
    }
    if (HAS_BRANCH_GRAD) { dBranch4[base + c] = drop4((base + c) * 4u, dz); }
  }
}

// ---- backward, column sums: dWeight = Σ_rows dOut · ẑ, dBias = Σ_rows dOut and the branch
// bias's dBranchBias = Σ_rows dBranch, in one pass over the rows; with WRITE_TRANSPOSED the
// column of dBranch read for that sum is also written out as a row of dBranchᵀ (the dense
// layer's dW = dBranchᵀ · x then needs no transpose pass of its own). A thread per column (four
// with the vec4 entry); rows summed in order: deterministic, no atomics ----
@group(0) @binding(1) var<storage, read> zP: array<f32>;                  // (R, C)
@group(0) @binding(2) var<storage, read> dOutP: array<f32>;               // (R, C)
@group(0) @binding(3) var<storage, read> statsP: array<f32>;              // (R, 2)
@group(0) @binding(4) var<storage, read> dBranchP: array<f32>;            // (R, C)
@group(0) @binding(5) var<storage, read_write> dWeight: array<f32>;       // (C)
@group(0) @binding(6) var<storage, read_write> dBias: array<f32>;         // (C)
@group(0) @binding(7) var<storage, read_write> dBranchBias: array<f32>;   // (C)
@group(0) @binding(8) var<storage, read_write> dBranchT: array<f32>;      // (C, R)

@compute @workgroup_size(64)
fn residual_layer_norm_backward_params(@builtin(global_invocation_id) g: vec3<u32>) {
  let c = g.x;
  if (c >= p.cols) { return; }
  var dw = 0.0;
  var db = 0.0;
  var dbb = 0.0;
  for (var r = 0u; r < p.rows; r++) {
    let i = r * p.cols + c;
    let d = dOutP[i];
    dw += d * (zP[i] - statsP[2u * r]) * statsP[2u * r + 1u];
    db += d;
    if (HAS_BRANCH_BIAS) {
      let g = dBranchP[i];
      dbb += g;
      if (WRITE_TRANSPOSED) { dBranchT[c * p.rows + r] = g; }
    }
  }
  dWeight[c] = dw;
  dBias[c] = db;
  if (HAS_BRANCH_BIAS) { dBranchBias[c] = dbb; }
}

@group(0) @binding(1) var<storage, read> zP4: array<vec4<f32>>;                // (R, C/4)
@group(0) @binding(2) var<storage, read> dOutP4: array<vec4<f32>>;             // (R, C/4)
@group(0) @binding(4) var<storage, read> dBranchP4: array<vec4<f32>>;          // (R, C/4)
@group(0) @binding(5) var<storage, read_write> dWeight4: array<vec4<f32>>;     // (C/4)
@group(0) @binding(6) var<storage, read_write> dBias4: array<vec4<f32>>;       // (C/4)
@group(0) @binding(7) var<storage, read_write> dBranchBias4: array<vec4<f32>>; // (C/4)

@compute @workgroup_size(64)
fn residual_layer_norm_backward_params4(@builtin(global_invocation_id) g: vec3<u32>) {
  let c = g.x;
  let c4 = p.cols / 4u;
  if (c >= c4) { return; }
  var dw = vec4<f32>();
  var db = vec4<f32>();
  var dbb = vec4<f32>();
  for (var r = 0u; r < p.rows; r++) {
    let i = r * c4 + c;
    let d = dOutP4[i];
    dw += d * (zP4[i] - statsP[2u * r]) * statsP[2u * r + 1u];
    db += d;
    if (HAS_BRANCH_BIAS) {
      let g = dBranchP4[i];
      dbb += g;
      if (WRITE_TRANSPOSED) {
        dBranchT[4u * c * p.rows + r] = g.x;
        dBranchT[(4u * c + 1u) * p.rows + r] = g.y;
        dBranchT[(4u * c + 2u) * p.rows + r] = g.z;
        dBranchT[(4u * c + 3u) * p.rows + r] = g.w;
      }
    }
  }
  dWeight4[c] = dw;
  dBias4[c] = db;
  if (HAS_BRANCH_BIAS) { dBranchBias4[c] = dbb; }
}
