// Low-rank products (LoRA's rank-r side): C (P, r) = alpha · Σ_k X(p, k) · Y(k, j) [+ C], r small
// (a LoRA rank), K long (rows of a batch, or a layer's width). Every product of LoRA's forward and
// backward has this shape (src/ops/low_rank.ts maps them): xa = x·Aᵀ, dXa = s·dY·B, dB = s·dYᵀ·xa
// and dA = dXaᵀ·x, the last two with no transpose pass, because X is read in either layout:
//   X (P, K) at p·K + k, or with X_COLS (K, P) at k·P + p (neighbouring lanes, neighbouring words);
//   Y (K, r) at k·r + j, or with Y_COLS (r, K) at j·K + k;
//   C (P, r) at p·r + j, or with C_COLS (r, P) at j·P + p.
// Each invocation owns one row p of C (four with low_rank_cols4) and 8 of its r columns, chosen by
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
