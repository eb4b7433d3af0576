// Optimizer updates, in place on the GPU, over a whole arena slab per dispatch (src/optim/arena.ts):
// per-step scalars come in `hyper` (written once a step); gradScale[0] multiplies every gradient
// (1, or the global-norm clipping factor). Workgroup w updates CHUNK elements of one tensor; the
// table tells which: table[w] is its piece k, and table[workgroups + 4k ..] holds the piece's first
// workgroup, its first vec4 in the bound window and its element count.

// vec4s per workgroup, set from src/optim/arena.ts CHUNK so the table and the kernels agree.
override CHUNK_VEC4: u32 = 1024u;

struct Params { workgroups: u32 }
struct Hyper { lr: f32, beta1: f32, beta2: f32, eps: f32, weightDecay: f32, bc1: f32, bc2: f32, pad: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> hyper: Hyper;
@group(0) @binding(4) var<storage, read> gradScale: array<f32>;
@group(0) @binding(5) var<storage, read_write> expAvg: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> expAvgSq: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read> table: array<u32>;

/** This workgroup's piece: (first vec4 of its chunk in the window, vec4s left in the piece). */
fn chunk(wg: u32) -> vec2<u32> {
  let k = p.workgroups + 4u * table[wg];
  let done = (wg - table[k]) * CHUNK_VEC4;
  return vec2<u32>(table[k + 1u] + done, (table[k + 2u] + 3u) / 4u - done);
}

// torch.optim.AdamW: decoupled decay p ← p(1 - lr·wd), then Adam with bias correction
// p ← p - (lr / bc1) · m / (√v / √bc2 + eps). A tensor's last vec4 may run into its slot's
// padding (slots are whole vec4s apart), which nothing else reads.
@compute @workgroup_size(256)
fn adamw_step(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let wg = wid.x + wid.y * nwg.x;
  if (wg >= p.workgroups) { return; }
  let c = chunk(wg);
  // Every scalar read once: the loop's stores could alias them, so the compiler would not hoist.
  let h = hyper;
  let scale = gradScale[0];
  let decay = 1.0 - h.lr * h.weightDecay;
  let stepSize = h.lr / h.bc1;
  let sqrtBc2 = sqrt(h.bc2);
  let keep1 = 1.0 - h.beta1;
  let keep2 = 1.0 - h.beta2;
  let end = min(c.y, CHUNK_VEC4);
  for (var j = lid.x; j < end; j += 256u) {
    let i = c.x + j;
    let gr = grad[i] * scale;
    let w = param[i] * decay;
    let m = h.beta1 * expAvg[i] + keep1 * gr;
    let v = h.beta2 * expAvgSq[i] + keep2 * gr * gr;
    expAvg[i] = m;
    expAvgSq[i] = v;
    let denom = sqrt(v) / sqrtBc2 + h.eps;
    param[i] = w - stepSize * m / denom;
  }
}

// torch.optim.SGD without momentum: p ← p - lr · (g + wd · p).
@compute @workgroup_size(256)
fn sgd_step(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let wg = wid.x + wid.y * nwg.x;
  if (wg >= p.workgroups) { return; }
  let c = chunk(wg);
  let h = hyper;
  let scale = gradScale[0];
  let end = min(c.y, CHUNK_VEC4);
  for (var j = lid.x; j < end; j += 256u) {
    let i = c.x + j;
    let gr = grad[i] * scale;
    param[i] = param[i] - h.lr * (gr + h.weightDecay * param[i]);
  }
}

// Global-norm clipping (torch.nn.utils.clip_grad_norm_) over the gradient slabs: each workgroup
// sums the squares of its chunk (elements past the piece's count are padding and left out) into
// partials[partialBase + w]; grad_clip_scale adds every partial and writes
// scale = min(1, maxNorm / (‖g‖ + 1e-6)) for the update kernels. Fixed trees, no atomics: the sum
// is the same every run.
struct NormParams { workgroups: u32, partialBase: u32, partialCount: u32, maxNorm: f32 }
@group(0) @binding(0) var<uniform> np: NormParams;
@group(0) @binding(1) var<storage, read> normGrad: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
@group(0) @binding(3) var<storage, read_write> scaleOut: array<f32>; // (2): scale, total norm
@group(0) @binding(4) var<storage, read> normTable: array<u32>;

var<workgroup> tree: array<f32, 256>;

/** Sums tree[0..256) into tree[0]; every thread of the workgroup calls it. */
fn reduceTree(t: u32) {
  for (var s = 128u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (t < s) { tree[t] += tree[t + s]; }
  }
  workgroupBarrier();
}

@compute @workgroup_size(256)
fn grad_sum_squares(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let wg = wid.x + wid.y * nwg.x;
  var s = 0.0;
  if (wg < np.workgroups) {
    let k = np.workgroups + 4u * normTable[wg];
    let done = (wg - normTable[k]) * CHUNK_VEC4;
    let start = normTable[k + 1u] + done;
    let left = normTable[k + 2u] - done * 4u; // elements of the piece from this chunk on
    for (var j = lid.x; j < min((left + 3u) / 4u, CHUNK_VEC4); j += 256u) {
      let g = normGrad[start + j];
      let rest = left - j * 4u; // ≥ 1; the piece's last vec4 may hold padding past it
      let keep = vec4<f32>(vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(rest));
      s += dot(g * g, keep);
    }
  }
  tree[lid.x] = s;
  reduceTree(lid.x);
  if (lid.x == 0u && wg < np.workgroups) { partials[np.partialBase + wg] = tree[0]; }
}

@compute @workgroup_size(256)
fn grad_clip_scale(@builtin(local_invocation_id) lid: vec3<u32>) {
  var s = 0.0;
  for (var i = lid.x; i < np.partialCount; i += 256u) { s += partials[i]; }
  tree[lid.x] = s;
  reduceTree(lid.x);
  if (lid.x == 0u) {
    let norm = sqrt(tree[0]);
    scaleOut[0] = min(1.0, np.maxNorm / (norm + 1e-6));
    scaleOut[1] = norm;
  }
}
