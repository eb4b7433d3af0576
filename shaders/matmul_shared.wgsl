// C (batch, M, N) = alpha * op(A) · op(B) [+ bias (N)] [+ lowScale * L (M, R) · Rt(N, R)ᵀ], as
// matmul.wgsl (the same bindings, parameters and epilogue: the matmul_epilogue.wgsl prelude), with the classic workgroup-shared tile:
// a 16×16 workgroup owns a 32×32 block of C; each step its 256 lanes load a 32×16 panel of op(A)
// and a 16×32 panel of op(B) into var<workgroup> memory (two elements each, neighbouring lanes on
// neighbouring addresses of the stored layout, so loads coalesce for either transpose), wait at a
// barrier, and each lane does 2×2 outputs × 16 FMAs from shared memory. A discrete GPU reads each
// element of A and B once per 32 outputs from global memory instead of once per output; the
// register tile of matmul.wgsl / matmul_vec4.wgsl avoids the barriers that CPU rasterisers pay
// for. src/ops/tune.ts times both per adapter.

const BM: u32 = 32u;
const BN: u32 = 32u;
const BK: u32 = 16u;

var<workgroup> tileA: array<f32, 512>; // (BM, BK): element (m, k) at m * BK + k
var<workgroup> tileB: array<f32, 512>; // (BK, BN): element (k, n) at k * BN + n

/** op(A)[m, k], 0 outside the matrix (the padding adds nothing to any sum). */
fn loadA(base: u32, m: u32, k: u32) -> f32 {
  if (m >= p.M || k >= p.K) { return 0.0; }
  if (TRANS_A) { return a[base + k * p.M + m]; }
  return a[base + m * p.K + k];
}

/** op(B)[k, n], 0 outside the matrix. */
fn loadB(base: u32, k: u32, n: u32) -> f32 {
  if (k >= p.K || n >= p.N) { return 0.0; }
  if (TRANS_B) { return b[base + n * p.K + k]; }
  return b[base + k * p.N + n];
}

@compute @workgroup_size(16, 16)
fn matmul_shared_forward(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let baseA = wg.z * p.strideA;
  let baseB = wg.z * p.strideB;
  let baseC = wg.z * p.strideC;
  let mTile = wg.y * BM;
  let nTile = wg.x * BN;
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0); // rows 2·ly + {0, 1}, columns lx + {0, 16}
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    for (var e = lane; e < BM * BK; e += 256u) {
      // The stored layout's fastest dimension goes to neighbouring lanes.
      var m: u32;
      var k: u32;
      if (TRANS_A) { m = e % BM; k = e / BM; } else { m = e / BK; k = e % BK; }
      tileA[m * BK + k] = loadA(baseA, mTile + m, k0 + k);
      var kb: u32;
      var n: u32;
      if (TRANS_B) { n = e / BK; kb = e % BK; } else { n = e % BN; kb = e / BN; }
      tileB[kb * BN + n] = loadB(baseB, k0 + kb, nTile + n);
    }
    workgroupBarrier();
    let r0 = 2u * lid.y * BK;
    for (var kk = 0u; kk < BK; kk++) {
      let a0 = tileA[r0 + kk];
      let a1 = tileA[r0 + BK + kk];
      let b0 = tileB[kk * BN + lid.x];
      let b1 = tileB[kk * BN + lid.x + 16u];
      acc[0] = fma(a0, b0, acc[0]);
      acc[1] = fma(a0, b1, acc[1]);
      acc[2] = fma(a1, b0, acc[2]);
      acc[3] = fma(a1, b1, acc[3]);
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = mTile + 2u * lid.y + i / 2u;
    let n = nTile + lid.x + 16u * (i % 2u);
    if (m >= p.M || n >= p.N) { continue; }
    store_c(baseC, m, n, acc[i]);
  }
}
