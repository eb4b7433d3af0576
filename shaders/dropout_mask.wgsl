// The dropout mask, shared by dropout.wgsl, attention.wgsl and residual_layer_norm.wgsl
// (src/gpu/shaders.ts puts this file before each: WGSL has no import), so the fused kernels drop
// exactly what the composed path's dropout op drops. Element i of call (seed, stream) is kept when
// uniform(hash(i, key)) ≥ prob.

// PCG output permutation (O'Neill), a good 32-bit integer hash.
fn pcg_hash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

/** The key of dropout call (seed, stream); hashed once per thread, not per element. */
fn dropout_key(seed: u32, stream: u32) -> u32 {
  return pcg_hash(seed ^ pcg_hash(stream + 0x9E3779B9u));
}

/** Whether element i is kept, given its call's key. */
fn dropout_keep(i: u32, key: u32, prob: f32) -> bool {
  let u = f32(pcg_hash(i ^ key) >> 8u) * (1.0 / 16777216.0);
  return u >= prob;
}

/**
 * The mask index of element i of a (rows, cols) tensor whose row r stands for row r·rowStride of
 * the tensor the mask is drawn over (rowStride 1: i itself). A model that computes only some rows
 * (BERT's last layer on the [CLS] rows b·T alone) then drops exactly what all rows would.
 */
fn dropout_row_index(i: u32, cols: u32, rowStride: u32) -> u32 {
  if (rowStride == 1u) { return i; }
  return i + (i / cols) * (rowStride - 1u) * cols;
}
