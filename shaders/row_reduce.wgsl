// Row reductions shared by layer_norm.wgsl and residual_layer_norm.wgsl (src/gpu/shaders.ts puts
// this file before each: WGSL has no import). A workgroup of WG lanes per row sums in shared
// memory; the rows4 kernels (a thread per row) use hsum on their vec4 partial sums.

override WG: u32 = 64u;
var<workgroup> red: array<f32, WG>;
var<workgroup> red2: array<f32, WG>;

/** Σ over the workgroup of a and b (tree in shared memory); every lane gets both sums. */
fn workgroup_sum2(lid: u32, a: f32, b: f32) -> vec2<f32> {
  red[lid] = a;
  red2[lid] = b;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      red[lid] += red[lid + s];
      red2[lid] += red2[lid + s];
    }
    workgroupBarrier();
  }
  let r = vec2<f32>(red[0], red2[0]);
  workgroupBarrier();
  return r;
}

fn row_of(wg: vec3<u32>, nwg: vec3<u32>) -> u32 { return wg.x + wg.y * nwg.x; }

fn hsum(v: vec4<f32>) -> f32 { return v.x + v.y + v.z + v.w; }
