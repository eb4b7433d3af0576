// Matmul at the BERT-base shapes of one batch (16 × 32 = 512 rows): the forward x·Wᵀ and the two
// backward products (dX = dY·W, dW = dYᵀ·x). Each shape is validated against sampled float64 dot
// products before it is timed.
import { gpuBench } from "./common.ts";
import { Tensor } from "../src/tensor.ts";
import { matmulRaw } from "../src/ops/matmul.ts";

const ROWS = 512;
const LAYERS: [string, number, number][] = [["768→768", 768, 768], ["768→3072", 768, 3072], [
  "3072→768",
  3072,
  768,
]];

function random(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from(
    { length: n },
    () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5,
  );
}

async function validate(
  name: string,
  c: Tensor,
  at: (m: number, n: number) => number,
): Promise<void> {
  const got = await c.read();
  const [M, N] = c.shape;
  for (let s = 0; s < 64; s++) {
    const m = (s * 7919) % M, n = (s * 104729) % N;
    const want = at(m, n);
    if (Math.abs(got[m * N + n] - want) > 1e-3 * (1 + Math.abs(want))) {
      throw new Error(`matmul bench ${name}: C[${m},${n}] = ${got[m * N + n]}, want ${want}`);
    }
  }
}

for (const [label, inF, outF] of LAYERS) {
  const x = random(ROWS * inF, 1), w = random(outF * inF, 2), dY = random(ROWS * outF, 3);
  const xT = Tensor.from(x, [ROWS, inF]),
    wT = Tensor.from(w, [outF, inF]),
    dYT = Tensor.from(dY, [ROWS, outF]);
  const dot = (n: number, f: (k: number) => number) => {
    let s = 0;
    for (let k = 0; k < n; k++) s += f(k);
    return s;
  };
  const cases: [string, () => Tensor, (m: number, n: number) => number][] = [
    [
      `forward x·Wᵀ ${ROWS}x${inF}x${outF}`,
      () => matmulRaw({ a: xT, b: wT, transB: true }),
      (m, n) => dot(inF, (k) => x[m * inF + k] * w[n * inF + k]),
    ],
    [
      `backward dY·W ${ROWS}x${outF}x${inF}`,
      () => matmulRaw({ a: dYT, b: wT }),
      (m, n) => dot(outF, (k) => dY[m * outF + k] * w[k * inF + n]),
    ],
    [
      `backward dYᵀ·x ${outF}x${ROWS}x${inF}`,
      () => matmulRaw({ a: dYT, b: xT, transA: true }),
      (m, n) => dot(ROWS, (k) => dY[k * outF + m] * x[k * inF + n]),
    ],
  ];
  for (const [name, run, at] of cases) {
    const c = run();
    await validate(name, c, at);
    c.release();
    gpuBench("matmul", `${label} ${name}`, 2 * ROWS * inF * outF, "GFLOP/s", () => {
      run().release();
    }, 3);
  }
}
