// Fused self-attention for short sequences, as Hugging Face BERT computes it, per head h:
//   S = Q·Kᵀ · scale + (1 - mask)·f32::MIN,  P = softmax(S) along keys,
//   P̃ = dropout(P) (dropout_mask.wgsl's mask, element index ((b·heads + h)·T + i)·T + j),
//   O = P̃·V.
// Q, K, V and O stay in their (B·T, hidden) layout: head h of token (b, t) is the D values at
// (b·T + t)·hidden + h·D, so no transpose splits or merges the heads.
// One thread per query row (b, h, i): per-thread work with no barriers, which lavapipe runs
// fastest; on a GPU the threads of a workgroup share (b, h) and so read the same K and V rows.
// Forward saves only each row's max and 1/Σ (2 floats a row); backward recomputes P from them.
// Backward (dP = dP̃ · keep/(1 - prob), dS = scale · P ∘ (dP - Σ_j P ∘ dP)):
//   attention_backward_query, thread per query row: P and dS into scratch, dQ = dS·K;
//   attention_backward_key, thread per key row: dV = P̃ᵀ·dO, dK = dSᵀ·Q.

// batch, seqLen, heads, headDim, dropout seed and stream; scale = 1/√D; prob = dropout probability.
struct Params { batch: u32, seqLen: u32, heads: u32, headDim: u32, seed: u32, stream: u32,
                scale: f32, prob: f32 }

// Exactly -(2 - 2⁻²³)·2¹²⁷, as softmax.wgsl (Tint rejects the rounded decimal).
const F32_MIN: f32 = -0x1.fffffep+127f;
// The longest head a thread holds in registers; src/ops/attention.ts falls back above it.
const MAX_D: u32 = 128u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;    // (B·T, hidden)
@group(0) @binding(2) var<storage, read> k: array<f32>;    // (B·T, hidden)
@group(0) @binding(3) var<storage, read> v: array<f32>;    // (B·T, hidden)
@group(0) @binding(4) var<storage, read> mask: array<f32>; // (B, T) of 1/0
@group(0) @binding(5) var<storage, read_write> out: array<f32>;   // forward: O (B·T, hidden)
@group(0) @binding(6) var<storage, read_write> stats: array<f32>; // (B, heads, T, 2): max, 1/Σ

struct Row { b: u32, h: u32, t: u32, at: u32 }

/** Thread g's (batch, head, position) and where that head's row starts in (B·T, hidden). */
fn row_of(g: vec3<u32>, nwg: vec3<u32>) -> Row {
  let r = g.x + g.y * nwg.x * 64u;
  let t = r % p.seqLen;
  let bh = r / p.seqLen;
  let b = bh / p.heads;
  let h = bh % p.heads;
  return Row(b, h, t, (b * p.seqLen + t) * p.heads * p.headDim + h * p.headDim);
}

fn rows() -> u32 { return p.batch * p.heads * p.seqLen; }

/** Where head h of token (b, t) starts in a (B·T, hidden) tensor. */
fn head_at(b: u32, t: u32, h: u32) -> u32 {
  return (b * p.seqLen + t) * p.heads * p.headDim + h * p.headDim;
}

/** The dropout element index of probability (b, h, i, j), as in a (B, heads, T, T) tensor. */
fn prob_index(b: u32, h: u32, i: u32, j: u32) -> u32 {
  return ((b * p.heads + h) * p.seqLen + i) * p.seqLen + j;
}

/** 1/(1 - prob) where (b, h, i, j) is kept, else 0 (1 without dropout). */
fn drop_scale(idx: u32, key: u32) -> f32 {
  if (p.prob <= 0.0) { return 1.0; }
  return select(0.0, 1.0 / (1.0 - p.prob), dropout_keep(idx, key, p.prob));
}

@compute @workgroup_size(64)
fn attention_forward(@builtin(global_invocation_id) g: vec3<u32>,
                     @builtin(num_workgroups) nwg: vec3<u32>) {
  if (g.x + g.y * nwg.x * 64u >= rows()) { return; }
  let row = row_of(g, nwg);
  let D = p.headDim;
  let key = dropout_key(p.seed, p.stream);
  var qi: array<f32, MAX_D>;
  var acc: array<f32, MAX_D>; // Σ_j exp(S_ij - m) · keep_ij · V_j, rescaled as m grows
  for (var d = 0u; d < D; d++) { qi[d] = q[row.at + d]; acc[d] = 0.0; }
  // Online softmax (one pass over the keys): m the running max, sum the running Σ exp(S - m).
  var m = F32_MIN;
  var sum = 0.0;
  for (var j = 0u; j < p.seqLen; j++) {
    let kj = head_at(row.b, j, row.h);
    var dot = 0.0;
    for (var d = 0u; d < D; d++) { dot += qi[d] * k[kj + d]; }
    let s = dot * p.scale + (1.0 - mask[row.b * p.seqLen + j]) * F32_MIN;
    if (s > m) {
      let c = exp(m - s);
      sum *= c;
      for (var d = 0u; d < D; d++) { acc[d] *= c; }
      m = s;
    }
    let e = exp(s - m);
    sum += e;
    let w = e * drop_scale(prob_index(row.b, row.h, row.t, j), key);
    if (w != 0.0) {
      for (var d = 0u; d < D; d++) { acc[d] += w * v[kj + d]; }
    }
  }
  let inv = 1.0 / sum;
  for (var d = 0u; d < D; d++) { out[row.at + d] = acc[d] * inv; }
  let r = g.x + g.y * nwg.x * 64u;
  stats[2u * r] = m;
  stats[2u * r + 1u] = inv;
}

@group(0) @binding(5) var<storage, read> savedStats: array<f32>;        // (B, heads, T, 2)
@group(0) @binding(6) var<storage, read> dOut: array<f32>;              // (B·T, hidden)
@group(0) @binding(7) var<storage, read_write> dQ: array<f32>;          // (B·T, hidden)
@group(0) @binding(8) var<storage, read_write> probs: array<f32>;       // (B, heads, T, T): P
@group(0) @binding(9) var<storage, read_write> dScores: array<f32>;     // (B, heads, T, T): dS

@compute @workgroup_size(64)
fn attention_backward_query(@builtin(global_invocation_id) g: vec3<u32>,
                            @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = g.x + g.y * nwg.x * 64u;
  if (r >= rows()) { return; }
  let row = row_of(g, nwg);
  let D = p.headDim;
  let key = dropout_key(p.seed, p.stream);
  let m = savedStats[2u * r];
  let inv = savedStats[2u * r + 1u];
  var qi: array<f32, MAX_D>;
  var dOi: array<f32, MAX_D>;
  var acc: array<f32, MAX_D>;
  for (var d = 0u; d < D; d++) { qi[d] = q[row.at + d]; dOi[d] = dOut[row.at + d]; acc[d] = 0.0; }
  // Pass 1: P_ij and dP_ij = dO_i·V_j · keep/(1 - prob) into scratch, and Σ_j P_ij·dP_ij.
  var rowDot = 0.0;
  let first = prob_index(row.b, row.h, row.t, 0u);
  for (var j = 0u; j < p.seqLen; j++) {
    let kj = head_at(row.b, j, row.h);
    var dot = 0.0;
    var dp = 0.0;
    for (var d = 0u; d < D; d++) {
      dot += qi[d] * k[kj + d];
      dp += dOi[d] * v[kj + d];
    }
    let s = dot * p.scale + (1.0 - mask[row.b * p.seqLen + j]) * F32_MIN;
    let pij = exp(s - m) * inv;
    dp *= drop_scale(first + j, key);
    probs[first + j] = pij;
    dScores[first + j] = dp;
    rowDot += pij * dp;
  }
  // Pass 2: dS_ij = scale · P_ij · (dP_ij - rowDot) in place of dP, and dQ_i = Σ_j dS_ij · K_j.
  for (var j = 0u; j < p.seqLen; j++) {
    let ds = p.scale * probs[first + j] * (dScores[first + j] - rowDot);
    dScores[first + j] = ds;
    let kj = head_at(row.b, j, row.h);
    for (var d = 0u; d < D; d++) { acc[d] += ds * k[kj + d]; }
  }
  for (var d = 0u; d < D; d++) { dQ[row.at + d] = acc[d]; }
}

@group(0) @binding(5) var<storage, read> savedProbs: array<f32>;       // (B, heads, T, T): P
@group(0) @binding(6) var<storage, read> savedDScores: array<f32>;     // (B, heads, T, T): dS
@group(0) @binding(7) var<storage, read> dOutK: array<f32>;            // (B·T, hidden)
@group(0) @binding(8) var<storage, read_write> dK: array<f32>;         // (B·T, hidden)
@group(0) @binding(9) var<storage, read_write> dV: array<f32>;         // (B·T, hidden)

@compute @workgroup_size(64)
fn attention_backward_key(@builtin(global_invocation_id) g: vec3<u32>,
                          @builtin(num_workgroups) nwg: vec3<u32>) {
  if (g.x + g.y * nwg.x * 64u >= rows()) { return; }
  let row = row_of(g, nwg); // here row.t is the key position j
  let D = p.headDim;
  let key = dropout_key(p.seed, p.stream);
  var accK: array<f32, MAX_D>;
  var accV: array<f32, MAX_D>;
  for (var d = 0u; d < D; d++) { accK[d] = 0.0; accV[d] = 0.0; }
  for (var i = 0u; i < p.seqLen; i++) {
    let idx = prob_index(row.b, row.h, i, row.t);
    let ds = savedDScores[idx];
    let pt = savedProbs[idx] * drop_scale(idx, key); // P̃_ij
    let qi = head_at(row.b, i, row.h);
    for (var d = 0u; d < D; d++) {
      accK[d] += ds * q[qi + d];
      accV[d] += pt * dOutK[qi + d];
    }
  }
  for (var d = 0u; d < D; d++) { dK[row.at + d] = accK[d]; dV[row.at + d] = accV[d]; }
}
