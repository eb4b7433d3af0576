// Optimizer updates, in place on the GPU; per-step scalars come in `hyper` (written once a step).
// gradScale[0] multiplies every gradient (1, or the global-norm clipping factor).

struct Params { n: u32 }
struct Hyper { lr: f32, beta1: f32, beta2: f32, eps: f32, weightDecay: f32, bc1: f32, bc2: f32, pad: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> hyper: Hyper;
@group(0) @binding(4) var<storage, read> gradScale: array<f32>;
@group(0) @binding(5) var<storage, read_write> expAvg: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> expAvgSq: array<vec4<f32>>;

fn index(g: vec3<u32>, nwg: vec3<u32>) -> u32 { return g.x + g.y * nwg.x * 256u; }

// torch.optim.AdamW: decoupled decay p ← p(1 - lr·wd), then Adam with bias correction
// p ← p - (lr / bc1) · m / (√v / √bc2 + eps). Four elements per thread (vec4 loads): p.n counts
// vec4s, ⌈n/4⌉, so a tensor's last vec4 may run into its buffer's padding (the pool rounds every
// buffer to 16 bytes, and nothing reads a buffer past its tensor's size).
@compute @workgroup_size(256)
fn adamw_step(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(g, nwg);
  if (i >= p.n) { return; }
  let gr = grad[i] * gradScale[0];
  let w = param[i] * (1.0 - hyper.lr * hyper.weightDecay);
  let m = hyper.beta1 * expAvg[i] + (1.0 - hyper.beta1) * gr;
  let v = hyper.beta2 * expAvgSq[i] + (1.0 - hyper.beta2) * gr * gr;
  expAvg[i] = m;
  expAvgSq[i] = v;
  let denom = sqrt(v) / sqrt(hyper.bc2) + hyper.eps;
  param[i] = w - (hyper.lr / hyper.bc1) * m / denom;
}

// torch.optim.SGD without momentum: p ← p - lr · (g + wd · p).
@compute @workgroup_size(256)
fn sgd_step(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(g, nwg);
  if (i >= p.n) { return; }
  let gr = grad[i] * gradScale[0];
  param[i] = param[i] - hyper.lr * (gr + hyper.weightDecay * param[i]);
}

// Global-norm clipping (torch.nn.utils.clip_grad_norm_): each gradient's Σ g² is summed by 256
// threads into partials[slot·256 + t]; grad_clip_scale adds every partial in order and writes
// gradScale[0] = min(1, maxNorm / (‖g‖ + 1e-6)) for the update kernels. Deterministic, no atomics.
struct NormParams { n: u32, slot: u32, partialCount: u32, maxNorm: f32 }
@group(0) @binding(0) var<uniform> np: NormParams;
@group(0) @binding(1) var<storage, read> normGrad: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
@group(0) @binding(3) var<storage, read_write> scaleOut: array<f32>; // (2): scale, total norm

@compute @workgroup_size(256)
fn grad_sum_squares(@builtin(local_invocation_id) lid: vec3<u32>) {
  var s = 0.0;
  for (var i = lid.x; i < np.n; i += 256u) { s += normGrad[i] * normGrad[i]; }
  partials[np.slot * 256u + lid.x] = s;
}

@compute @workgroup_size(1)
fn grad_clip_scale() {
  var total = 0.0;
  for (var i = 0u; i < np.partialCount; i++) { total += partials[i]; }
  let norm = sqrt(total);
  scaleOut[0] = min(1.0, np.maxNorm / (norm + 1e-6));
  scaleOut[1] = norm;
}
