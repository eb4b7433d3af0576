// dropout with a counter-based RNG: (seed, stream) names the mask; backward regenerates it.
import { Tensor } from "../tensor.ts";
import { gpu, grid1d } from "../gpu/kernel.ts";
import { accumulateGrad, record } from "../autograd/tape.ts";

function dropoutRaw(
  entry: string,
  x: Tensor,
  prob: number,
  seed: number,
  stream: number,
  rowStride: number,
): Tensor {
  const y = Tensor.empty(x.shape);
  gpu().dispatch(
    { shader: "dropout.wgsl", entry },
    [x.buffer, y.buffer],
    [x.size, seed >>> 0, stream >>> 0, x.shape.at(-1) ?? 1, rowStride],
    [prob],
    grid1d(x.size, 256),
  );
  return y;
}

/**
 * Identity when prob is 0 (evaluation, or a config without dropout). `rowStride` > 1: x (R, C)
 * holds rows 0, s, 2s, … of an (R·s, C) tensor (the [CLS] rows of a batch, s = T), and each element
 * is dropped as it would be at its place there, so computing only those rows changes nothing.
 */
export function dropout(
  x: Tensor,
  prob: number,
  seed: number,
  stream: number,
  rowStride = 1,
): Tensor {
  if (prob <= 0) return x;
  if (prob >= 1) throw new Error(`dropout: probability must be below 1, got ${prob}`);
  if (!(Number.isInteger(rowStride) && rowStride >= 1)) {
    throw new Error(`dropout: row stride must be a positive integer, got ${rowStride}`);
  }
  const y = dropoutRaw("dropout_forward", x, prob, seed, stream, rowStride);
  return record(y, [x], (dOut) => {
    accumulateGrad(x, dropoutRaw("dropout_backward", dOut, prob, seed, stream, rowStride));
  }, []);
}
