// Low-rank products (LoRA's rank-r side): C (P, r) = alpha · Σ_k X(p, k) · Y(k, j) [+ C], r small
// (a LoRA rank), K long (rows of a batch, or a layer's width). Every product of LoRA's forward and
// backward has this shape (src/ops/low_rank.ts maps them): xa = x·Aᵀ, dXa = s·dY·B, dB = s·dYᵀ·xa
// and dA = dXaᵀ·x, the last two with no transpose pass, because X is read in either layout:
//   X (P, K) at p·K + k, or with X_COLS (K, P) at k·P + p (neighbouring lanes, neighbouring words);
//   Y (K, r) at k·r + j, or with Y_COLS (r, K) at j·K + k;
//   C (P, r) at p·r + j, or with C_COLS (r, P) at j·P + p.
// Each invocation owns one row p of C (four with low_rank_cols4; 8 or 16 with the register-tiled
// kernels below, and low_rank_dy runs two of them side by side) and 8 of its r columns, chosen by
// workgroup_id.y, in registers named one by one: lavapipe keeps a private array in registers only
// when every index is a constant (tools/gen_matmul_vec4.ts). Y's address depends on k and the
// workgroup alone, so all lanes load the same Y(k, j0..j0+7), which needs no per-lane gather on a
// SIMD CPU rasteriser nor divergent traffic on a GPU; each X element is loaded once per 8 columns.
// A column j ≥ r is computed from a clamped Y(k, r - 1) and never stored.

// The loop's end K is read from a storage buffer, not the uniform: Mesa 22's lavapipe inlines a
// uniform that bounds a loop and recompiles the shader whenever that uniform's contents change, so
// one pipeline serving LoRA layers of two widths recompiled on every dispatch (measured on
// bert-tiny: 5-7 ms for the pooler's dA, 128×16 by rank 8, against 0.06 ms with K in storage).
struct Params { P: u32, K: u32, r: u32, alpha: f32 }

override X_COLS: bool = false;
override Y_COLS: bool = false;
override C_COLS: bool = false;
/** C += result: a gradient accumulated where another consumer's already lies. */
override ACCUMULATE: bool = false;

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(3) var<storage, read_write> c: array<f32>; // (P, r), or (r, P) with C_COLS
@group(0) @binding(4) var<storage, read> loopEnd: array<u32>; // [K]

fn put(p: u32, j: u32, v: f32) {
  if (p >= u.P || j >= u.r) { return; }
  var i = p * u.r + j;
  if (C_COLS) { i = j * u.P + p; }
  if (ACCUMULATE) { c[i] = c[i] + u.alpha * v; } else { c[i] = u.alpha * v; }
}

fn put8(p: u32, j0: u32, lo: vec4<f32>, hi: vec4<f32>) {
  put(p, j0, lo.x);
  put(p, j0 + 1u, lo.y);
  put(p, j0 + 2u, lo.z);
  put(p, j0 + 3u, lo.w);
  put(p, j0 + 4u, hi.x);
  put(p, j0 + 5u, hi.y);
  put(p, j0 + 6u, hi.z);
  put(p, j0 + 7u, hi.w);
}

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;

fn xAt(p: u32, k: u32) -> f32 {
  if (X_COLS) { return x[k * u.P + p]; }
  return x[p * u.K + k];
}

fn yAt(k: u32, j: u32) -> f32 {
  let jc = min(j, u.r - 1u);
  if (Y_COLS) { return y[jc * u.K + k]; }
  return y[k * u.r + jc];
}

fn y4At(k: u32, j: u32) -> vec4<f32> {
  return vec4<f32>(yAt(k, j), yAt(k, j + 1u), yAt(k, j + 2u), yAt(k, j + 3u));
}

// Any shape and layout, one word at a time.
@compute @workgroup_size(64)
fn low_rank_forward(
  @builtin(global_invocation_id) g: vec3<u32>,
  @builtin(workgroup_id) wg: vec3<u32>,
) {
  let p = g.x;
  let j0 = wg.y * 8u;
  if (p >= u.P) { return; }
  var lo = vec4<f32>();
  var hi = vec4<f32>();
  let kEnd = loopEnd[0];
  for (var k = 0u; k < kEnd; k++) {
    let xv = xAt(p, k);
    lo += xv * y4At(k, j0);
    hi += xv * y4At(k, j0 + 4u);
  }
  put8(p, j0, lo, hi);
}

@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> y4: array<vec4<f32>>;

/** Y (K, r) words k·r + j .. j + 3 as one vec4 (r a multiple of 4, j of 4), clamped to row k. */
fn yRow4(k: u32, j: u32) -> vec4<f32> {
  let r4 = u.r / 4u;
  return y4[k * r4 + min(j / 4u, r4 - 1u)];
}

/** Y_COLS: Y(k .. k + 3, j) as one vec4, from row j of Y (r, K) (K a multiple of 4). */
fn yCol4(k4: u32, j: u32) -> vec4<f32> {
  return y4[min(j, u.r - 1u) * (u.K / 4u) + k4];
}

// X (P, K) row-major, K a multiple of 4 (and r with Y (K, r)): X(p, k .. k + 3) as one vec4.
@compute @workgroup_size(64)
fn low_rank_rows4(
  @builtin(global_invocation_id) g: vec3<u32>,
  @builtin(workgroup_id) wg: vec3<u32>,
) {
  let p = g.x;
  let j0 = wg.y * 8u;
  if (p >= u.P) { return; }
  let k4n = loopEnd[0] / 4u;
  var lo = vec4<f32>();
  var hi = vec4<f32>();
  for (var k4 = 0u; k4 < k4n; k4++) {
    let xv = x4[p * k4n + k4];
    if (Y_COLS) {
      lo += vec4<f32>(
        dot(xv, yCol4(k4, j0)),
        dot(xv, yCol4(k4, j0 + 1u)),
        dot(xv, yCol4(k4, j0 + 2u)),
        dot(xv, yCol4(k4, j0 + 3u)),
      );
      hi += vec4<f32>(
        dot(xv, yCol4(k4, j0 + 4u)),
        dot(xv, yCol4(k4, j0 + 5u)),
        dot(xv, yCol4(k4, j0 + 6u)),
        dot(xv, yCol4(k4, j0 + 7u)),
      );
    } else {
      let k = k4 * 4u;
      lo += xv.x * yRow4(k, j0) + xv.y * yRow4(k + 1u, j0) + xv.z * yRow4(k + 2u, j0) +
        xv.w * yRow4(k + 3u, j0);
      hi += xv.x * yRow4(k, j0 + 4u) + xv.y * yRow4(k + 1u, j0 + 4u) +
        xv.z * yRow4(k + 2u, j0 + 4u) + xv.w * yRow4(k + 3u, j0 + 4u);
    }
  }
  put8(p, j0, lo, hi);
}

// X (K, P) column-major, P and r multiples of 4, Y (K, r): the invocation owns rows p .. p + 3,
// read as one vec4 X(p .. p + 3, k) per k, and keeps one vec4 (its 4 rows) per column.
@compute @workgroup_size(64)
fn low_rank_cols4(
  @builtin(global_invocation_id) g: vec3<u32>,
  @builtin(workgroup_id) wg: vec3<u32>,
) {
  let p4n = u.P / 4u;
  let p4 = g.x;
  let j0 = wg.y * 8u;
  if (p4 >= p4n) { return; }
  var c0 = vec4<f32>();
  var c1 = vec4<f32>();
  var c2 = vec4<f32>();
  var c3 = vec4<f32>();
  var c4 = vec4<f32>();
  var c5 = vec4<f32>();
  var c6 = vec4<f32>();
  var c7 = vec4<f32>();
  let kEnd = loopEnd[0];
  for (var k = 0u; k < kEnd; k++) {
    let xv = x4[k * p4n + p4];
    let lo = yRow4(k, j0);
    let hi = yRow4(k, j0 + 4u);
    c0 += xv * lo.x;
    c1 += xv * lo.y;
    c2 += xv * lo.z;
    c3 += xv * lo.w;
    c4 += xv * hi.x;
    c5 += xv * hi.y;
    c6 += xv * hi.z;
    c7 += xv * hi.w;
  }
  let p = p4 * 4u;
  put8(p, j0, vec4<f32>(c0.x, c1.x, c2.x, c3.x), vec4<f32>(c4.x, c5.x, c6.x, c7.x));
  put8(p + 1u, j0, vec4<f32>(c0.y, c1.y, c2.y, c3.y), vec4<f32>(c4.y, c5.y, c6.y, c7.y));
  put8(p + 2u, j0, vec4<f32>(c0.z, c1.z, c2.z, c3.z), vec4<f32>(c4.z, c5.z, c6.z, c7.z));
  put8(p + 3u, j0, vec4<f32>(c0.w, c1.w, c2.w, c3.w), vec4<f32>(c4.w, c5.w, c6.w, c7.w));
}

// The register-tiled kernels: 8 rows per invocation, so each Y vec4 (the same for every lane) is
// loaded once per 8 rows instead of once per row (rows4) or per 4 (cols4). lavapipe runs every
// storage load as a per-lane scalar loop (~100 cycles a vec4 for 8 lanes) while its FMAs are
// 8-wide SIMD, so these kernels cost their loads: rows4 loads 1 + 8 vec4s per 32 FMAs of a row,
// rows4x8 8 + 8 per 256.
// WG (the workgroup size) is small on a CPU rasteriser, whose threads each take whole workgroups:
// fewer, fatter invocations still spread over its cores.
override WG: u32 = 64;

/** The row-wise step of X row · Y: columns j0..j0 + 3 (or + 4..7) from 4 loaded Y vec4s. */
fn rowStep(
  xv: vec4<f32>,
  y0: vec4<f32>,
  y1: vec4<f32>,
  y2: vec4<f32>,
  y3: vec4<f32>,
) -> vec4<f32> {
  // Y_COLS: yi = Y(k..k + 3, j0 + i); else yi = Y(k + i, j0..j0 + 3).
  if (Y_COLS) { return vec4<f32>(dot(xv, y0), dot(xv, y1), dot(xv, y2), dot(xv, y3)); }
  return xv.x * y0 + xv.y * y1 + xv.z * y2 + xv.w * y3;
}

// As low_rank_rows4, for rows 8·g.x .. + 7 (rows past P read row P - 1 and are never stored).
@compute @workgroup_size(WG)
fn low_rank_rows4x8(
  @builtin(global_invocation_id) g: vec3<u32>,
  @builtin(workgroup_id) wg: vec3<u32>,
) {
  rowsTile8(g.x * 8u, wg.y * 8u);
}

/** Rows p .. p + 7 of C, columns j0 .. j0 + 7 (low_rank_rows4x8, and low_rank_dy's dXa). */
fn rowsTile8(p: u32, j0: u32) {
  if (p >= u.P) { return; }
  let k4n = loopEnd[0] / 4u;
  let last = u.P - 1u;
  let b0 = p * k4n;
  let b1 = min(p + 1u, last) * k4n;
  let b2 = min(p + 2u, last) * k4n;
  let b3 = min(p + 3u, last) * k4n;
  let b4 = min(p + 4u, last) * k4n;
  let b5 = min(p + 5u, last) * k4n;
  let b6 = min(p + 6u, last) * k4n;
  let b7 = min(p + 7u, last) * k4n;
  var lo0 = vec4<f32>();
  var hi0 = vec4<f32>();
  var lo1 = vec4<f32>();
  var hi1 = vec4<f32>();
  var lo2 = vec4<f32>();
  var hi2 = vec4<f32>();
  var lo3 = vec4<f32>();
  var hi3 = vec4<f32>();
  var lo4 = vec4<f32>();
  var hi4 = vec4<f32>();
  var lo5 = vec4<f32>();
  var hi5 = vec4<f32>();
  var lo6 = vec4<f32>();
  var hi6 = vec4<f32>();
  var lo7 = vec4<f32>();
  var hi7 = vec4<f32>();
  for (var k4 = 0u; k4 < k4n; k4++) {
    var l0: vec4<f32>; var l1: vec4<f32>; var l2: vec4<f32>; var l3: vec4<f32>;
    var h0: vec4<f32>; var h1: vec4<f32>; var h2: vec4<f32>; var h3: vec4<f32>;
    if (Y_COLS) {
      l0 = yCol4(k4, j0); l1 = yCol4(k4, j0 + 1u); l2 = yCol4(k4, j0 + 2u); l3 = yCol4(k4, j0 + 3u);
      h0 = yCol4(k4, j0 + 4u); h1 = yCol4(k4, j0 + 5u);
      h2 = yCol4(k4, j0 + 6u); h3 = yCol4(k4, j0 + 7u);
    } else {
      let k = k4 * 4u;
      l0 = yRow4(k, j0); l1 = yRow4(k + 1u, j0); l2 = yRow4(k + 2u, j0); l3 = yRow4(k + 3u, j0);
      h0 = yRow4(k, j0 + 4u); h1 = yRow4(k + 1u, j0 + 4u);
      h2 = yRow4(k + 2u, j0 + 4u); h3 = yRow4(k + 3u, j0 + 4u);
    }
    let v0 = x4[b0 + k4];
    let v1 = x4[b1 + k4];
    let v2 = x4[b2 + k4];
    let v3 = x4[b3 + k4];
    let v4 = x4[b4 + k4];
    let v5 = x4[b5 + k4];
    let v6 = x4[b6 + k4];
    let v7 = x4[b7 + k4];
    lo0 += rowStep(v0, l0, l1, l2, l3);
    hi0 += rowStep(v0, h0, h1, h2, h3);
    lo1 += rowStep(v1, l0, l1, l2, l3);
    hi1 += rowStep(v1, h0, h1, h2, h3);
    lo2 += rowStep(v2, l0, l1, l2, l3);
    hi2 += rowStep(v2, h0, h1, h2, h3);
    lo3 += rowStep(v3, l0, l1, l2, l3);
    hi3 += rowStep(v3, h0, h1, h2, h3);
    lo4 += rowStep(v4, l0, l1, l2, l3);
    hi4 += rowStep(v4, h0, h1, h2, h3);
    lo5 += rowStep(v5, l0, l1, l2, l3);
    hi5 += rowStep(v5, h0, h1, h2, h3);
    lo6 += rowStep(v6, l0, l1, l2, l3);
    hi6 += rowStep(v6, h0, h1, h2, h3);
    lo7 += rowStep(v7, l0, l1, l2, l3);
    hi7 += rowStep(v7, h0, h1, h2, h3);
  }
  put8(p, j0, lo0, hi0);
  put8(p + 1u, j0, lo1, hi1);
  put8(p + 2u, j0, lo2, hi2);
  put8(p + 3u, j0, lo3, hi3);
  put8(p + 4u, j0, lo4, hi4);
  put8(p + 5u, j0, lo5, hi5);
  put8(p + 6u, j0, lo6, hi6);
  put8(p + 7u, j0, lo7, hi7);
}

// As low_rank_cols4 for rows 8·g.x .. + 7, two X vec4s per k (the second, past P, clamped to
// the last and never stored): 4 vec4 loads per 64 FMAs against cols4's 3 per 32.
@compute @workgroup_size(WG)
fn low_rank_cols8(
  @builtin(global_invocation_id) g: vec3<u32>,
  @builtin(workgroup_id) wg: vec3<u32>,
) {
  let p4n = u.P / 4u;
  let pa = g.x * 2u;
  let j0 = wg.y * 8u;
  if (pa >= p4n) { return; }
  let pb = min(pa + 1u, p4n - 1u);
  var c0 = vec4<f32>();
  var c1 = vec4<f32>();
  var c2 = vec4<f32>();
  var c3 = vec4<f32>();
  var c4 = vec4<f32>();
  var c5 = vec4<f32>();
  var c6 = vec4<f32>();
  var c7 = vec4<f32>();
  var d0 = vec4<f32>();
  var d1 = vec4<f32>();
  var d2 = vec4<f32>();
  var d3 = vec4<f32>();
  var d4 = vec4<f32>();
  var d5 = vec4<f32>();
  var d6 = vec4<f32>();
  var d7 = vec4<f32>();
  let kEnd = loopEnd[0];
  for (var k = 0u; k < kEnd; k++) {
    let xa = x4[k * p4n + pa];
    let xb = x4[k * p4n + pb];
    let lo = yRow4(k, j0);
    let hi = yRow4(k, j0 + 4u);
    c0 += xa * lo.x;
    c1 += xa * lo.y;
    c2 += xa * lo.z;
    c3 += xa * lo.w;
    c4 += xa * hi.x;
    c5 += xa * hi.y;
    c6 += xa * hi.z;
    c7 += xa * hi.w;
    d0 += xb * lo.x;
    d1 += xb * lo.y;
    d2 += xb * lo.z;
    d3 += xb * lo.w;
    d4 += xb * hi.x;
    d5 += xb * hi.y;
    d6 += xb * hi.z;
    d7 += xb * hi.w;
  }
  let p = pa * 4u;
  put8(p, j0, vec4<f32>(c0.x, c1.x, c2.x, c3.x), vec4<f32>(c4.x, c5.x, c6.x, c7.x));
  put8(p + 1u, j0, vec4<f32>(c0.y, c1.y, c2.y, c3.y), vec4<f32>(c4.y, c5.y, c6.y, c7.y));
  put8(p + 2u, j0, vec4<f32>(c0.z, c1.z, c2.z, c3.z), vec4<f32>(c4.z, c5.z, c6.z, c7.z));
  put8(p + 3u, j0, vec4<f32>(c0.w, c1.w, c2.w, c3.w), vec4<f32>(c4.w, c5.w, c6.w, c7.w));
  if (pb == pa) { return; }
  let q = pb * 4u;
  put8(q, j0, vec4<f32>(d0.x, d1.x, d2.x, d3.x), vec4<f32>(d4.x, d5.x, d6.x, d7.x));
  put8(q + 1u, j0, vec4<f32>(d0.y, d1.y, d2.y, d3.y), vec4<f32>(d4.y, d5.y, d6.y, d7.y));
  put8(q + 2u, j0, vec4<f32>(d0.z, d1.z, d2.z, d3.z), vec4<f32>(d4.z, d5.z, d6.z, d7.z));
  put8(q + 3u, j0, vec4<f32>(d0.w, d1.w, d2.w, d3.w), vec4<f32>(d4.w, d5.w, d6.w, d7.w));
}

// As low_rank_cols4 for 16 rows per invocation (4 vec4s), lane l of a workgroup taking vec4s
// l, l + WG, .. of its block, so the workgroup reads 4·WG neighbouring vec4s of each X row (a
// longer run of each row per visit than cols8); vec4s past P are clamped to the last and never
// stored. 6 vec4 loads per 128 FMAs.
@compute @workgroup_size(WG)
fn low_rank_cols16(
  @builtin(global_invocation_id) g: vec3<u32>,
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_id) l: vec3<u32>,
) {
  let p4n = u.P / 4u;
  let q0 = wg.x * WG * 4u + l.x;
  let j0 = wg.y * 8u;
  if (q0 >= p4n) { return; }
  let q1 = min(q0 + 1u * WG, p4n - 1u);
  let q2 = min(q0 + 2u * WG, p4n - 1u);
  let q3 = min(q0 + 3u * WG, p4n - 1u);
  var c00 = vec4<f32>();
  var c01 = vec4<f32>();
  var c02 = vec4<f32>();
  var c03 = vec4<f32>();
  var c04 = vec4<f32>();
  var c05 = vec4<f32>();
  var c06 = vec4<f32>();
  var c07 = vec4<f32>();
  var c10 = vec4<f32>();
  var c11 = vec4<f32>();
  var c12 = vec4<f32>();
  var c13 = vec4<f32>();
  var c14 = vec4<f32>();
  var c15 = vec4<f32>();
  var c16 = vec4<f32>();
  var c17 = vec4<f32>();
  var c20 = vec4<f32>();
  var c21 = vec4<f32>();
  var c22 = vec4<f32>();
  var c23 = vec4<f32>();
  var c24 = vec4<f32>();
  var c25 = vec4<f32>();
  var c26 = vec4<f32>();
  var c27 = vec4<f32>();
  var c30 = vec4<f32>();
  var c31 = vec4<f32>();
  var c32 = vec4<f32>();
  var c33 = vec4<f32>();
  var c34 = vec4<f32>();
  var c35 = vec4<f32>();
  var c36 = vec4<f32>();
  var c37 = vec4<f32>();
  let kEnd = loopEnd[0];
  for (var k = 0u; k < kEnd; k++) {
    let row = k * p4n;
    let lo = yRow4(k, j0);
    let hi = yRow4(k, j0 + 4u);
    let v0 = x4[row + q0];
    let v1 = x4[row + q1];
    let v2 = x4[row + q2];
    let v3 = x4[row + q3];
    c00 += v0 * lo.x;
    c01 += v0 * lo.y;
    c02 += v0 * lo.z;
    c03 += v0 * lo.w;
    c04 += v0 * hi.x;
    c05 += v0 * hi.y;
    c06 += v0 * hi.z;
    c07 += v0 * hi.w;
    c10 += v1 * lo.x;
    c11 += v1 * lo.y;
    c12 += v1 * lo.z;
    c13 += v1 * lo.w;
    c14 += v1 * hi.x;
    c15 += v1 * hi.y;
    c16 += v1 * hi.z;
    c17 += v1 * hi.w;
    c20 += v2 * lo.x;
    c21 += v2 * lo.y;
    c22 += v2 * lo.z;
    c23 += v2 * lo.w;
    c24 += v2 * hi.x;
    c25 += v2 * hi.y;
    c26 += v2 * hi.z;
    c27 += v2 * hi.w;
    c30 += v3 * lo.x;
    c31 += v3 * lo.y;
    c32 += v3 * lo.z;
    c33 += v3 * lo.w;
    c34 += v3 * hi.x;
    c35 += v3 * hi.y;
    c36 += v3 * hi.z;
    c37 += v3 * hi.w;
  }
  let p0 = q0 * 4u;
  put8(p0, j0, vec4<f32>(c00.x, c01.x, c02.x, c03.x), vec4<f32>(c04.x, c05.x, c06.x, c07.x));
  put8(p0 + 1u, j0, vec4<f32>(c00.y, c01.y, c02.y, c03.y), vec4<f32>(c04.y, c05.y, c06.y, c07.y));
  put8(p0 + 2u, j0, vec4<f32>(c00.z, c01.z, c02.z, c03.z), vec4<f32>(c04.z, c05.z, c06.z, c07.z));
  put8(p0 + 3u, j0, vec4<f32>(c00.w, c01.w, c02.w, c03.w), vec4<f32>(c04.w, c05.w, c06.w, c07.w));
  if (q0 + 1u * WG >= p4n) { return; }
  let p1 = q1 * 4u;
  put8(p1, j0, vec4<f32>(c10.x, c11.x, c12.x, c13.x), vec4<f32>(c14.x, c15.x, c16.x, c17.x));
  put8(p1 + 1u, j0, vec4<f32>(c10.y, c11.y, c12.y, c13.y), vec4<f32>(c14.y, c15.y, c16.y, c17.y));
  put8(p1 + 2u, j0, vec4<f32>(c10.z, c11.z, c12.z, c13.z), vec4<f32>(c14.z, c15.z, c16.z, c17.z));
  put8(p1 + 3u, j0, vec4<f32>(c10.w, c11.w, c12.w, c13.w), vec4<f32>(c14.w, c15.w, c16.w, c17.w));
  if (q0 + 2u * WG >= p4n) { return; }
  let p2 = q2 * 4u;
  put8(p2, j0, vec4<f32>(c20.x, c21.x, c22.x, c23.x), vec4<f32>(c24.x, c25.x, c26.x, c27.x));
  put8(p2 + 1u, j0, vec4<f32>(c20.y, c21.y, c22.y, c23.y), vec4<f32>(c24.y, c25.y, c26.y, c27.y));
  put8(p2 + 2u, j0, vec4<f32>(c20.z, c21.z, c22.z, c23.z), vec4<f32>(c24.z, c25.z, c26.z, c27.z));
  put8(p2 + 3u, j0, vec4<f32>(c20.w, c21.w, c22.w, c23.w), vec4<f32>(c24.w, c25.w, c26.w, c27.w));
  if (q0 + 3u * WG >= p4n) { return; }
  let p3 = q3 * 4u;
  put8(p3, j0, vec4<f32>(c30.x, c31.x, c32.x, c33.x), vec4<f32>(c34.x, c35.x, c36.x, c37.x));
  put8(p3 + 1u, j0, vec4<f32>(c30.y, c31.y, c32.y, c33.y), vec4<f32>(c34.y, c35.y, c36.y, c37.y));
  put8(p3 + 2u, j0, vec4<f32>(c30.z, c31.z, c32.z, c33.z), vec4<f32>(c34.z, c35.z, c36.z, c37.z));
  put8(p3 + 3u, j0, vec4<f32>(c30.w, c31.w, c32.w, c33.w), vec4<f32>(c34.w, c35.w, c36.w, c37.w));
}

// dXa = alpha·dY·B and dB (+)= alpha·dYᵀ·xa, LoRA's two backward products that read dY, in one
// dispatch (a dispatch costs lavapipe ~0.1 ms however small): its first workgroups run
// low_rank_rows4x8 over dY (P, K) row-major with Y = B (K, r) and C = dXa (P, r) (X_COLS, Y_COLS,
// C_COLS and ACCUMULATE false), the rest low_rank_cols16 over dY read as (P, K) column-major with
// Y = xa (P, r) and C = dB (K, r). loopEnd holds [K, P].
@group(0) @binding(5) var<storage, read> xa4: array<vec4<f32>>; // xa (P, r)
@group(0) @binding(6) var<storage, read_write> dB: array<f32>; // dB (K, r)
/** dB += result (the gradient LoRA's B already holds). */
override ACCUMULATE_DB: bool = false;

/** xa(k, j .. j + 3) as one vec4 (r a multiple of 4), clamped to row k. */
fn xaRow4(k: u32, j: u32) -> vec4<f32> {
  let r4 = u.r / 4u;
  return xa4[k * r4 + min(j / 4u, r4 - 1u)];
}

fn putDB(p: u32, j: u32, v: f32) {
  if (p >= u.K || j >= u.r) { return; }
  let i = p * u.r + j;
  if (ACCUMULATE_DB) { dB[i] = dB[i] + u.alpha * v; } else { dB[i] = u.alpha * v; }
}

fn putDB8(p: u32, j0: u32, lo: vec4<f32>, hi: vec4<f32>) {
  putDB(p, j0, lo.x);
  putDB(p, j0 + 1u, lo.y);
  putDB(p, j0 + 2u, lo.z);
  putDB(p, j0 + 3u, lo.w);
  putDB(p, j0 + 4u, hi.x);
  putDB(p, j0 + 5u, hi.y);
  putDB(p, j0 + 6u, hi.z);
  putDB(p, j0 + 7u, hi.w);
}

@compute @workgroup_size(WG)
fn low_rank_dy(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_id) l: vec3<u32>,
) {
  let rowGroups = (u.P + 8u * WG - 1u) / (8u * WG);
  let j0 = wg.y * 8u;
  if (wg.x < rowGroups) {
    rowsTile8((wg.x * WG + l.x) * 8u, j0);
    return;
  }
  let p4n = u.K / 4u;
  let q0 = (wg.x - rowGroups) * WG * 4u + l.x;
  if (q0 >= p4n) { return; }
  let q1 = min(q0 + 1u * WG, p4n - 1u);
  let q2 = min(q0 + 2u * WG, p4n - 1u);
  let q3 = min(q0 + 3u * WG, p4n - 1u);
  var c00 = vec4<f32>();
  var c01 = vec4<f32>();
  var c02 = vec4<f32>();
  var c03 = vec4<f32>();
  var c04 = vec4<f32>();
  var c05 = vec4<f32>();
  var c06 = vec4<f32>();
  var c07 = vec4<f32>();
  var c10 = vec4<f32>();
  var c11 = vec4<f32>();
  var c12 = vec4<f32>();
  var c13 = vec4<f32>();
  var c14 = vec4<f32>();
  var c15 = vec4<f32>();
  var c16 = vec4<f32>();
  var c17 = vec4<f32>();
  var c20 = vec4<f32>();
  var c21 = vec4<f32>();
  var c22 = vec4<f32>();
  var c23 = vec4<f32>();
  var c24 = vec4<f32>();
  var c25 = vec4<f32>();
  var c26 = vec4<f32>();
  var c27 = vec4<f32>();
  var c30 = vec4<f32>();
  var c31 = vec4<f32>();
  var c32 = vec4<f32>();
  var c33 = vec4<f32>();
  var c34 = vec4<f32>();
  var c35 = vec4<f32>();
  var c36 = vec4<f32>();
  var c37 = vec4<f32>();
  let kEnd = loopEnd[1];
  for (var k = 0u; k < kEnd; k++) {
    let row = k * p4n;
    let lo = xaRow4(k, j0);
    let hi = xaRow4(k, j0 + 4u);
    let v0 = x4[row + q0];
    let v1 = x4[row + q1];
    let v2 = x4[row + q2];
    let v3 = x4[row + q3];
    c00 += v0 * lo.x;
    c01 += v0 * lo.y;
    c02 += v0 * lo.z;
    c03 += v0 * lo.w;
    c04 += v0 * hi.x;
    c05 += v0 * hi.y;
    c06 += v0 * hi.z;
    c07 += v0 * hi.w;
    c10 += v1 * lo.x;
    c11 += v1 * lo.y;
    c12 += v1 * lo.z;
    c13 += v1 * lo.w;
    c14 += v1 * hi.x;
    c15 += v1 * hi.y;
    c16 += v1 * hi.z;
    c17 += v1 * hi.w;
    c20 += v2 * lo.x;
    c21 += v2 * lo.y;
    c22 += v2 * lo.z;
    c23 += v2 * lo.w;
    c24 += v2 * hi.x;
    c25 += v2 * hi.y;
    c26 += v2 * hi.z;
    c27 += v2 * hi.w;
    c30 += v3 * lo.x;
    c31 += v3 * lo.y;
    c32 += v3 * lo.z;
    c33 += v3 * lo.w;
    c34 += v3 * hi.x;
    c35 += v3 * hi.y;
    c36 += v3 * hi.z;
    c37 += v3 * hi.w;
  }
  let p0 = q0 * 4u;
  putDB8(p0, j0, vec4<f32>(c00.x, c01.x, c02.x, c03.x), vec4<f32>(c04.x, c05.x, c06.x, c07.x));
  putDB8(p0 + 1u, j0, vec4<f32>(c00.y, c01.y, c02.y, c03.y), vec4<f32>(c04.y, c05.y, c06.y, c07.y));
  putDB8(p0 + 2u, j0, vec4<f32>(c00.z, c01.z, c02.z, c03.z), vec4<f32>(c04.z, c05.z, c06.z, c07.z));
  putDB8(p0 + 3u, j0, vec4<f32>(c00.w, c01.w, c02.w, c03.w), vec4<f32>(c04.w, c05.w, c06.w, c07.w));
  if (q0 + 1u * WG >= p4n) { return; }
  let p1 = q1 * 4u;
  putDB8(p1, j0, vec4<f32>(c10.x, c11.x, c12.x, c13.x), vec4<f32>(c14.x, c15.x, c16.x, c17.x));
  putDB8(p1 + 1u, j0, vec4<f32>(c10.y, c11.y, c12.y, c13.y), vec4<f32>(c14.y, c15.y, c16.y, c17.y));
  putDB8(p1 + 2u, j0, vec4<f32>(c10.z, c11.z, c12.z, c13.z), vec4<f32>(c14.z, c15.z, c16.z, c17.z));
  putDB8(p1 + 3u, j0, vec4<f32>(c10.w, c11.w, c12.w, c13.w), vec4<f32>(c14.w, c15.w, c16.w, c17.w));
  if (q0 + 2u * WG >= p4n) { return; }
  let p2 = q2 * 4u;
  putDB8(p2, j0, vec4<f32>(c20.x, c21.x, c22.x, c23.x), vec4<f32>(c24.x, c25.x, c26.x, c27.x));
  putDB8(p2 + 1u, j0, vec4<f32>(c20.y, c21.y, c22.y, c23.y), vec4<f32>(c24.y, c25.y, c26.y, c27.y));
  putDB8(p2 + 2u, j0, vec4<f32>(c20.z, c21.z, c22.z, c23.z), vec4<f32>(c24.z, c25.z, c26.z, c27.z));
  putDB8(p2 + 3u, j0, vec4<f32>(c20.w, c21.w, c22.w, c23.w), vec4<f32>(c24.w, c25.w, c26.w, c27.w));
  if (q0 + 3u * WG >= p4n) { return; }
  let p3 = q3 * 4u;
  putDB8(p3, j0, vec4<f32>(c30.x, c31.x, c32.x, c33.x), vec4<f32>(c34.x, c35.x, c36.x, c37.x));
  putDB8(p3 + 1u, j0, vec4<f32>(c30.y, c31.y, c32.y, c33.y), vec4<f32>(c34.y, c35.y, c36.y, c37.y));
  putDB8(p3 + 2u, j0, vec4<f32>(c30.z, c31.z, c32.z, c33.z), vec4<f32>(c34.z, c35.z, c36.z, c37.z));
  putDB8(p3 + 3u, j0, vec4<f32>(c30.w, c31.w, c32.w, c33.w), vec4<f32>(c34.w, c35.w, c36.w, c37.w));}
