// What matmul.wgsl and matmul_shared.wgsl share (src/gpu/shaders.ts puts this file before each:
// WGSL has no import): the parameters, the bindings, the options and the epilogue, so the two tile
// shapes the tuner chooses between take the same arguments and write the same C.

struct Params {
  M: u32, N: u32, K: u32, R: u32,
  strideA: u32, strideB: u32, strideC: u32,
  lowStrideN: u32, lowStrideR: u32,
  alpha: f32, lowScale: f32,
}

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override HAS_LOW_RANK: bool = false;
/** C += result: a gradient accumulated in place where another consumer's already lies. */
override ACCUMULATE: bool = false;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;     // (N)
@group(0) @binding(5) var<storage, read> lowLeft: array<f32>;  // (M, R)
@group(0) @binding(6) var<storage, read> lowRight: array<f32>; // element (n, r) at n*lowStrideN + r*lowStrideR

/**
 * Writes C[m, n] of this batch (at baseC) from its accumulated product: alpha, then the bias and
 * the low-rank term, then stored, or added to what C holds with ACCUMULATE.
 */
fn store_c(baseC: u32, m: u32, n: u32, acc: f32) {
  var v = p.alpha * acc;
  if (HAS_BIAS) { v += bias[n]; }
  if (HAS_LOW_RANK) {
    var low = 0.0;
    for (var r = 0u; r < p.R; r++) {
      low = fma(lowLeft[m * p.R + r], lowRight[n * p.lowStrideN + r * p.lowStrideR], low);
    }
    v += p.lowScale * low;
  }
  if (ACCUMULATE) { v = c[baseC + m * p.N + n] + v; }
  c[baseC + m * p.N + n] = v;
}
