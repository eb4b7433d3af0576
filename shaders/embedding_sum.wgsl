// BERT's embedding sum, BertEmbeddings before its LayerNorm, as one gather:
//   out (R, C) = (word[ids[r]] + position[positions[r]]) + tokenType[typeIds[r]]
// with word (V, C), position (P, C), tokenType (T, C) and the three id arrays (R) u32; the sum in
// Hugging Face's order. Composed, the three gathers and the first add were four dispatches, each
// writing (R, C) that the next one read back. Backward scatter-adds dOut into the gradient of each
// table that wants one (WANT_WORD / WANT_POSITION / WANT_TYPE), one thread per column (vec4 of
// columns with the `4` entries, C % 4 = 0) walking the rows in order: repeated ids accumulate
// exactly and deterministically without atomics, as embedding.wgsl does. An id past its table's
// rows reads zeros and scatters nothing (the batch builder refuses such ids first).

struct Params { rows: u32, cols: u32, wordRows: u32, positionRows: u32, typeRows: u32 }

override WANT_WORD: bool = true;
override WANT_POSITION: bool = true;
override WANT_TYPE: bool = true;

@group(0) @binding(0) var<uniform> p: Params; // cols counts vec4s in the `4` entries

@group(0) @binding(1) var<storage, read> word: array<f32>;      // (V, C)
@group(0) @binding(2) var<storage, read> position: array<f32>;  // (P, C)
@group(0) @binding(3) var<storage, read> tokenType: array<f32>; // (T, C)
@group(0) @binding(4) var<storage, read> ids: array<u32>;       // (R)
@group(0) @binding(5) var<storage, read> positions: array<u32>; // (R)
@group(0) @binding(6) var<storage, read> typeIds: array<u32>;   // (R)
@group(0) @binding(7) var<storage, read_write> out: array<f32>; // (R, C)

/** Offset of column c of row `id` in a table of `n` rows, or none (-1) past its end. */
fn at(id: u32, n: u32, c: u32) -> i32 {
  return select(-1, i32(id * p.cols + c), id < n);
}

@compute @workgroup_size(256)
fn embedding_sum_forward(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = g.x + g.y * nwg.x * 256u;
  if (i >= p.rows * p.cols) { return; }
  let r = i / p.cols;
  let c = i % p.cols;
  let w = at(ids[r], p.wordRows, c);
  let q = at(positions[r], p.positionRows, c);
  let t = at(typeIds[r], p.typeRows, c);
  let a = select(0.0, word[max(w, 0)], w >= 0) + select(0.0, position[max(q, 0)], q >= 0);
  out[i] = a + select(0.0, tokenType[max(t, 0)], t >= 0);
}

@group(0) @binding(1) var<storage, read> word4: array<vec4<f32>>;      // (V, C/4)
@group(0) @binding(2) var<storage, read> position4: array<vec4<f32>>;  // (P, C/4)
@group(0) @binding(3) var<storage, read> tokenType4: array<vec4<f32>>; // (T, C/4)
@group(0) @binding(7) var<storage, read_write> out4: array<vec4<f32>>; // (R, C/4)

@compute @workgroup_size(256)
fn embedding_sum_forward4(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = g.x + g.y * nwg.x * 256u;
  if (i >= p.rows * p.cols) { return; }
  let r = i / p.cols;
  let c = i % p.cols;
  let w = at(ids[r], p.wordRows, c);
  let q = at(positions[r], p.positionRows, c);
  let t = at(typeIds[r], p.typeRows, c);
  let z = vec4<f32>();
  let a = select(z, word4[max(w, 0)], w >= 0) + select(z, position4[max(q, 0)], q >= 0);
  out4[i] = a + select(z, tokenType4[max(t, 0)], t >= 0);
}

@group(0) @binding(1) var<storage, read> dOut: array<f32>;               // (R, C)
@group(0) @binding(5) var<storage, read_write> dWord: array<f32>;        // (V, C), accumulated into
@group(0) @binding(6) var<storage, read_write> dPosition: array<f32>;    // (P, C), accumulated into
@group(0) @binding(7) var<storage, read_write> dTokenType: array<f32>;   // (T, C), accumulated into

// Bindings 2-4 hold ids, positions, typeIds in the backward (5-7 are the gradients).
@group(0) @binding(2) var<storage, read> idsB: array<u32>;       // (R)
@group(0) @binding(3) var<storage, read> positionsB: array<u32>; // (R)
@group(0) @binding(4) var<storage, read> typeIdsB: array<u32>;   // (R)

@compute @workgroup_size(64)
fn embedding_sum_backward(@builtin(global_invocation_id) g: vec3<u32>) {
  let c = g.x;
  if (c >= p.cols) { return; }
  for (var r = 0u; r < p.rows; r++) {
    let d = dOut[r * p.cols + c];
    if (WANT_WORD) {
      let w = at(idsB[r], p.wordRows, c);
      if (w >= 0) { dWord[w] = dWord[w] + d; }
    }
    if (WANT_POSITION) {
      let q = at(positionsB[r], p.positionRows, c);
      if (q >= 0) { dPosition[q] = dPosition[q] + d; }
    }
    if (WANT_TYPE) {
      let t = at(typeIdsB[r], p.typeRows, c);
      if (t >= 0) { dTokenType[t] = dTokenType[t] + d; }
    }
  }
}

@group(0) @binding(1) var<storage, read> dOut4: array<vec4<f32>>;             // (R, C/4)
@group(0) @binding(5) var<storage, read_write> dWord4: array<vec4<f32>>;      // (V, C/4)
@group(0) @binding(6) var<storage, read_write> dPosition4: array<vec4<f32>>;  // (P, C/4)
@group(0) @binding(7) var<storage, read_write> dTokenType4: array<vec4<f32>>; // (T, C/4)

@compute @workgroup_size(64)
fn embedding_sum_backward4(@builtin(global_invocation_id) g: vec3<u32>) {
  let c = g.x;
  if (c >= p.cols) { return; }
  for (var r = 0u; r < p.rows; r++) {
    let d = dOut4[r * p.cols + c];
    if (WANT_WORD) {
      let w = at(idsB[r], p.wordRows, c);
      if (w >= 0) { dWord4[w] = dWord4[w] + d; }
    }
    if (WANT_POSITION) {
      let q = at(positionsB[r], p.positionRows, c);
      if (q >= 0) { dPosition4[q] = dPosition4[q] + d; }
    }
    if (WANT_TYPE) {
      let t = at(typeIdsB[r], p.typeRows, c);
      if (t >= 0) { dTokenType4[t] = dTokenType4[t] + d; }
    }
  }
}
