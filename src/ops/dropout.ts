// dropout with a counter-based RNG: (seed, stream) names the mask; backward regenerates it.
import { Tensor } from "../tensor.ts";
import { gpu, grid1d } from "../gpu/kernel.ts";
import { accumulateGrad, record } from "../autograd/tape.ts";

function dropoutRaw(entry: string, x: Tensor, prob: number, seed: number, stream: number): Tensor {
  const y = Tensor.empty(x.shape);
  gpu().dispatch(
    { shader: "dropout.wgsl", entry },
    [x.buffer, y.buffer],
    [x.size, seed >>> 0, stream >>> 0],
    [prob],
    grid1d(x.size, 256),
  );
  return y;
}

/** Identity when prob is 0 (evaluation, or a config without dropout). */
export function dropout(x: Tensor, prob: number, seed: number, stream: number): Tensor {
  if (prob <= 0) return x;
  if (prob >= 1) throw new Error(`dropout: probability must be below 1, got ${prob}`);
  const y = dropoutRaw("dropout_forward", x, prob, seed, stream);
  return record(y, [x], (dOut) => {
    accumulateGrad(x, dropoutRaw("dropout_backward", dOut, prob, seed, stream));
  }, []);
}
