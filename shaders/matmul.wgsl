// C (batch, M, N) = alpha * op(A) (batch, M, K) · op(B) (batch, K, N)
//                   [+ bias (N)] [+ lowScale * L (M, R) · Rt(N, R)ᵀ]
// op(A) is A (M, K) or, with TRANS_A, A stored as (K, M); op(B) is B (K, N) or, with TRANS_B,
// B stored as (N, K). The optional epilogue is how linear fuses its bias and how the LoRA linear
// fuses its low-rank path: forward adds s·(x·Aᵀ)·Bᵀ, backward adds (dY·B·s)·A to dX.
// Every product of the engine (and so every matmul backward) is this one kernel.
//
// Each thread owns an 8×8 block of C held in registers; no workgroup memory (on lavapipe it costs
// more than it saves). Rows of the block are contiguous, columns are strided by 8 so the 8
// neighbouring invocations that lavapipe packs into one SIMD row read 8 consecutive B columns.
// Params, the bindings, the options and the epilogue (store_c) come from matmul_epilogue.wgsl.

const TM: u32 = 8u;
const TN: u32 = 8u;
const WG: u32 = 8u;

fn loadA(base: u32, m: u32, k: u32) -> f32 {
  if (TRANS_A) { return a[base + k * p.M + m]; }
  return a[base + m * p.K + k];
}

fn loadB(base: u32, k: u32, n: u32) -> f32 {
  if (TRANS_B) { return b[base + n * p.K + k]; }
  return b[base + k * p.N + n];
}

@compute @workgroup_size(8, 8)
fn matmul_forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let batch = wg.z;
  let baseA = batch * p.strideA;
  let baseB = batch * p.strideB;
  let baseC = batch * p.strideC;
  let m0 = wg.y * WG * TM + lid.y * TM;
  let n0 = wg.x * WG * TN + lid.x;
  // Out-of-range rows and columns load from a clamped, valid index and are never stored.
  var ms: array<u32, 8>;
  var ns: array<u32, 8>;
  for (var i = 0u; i < TM; i++) { ms[i] = min(m0 + i, p.M - 1u); }
  for (var j = 0u; j < TN; j++) { ns[j] = min(n0 + j * WG, p.N - 1u); }
  var acc: array<array<f32, 8>, 8>;
  for (var k = 0u; k < p.K; k++) {
    var av: array<f32, 8>;
    var bv: array<f32, 8>;
    for (var i = 0u; i < TM; i++) { av[i] = loadA(baseA, ms[i], k); }
    for (var j = 0u; j < TN; j++) { bv[j] = loadB(baseB, k, ns[j]); }
    for (var i = 0u; i < TM; i++) {
      for (var j = 0u; j < TN; j++) { acc[i][j] = fma(av[i], bv[j], acc[i][j]); }
    }
  }
  for (var i = 0u; i < TM; i++) {
    let m = m0 + i;
    if (m >= p.M) { break; }
    for (var j = 0u; j < TN; j++) {
      let n = n0 + j * WG;
      if (n >= p.N) { break; }
      store_c(baseC, m, n, acc[i][j]);
    }
  }
}
