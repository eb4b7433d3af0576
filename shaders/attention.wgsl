// Fused self-attention for short sequences, as Hugging Face BERT computes it, per head h:
//   S = Q·Kᵀ · scale + (1 - mask)·f32::MIN,  P = softmax(S) along keys,
//   P̃ = dropout(P) (dropout_mask.wgsl's mask, element index ((b·heads + h)·T + i)·T + j),
//   O = P̃·V.
// Q, K, V and O stay in their (B·T, hidden) layout: head h of token (b, t) is the D values at
// (b·T + t)·hidden + h·D, so no transpose splits or merges the heads.
// A workgroup per (batch, head), with no barriers (lavapipe runs per-lane work best): every lane
// reads the same K and V rows, which a GPU broadcasts from cache. A head is D/4 vec4s held in
// registers: D4 is a pipeline constant so the loops over it can unroll (lavapipe pays per load
// instruction: a first version with scalar loads and a runtime head width took 2.5× the CPU time
// at BERT-base's shape). Forward lanes take two query rows, so each K and V load serves both
// (lavapipe, one BERT-base layer: 22 against 36 ms of CPU); backward lanes take one row (two rows
// took dQ from 40 to 68 ms and left dK/dV at 40).
// Forward saves only each row's max and 1/Σ; backward recomputes P from them.
// Queries may be the first qRows positions of each sequence alone (qRows 1: the [CLS] rows a
// classifier reads): Q, O, dO and dQ are then (B·qRows, hidden), keys and values stay all T, and
// dropout draws each probability's mask at its place in the full (B, heads, T, T) tensor.
// Packed rows (src/data/batches.ts): with p.table 1, Q, K, V, O hold only the computed rows of
// the padded (B·T) layout, and binding 4 is a key table instead of the mask: entry b·T + t holds
// position (b, t)'s row in K and V (and in Q and O when qRows = T), with KEY_MASKED set for a
// mask-0 position, or NO_KEY for a position not computed. Those are mask-0 positions of sequences
// that keep at least one unmasked key, whose softmax weights the padded layout makes exactly 0:
// they are skipped, and their query rows, having no output, too. Everything else (mask and
// dropout indices, stats, scratch) stays in the padded layout.
// Backward (dP = dP̃ · keep/(1 - prob), dS = scale · P ∘ (dP - rowDot), rowDot = Σ_j P ∘ dP):
//   attention_backward_query, lane per query row: P, dP and rowDot into scratch, dQ = dS·K;
//   attention_backward_key, lane per key row: dV = P̃ᵀ·dO, dK = dSᵀ·Q.

// batch, seqLen, heads, dropout seed and stream, query rows per sequence (qRows ≤ seqLen), table
// (1: binding 4 is the packed rows' key table, 0: the f32 mask); scale = 1/√D; prob = dropout
// probability.
struct Params {
  batch: u32, seqLen: u32, heads: u32, seed: u32, stream: u32, qRows: u32, table: u32, scale: f32,
  prob: f32
}

// Exactly -(2 - 2⁻²³)·2¹²⁷, as softmax.wgsl (Tint rejects the rounded decimal).
const F32_MIN: f32 = -0x1.fffffep+127f;
// The longest head, in vec4s, a lane holds; src/ops/attention.ts falls back above it.
const MAX_D4: u32 = 32u;

override WG: u32 = 32u; // lanes per (batch, head)
override D4: u32 = 16u; // D / 4

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;    // (B·qRows, hidden / 4)
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;    // (B·T, hidden / 4)
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;    // (B·T, hidden / 4)
// (B, T): the mask of 1/0 (f32 bits), or with p.table the key table (see above)
@group(0) @binding(4) var<storage, read> keys: array<u32>;

const KEY_MASKED: u32 = 0x80000000u;
const NO_KEY: u32 = 0x7fffffffu;
/** `at` of a row that is not computed. */
const NONE: u32 = 0xffffffffu;

struct Row { b: u32, h: u32, t: u32, at: u32, r: u32 }

/** Key (b, t): where its head h starts in K, V, dK, dV (NONE: not computed), and its score's
 * mask term (1 - mask)·f32::MIN. */
struct Key { at: u32, add: f32 }

fn key_of(b: u32, t: u32, h: u32) -> Key {
  let e = keys[b * p.seqLen + t];
  if (p.table == 0u) {
    return Key(((b * p.seqLen + t) * p.heads + h) * D4, (1.0 - bitcast<f32>(e)) * F32_MIN);
  }
  if ((e & NO_KEY) == NO_KEY) { return Key(NONE, F32_MIN); }
  return Key(((e & NO_KEY) * p.heads + h) * D4, select(0.0, F32_MIN, (e & KEY_MASKED) != 0u));
}

/** Where head h of query (b, t) starts in Q, O, dO, dQ: (B·qRows, hidden / 4), or the packed
 * rows when qRows = T; NONE when not computed. */
fn query_at(b: u32, t: u32, h: u32) -> u32 {
  if (p.qRows == p.seqLen) { return key_of(b, t, h).at; }
  return ((b * p.qRows + t) * p.heads + h) * D4;
}

/**
 * Query t of workgroup wg's (batch, head): where its head starts, and its row b·heads·qRows + t
 * (in stats).
 */
fn row_of(wg: vec3<u32>, nwg: vec3<u32>, t: u32) -> Row {
  let bh = wg.x + wg.y * nwg.x;
  let b = bh / p.heads;
  let h = bh % p.heads;
  return Row(b, h, t, query_at(b, t, h), bh * p.qRows + t);
}

/** Key t of workgroup wg's (batch, head): where its head starts in K, V, dK, dV (or NONE). */
fn key_row_of(wg: vec3<u32>, nwg: vec3<u32>, t: u32) -> Row {
  let bh = wg.x + wg.y * nwg.x;
  let b = bh / p.heads;
  let h = bh % p.heads;
  return Row(b, h, t, key_of(b, t, h).at, 0u);
}

/** Where probability (b, h, i, j) of the computed query rows is in scratch (B, heads, qRows, T). */
fn pair_index(b: u32, h: u32, i: u32, j: u32) -> u32 {
  return ((b * p.heads + h) * p.qRows + i) * p.seqLen + j;
}

fn heads_total() -> u32 { return p.batch * p.heads; }

/** The dropout element index of probability (b, h, i, j), as in a (B, heads, T, T) tensor. */
fn prob_index(b: u32, h: u32, i: u32, j: u32) -> u32 {
  return ((b * p.heads + h) * p.seqLen + i) * p.seqLen + j;
}

/** 1/(1 - prob) where probability idx is kept, else 0 (1 without dropout). */
fn drop_scale(idx: u32, key: u32) -> f32 {
  if (p.prob <= 0.0) { return 1.0; }
  return select(0.0, 1.0 / (1.0 - p.prob), dropout_keep(idx, key, p.prob));
}

fn hsum(v: vec4<f32>) -> f32 { return v.x + v.y + v.z + v.w; }

@group(0) @binding(5) var<storage, read_write> out: array<vec4<f32>>; // O (B·qRows, hidden / 4)
// (B, heads, qRows, 3): the softmax's max and 1/Σ, and backward's rowDot = Σ_j P·dP.
@group(0) @binding(6) var<storage, read_write> stats: array<f32>;

@compute @workgroup_size(WG)
fn attention_forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  if (wg.x + wg.y * nwg.x >= heads_total()) { return; }
  for (var t = 2u * lid; t < p.qRows; t += 2u * WG) {
    // A row not computed takes its partner's place (computed twice, written once).
    var a = row_of(wg, nwg, t);
    var b = row_of(wg, nwg, min(t + 1u, p.qRows - 1u));
    if (a.at == NONE) { a = b; }
    if (b.at == NONE) { b = a; }
    if (a.at != NONE) { forward_rows2(a, b); }
  }
}

/** A row's online softmax: m the running max, sum the running Σ exp(S - m). */
struct Online { m: f32, sum: f32 }

/** Takes score s into the row's softmax, rescaling acc when the max grows; returns exp(s - m). */
fn online_weight(o: ptr<function, Online>, s: f32, acc: ptr<function, array<vec4<f32>, MAX_D4>>) -> f32 {
  if (s > (*o).m) {
    let c = exp((*o).m - s);
    (*o).sum *= c;
    for (var d = 0u; d < D4; d++) { (*acc)[d] *= c; }
    (*o).m = s;
  }
  let e = exp(s - (*o).m);
  (*o).sum += e;
  return e;
}

/** Query rows `row` and `rowB` of one (batch, head) (the same row, computed twice and written
 * once, at an odd T's end or beside a row not computed). */
fn forward_rows2(row: Row, rowB: Row) {
  let key = dropout_key(p.seed, p.stream);
  let two = rowB.t != row.t;
  let atB = rowB.at;
  var qa: array<vec4<f32>, MAX_D4>;
  var qb: array<vec4<f32>, MAX_D4>;
  var accA: array<vec4<f32>, MAX_D4>;
  var accB: array<vec4<f32>, MAX_D4>;
  for (var d = 0u; d < D4; d++) {
    qa[d] = q[row.at + d];
    qb[d] = q[atB + d];
    accA[d] = vec4<f32>();
    accB[d] = vec4<f32>();
  }
  var oa = Online(F32_MIN, 0.0);
  var ob = Online(F32_MIN, 0.0);
  for (var j = 0u; j < p.seqLen; j++) {
    let kk = key_of(row.b, j, row.h);
    if (kk.at == NONE) { continue; }
    let kj = kk.at;
    var da = vec4<f32>();
    var db = vec4<f32>();
    for (var d = 0u; d < D4; d++) {
      let kv = k[kj + d];
      da += qa[d] * kv;
      db += qb[d] * kv;
    }
    let sa = hsum(da) * p.scale + kk.add;
    let sb = hsum(db) * p.scale + kk.add;
    let wa = online_weight(&oa, sa, &accA) * drop_scale(prob_index(row.b, row.h, row.t, j), key);
    let wb = online_weight(&ob, sb, &accB) * drop_scale(prob_index(row.b, row.h, rowB.t, j), key);
    for (var d = 0u; d < D4; d++) {
      let vv = v[kj + d];
      accA[d] += wa * vv;
      accB[d] += wb * vv;
    }
  }
  let invA = 1.0 / oa.sum;
  for (var d = 0u; d < D4; d++) { out[row.at + d] = accA[d] * invA; }
  stats[3u * row.r] = oa.m;
  stats[3u * row.r + 1u] = invA;
  if (two) {
    let invB = 1.0 / ob.sum;
    for (var d = 0u; d < D4; d++) { out[atB + d] = accB[d] * invB; }
    stats[3u * rowB.r] = ob.m;
    stats[3u * rowB.r + 1u] = invB;
  }
}

// Eight storage buffers at most, WebGPU's default limit: hence P and dP share one scratch buffer
// and rowDot goes into stats.
@group(0) @binding(5) var<storage, read_write> rowStats: array<f32>;  // (B, heads, qRows, 3)
@group(0) @binding(6) var<storage, read> dOut: array<vec4<f32>>;      // (B·qRows, hidden / 4)
@group(0) @binding(7) var<storage, read_write> dQ: array<vec4<f32>>;  // (B·qRows, hidden / 4)
// (B, heads, qRows, T): P, dP
@group(0) @binding(8) var<storage, read_write> scratch: array<vec2<f32>>;

@compute @workgroup_size(WG)
fn attention_backward_query(@builtin(workgroup_id) wg: vec3<u32>,
                            @builtin(num_workgroups) nwg: vec3<u32>,
                            @builtin(local_invocation_index) lid: u32) {
  if (wg.x + wg.y * nwg.x >= heads_total()) { return; }
  for (var t = lid; t < p.qRows; t += WG) {
    let row = row_of(wg, nwg, t);
    if (row.at != NONE) { backward_query_row(row); }
  }
}

fn backward_query_row(row: Row) {
  let key = dropout_key(p.seed, p.stream);
  let m = rowStats[3u * row.r];
  let inv = rowStats[3u * row.r + 1u];
  var qi: array<vec4<f32>, MAX_D4>;
  var dOi: array<vec4<f32>, MAX_D4>;
  var kj: array<vec4<f32>, MAX_D4>;
  // dQ_i = scale · Σ_j P_ij (dP_ij - rowDot) K_j = scale · (Σ_j P_ij dP_ij K_j - rowDot · Σ_j P_ij K_j):
  // both sums build up in the one pass over the keys that finds rowDot, so K is read once.
  var pdpK: array<vec4<f32>, MAX_D4>;
  var pK: array<vec4<f32>, MAX_D4>;
  for (var d = 0u; d < D4; d++) {
    qi[d] = q[row.at + d];
    dOi[d] = dOut[row.at + d];
    pdpK[d] = vec4<f32>();
    pK[d] = vec4<f32>();
  }
  var rowDot = 0.0;
  let first = prob_index(row.b, row.h, row.t, 0u); // the mask's
  let firstPair = pair_index(row.b, row.h, row.t, 0u); // scratch's
  // Keys not computed are skipped: their P is exactly 0 and backward_key reads no pair of theirs.
  for (var j = 0u; j < p.seqLen; j++) {
    let kk = key_of(row.b, j, row.h);
    if (kk.at == NONE) { continue; }
    let at = kk.at;
    var dot = vec4<f32>();
    var dp4 = vec4<f32>();
    for (var d = 0u; d < D4; d++) {
      kj[d] = k[at + d];
      dot += qi[d] * kj[d];
      dp4 += dOi[d] * v[at + d];
    }
    let s = (dot.x + dot.y + dot.z + dot.w) * p.scale + kk.add;
    let pij = exp(s - m) * inv;
    let dp = (dp4.x + dp4.y + dp4.z + dp4.w) * drop_scale(first + j, key);
    scratch[firstPair + j] = vec2<f32>(pij, dp);
    rowDot += pij * dp;
    for (var d = 0u; d < D4; d++) {
      pdpK[d] += (pij * dp) * kj[d];
      pK[d] += pij * kj[d];
    }
  }
  for (var d = 0u; d < D4; d++) { dQ[row.at + d] = p.scale * (pdpK[d] - rowDot * pK[d]); }
  rowStats[3u * row.r + 2u] = rowDot;
}

@group(0) @binding(5) var<storage, read> savedStats: array<f32>;     // (B, heads, qRows, 3)
// (B, heads, qRows, T): P, dP
@group(0) @binding(6) var<storage, read> savedScratch: array<vec2<f32>>;
@group(0) @binding(7) var<storage, read> dOutK: array<vec4<f32>>;     // (B·qRows, hidden / 4)
@group(0) @binding(8) var<storage, read_write> dK: array<vec4<f32>>;  // (B·T, hidden / 4)
@group(0) @binding(9) var<storage, read_write> dV: array<vec4<f32>>;  // (B·T, hidden / 4)

@compute @workgroup_size(WG)
fn attention_backward_key(@builtin(workgroup_id) wg: vec3<u32>,
                          @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) lid: u32) {
  if (wg.x + wg.y * nwg.x >= heads_total()) { return; }
  for (var t = lid; t < p.seqLen; t += WG) {
    let row = key_row_of(wg, nwg, t);
    if (row.at != NONE) { backward_key_row(row); }
  }
}

/** Here row.t is the key position j. */
fn backward_key_row(row: Row) {
  let key = dropout_key(p.seed, p.stream);
  var accK: array<vec4<f32>, MAX_D4>;
  var accV: array<vec4<f32>, MAX_D4>;
  for (var d = 0u; d < D4; d++) { accK[d] = vec4<f32>(); accV[d] = vec4<f32>(); }
  for (var i = 0u; i < p.qRows; i++) {
    let qi = query_at(row.b, i, row.h);
    if (qi == NONE) { continue; } // a query not computed: no output, no gradient
    let idx = prob_index(row.b, row.h, i, row.t);
    let pdp = savedScratch[pair_index(row.b, row.h, i, row.t)]; // P_ij, dP_ij
    let rowDot = savedStats[3u * ((row.b * p.heads + row.h) * p.qRows + i) + 2u];
    let ds = p.scale * pdp.x * (pdp.y - rowDot); // dS_ij
    let pt = pdp.x * drop_scale(idx, key); // P̃_ij
    for (var d = 0u; d < D4; d++) {
      accK[d] += ds * q[qi + d];
      accV[d] += pt * dOutK[qi + d];
    }
  }
  for (var d = 0u; d < D4; d++) { dK[row.at + d] = accK[d]; dV[row.at + d] = accV[d]; }
}
