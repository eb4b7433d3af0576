// Mean cross-entropy from logits: loss (1) = mean_n (logsumexp(logits[n]) - logits[n, label[n]]),
// logits (N, C), labels (N) u32. Backward: dLogits = dLoss · (softmax(logits) - onehot) / N.

struct Params { rows: u32, classes: u32 }

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

// A single thread: N is a batch (or a validation set) and C the number of labels, both small.
@compute @workgroup_size(1)
fn cross_entropy_forward() {
  var total = 0.0;
  for (var r = 0u; r < p.rows; r++) {
    let base = r * p.classes;
    total += row_logsumexp(base) - logits[base + labels[r]];
  }
  loss[0] = total / f32(p.rows);
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

@group(0) @binding(5) var<storage, read> classWeights: array<f32>; // (C)

fn weight_sum() -> f32 {
  var s = 0.0;
  for (var r = 0u; r < p.rows; r++) { s += classWeights[labels[r]]; }
  return s;
}

@compute @workgroup_size(1)
fn cross_entropy_weighted_forward() {
  var total = 0.0;
  for (var r = 0u; r < p.rows; r++) {
    let base = r * p.classes;
    total += classWeights[labels[r]] * (row_logsumexp(base) - logits[base + labels[r]]);
  }
  loss[0] = total / weight_sum();
}

@compute @workgroup_size(64)
fn cross_entropy_weighted_backward(@builtin(global_invocation_id) g: vec3<u32>) {
  let r = g.x;
  if (r >= p.rows) { return; }
  let base = r * p.classes;
  let lse = row_logsumexp(base);
  // Each thread sums the weights again: N is a batch, and this saves a second dispatch.
  let scale = dLoss[0] * classWeights[labels[r]] / weight_sum();
  for (var c = 0u; c < p.classes; c++) {
    let onehot = select(0.0, 1.0, c == labels[r]);
    dLogits[base + c] = scale * (exp(logits[base + c] - lse) - onehot);
  }
}
