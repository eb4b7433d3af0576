// Mean cross-entropy from logits: loss (1) = mean_n (logsumexp(logits[n]) - logits[n, label[n]]),
// logits (N, C), labels (N) u32. Backward: dLogits = dLoss · (softmax(logits) - onehot) / N.
// Forward: one workgroup whose lanes stride the rows (N is a batch, or a whole validation set)
// and sum in shared memory, in a fixed order: deterministic, no atomics. Backward: a row per
// thread.

struct Params { rows: u32, classes: u32 }

const WG: u32 = 64u;
var<workgroup> part: array<vec2<f32>, WG>;

/** Σ over the workgroup of v (tree in shared memory); lane 0 gets the total. */
fn workgroup_total(lid: u32, v: vec2<f32>) -> vec2<f32> {
  part[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { part[lid] += part[lid + s]; }
    workgroupBarrier();
  }
  return part[0];
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;  // (N, C)
@group(0) @binding(2) var<storage, read> labels: array<u32>;  // (N)
@group(0) @binding(3) var<storage, read_write> loss: array<f32>; // (1)

fn row_logsumexp(base: u32) -> f32 {
  var mx = logits[base];
  for (var c = 1u; c < p.classes; c++) { mx = max(mx, logits[base + c]); }
  var s = 0.0;
  for (var c = 0u; c < p.classes; c++) { s += exp(logits[base + c] - mx); }
  return mx + log(s);
}

@compute @workgroup_size(WG)
fn cross_entropy_forward(@builtin(local_invocation_index) lid: u32) {
  var total = 0.0;
  for (var r = lid; r < p.rows; r += WG) {
    let base = r * p.classes;
    total += row_logsumexp(base) - logits[base + labels[r]];
  }
  let t = workgroup_total(lid, vec2<f32>(total, 0.0));
  if (lid == 0u) { loss[0] = t.x / f32(p.rows); }
}

@group(0) @binding(3) var<storage, read> dLoss: array<f32>;        // (1)
@group(0) @binding(4) var<storage, read_write> dLogits: array<f32>; // (N, C)

@compute @workgroup_size(64)
fn cross_entropy_backward(@builtin(global_invocation_id) g: vec3<u32>) {
  let r = g.x;
  if (r >= p.rows) { return; }
  let base = r * p.classes;
  let lse = row_logsumexp(base);
  let scale = dLoss[0] / f32(p.rows);
  for (var c = 0u; c < p.classes; c++) {
    let onehot = select(0.0, 1.0, c == labels[r]);
    dLogits[base + c] = scale * (exp(logits[base + c] - lse) - onehot);
  }
}

// Class-weighted mean, as torch's F.cross_entropy(weight=w) with reduction "mean":
// loss (1) = Σ_n w[y_n] · (logsumexp(logits[n]) - logits[n, y_n]) / Σ_n w[y_n], w (C).
// Backward: dLogits[n] = dLoss · w[y_n] · (softmax(logits[n]) - onehot(y_n)) / Σ_n w[y_n].
// The forward saves Σ_n w[y_n] (weightSum) for the backward.

@group(0) @binding(5) var<storage, read> classWeights: array<f32>;       // (C)
@group(0) @binding(6) var<storage, read_write> weightSumOut: array<f32>; // (1)

@compute @workgroup_size(WG)
fn cross_entropy_weighted_forward(@builtin(local_invocation_index) lid: u32) {
  var acc = vec2<f32>();
  for (var r = lid; r < p.rows; r += WG) {
    let base = r * p.classes;
    let w = classWeights[labels[r]];
    acc += vec2<f32>(w * (row_logsumexp(base) - logits[base + labels[r]]), w);
  }
  let t = workgroup_total(lid, acc);
  if (lid == 0u) {
    loss[0] = t.x / t.y;
    weightSumOut[0] = t.y;
  }
}

@group(0) @binding(6) var<storage, read> weightSum: array<f32>; // (1)

@compute @workgroup_size(64)
fn cross_entropy_weighted_backward(@builtin(global_invocation_id) g: vec3<u32>) {
  let r = g.x;
  if (r >= p.rows) { return; }
  let base = r * p.classes;
  let lse = row_logsumexp(base);
  let scale = dLoss[0] * classWeights[labels[r]] / weightSum[0];
  for (var c = 0u; c < p.classes; c++) {
    let onehot = select(0.0, 1.0, c == labels[r]);
    dLogits[base + c] = scale * (exp(logits[base + c] - lse) - onehot);
  }
}
