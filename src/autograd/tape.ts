// Reverse-mode autograd as plain as micrograd: ops record one backward closure each;
// backward() walks them in reverse and accumulates gradients with +=.
import { Tensor } from "../tensor.ts";
import { gpu, grid1d } from "../gpu/kernel.ts";

interface Node {
  out: Tensor;
  backward: (dOut: Tensor) => void;
}

let nodes: Node[] = [];
let temporaries: Tensor[] = [];
let gradEnabled = true;

/** Registers an op's output; records its backward when some input needs a gradient. */
export function record(out: Tensor, inputs: Tensor[], backward: (dOut: Tensor) => void): Tensor {
  temporaries.push(out);
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    nodes.push({ out, backward });
  }
  return out;
}

/** A tensor that lives until endStep() without being an op output (e.g. a batch's ids). */
export function temporary(t: Tensor): Tensor {
  temporaries.push(t);
  return t;
}

/** t.grad += g; takes ownership of g. */
export function accumulateGrad(t: Tensor, g: Tensor): void {
  if (!t.grad) {
    t.grad = g;
    return;
  }
  gpu().dispatch(
    { shader: "add.wgsl", entry: "accumulate" },
    [t.grad.buffer, g.buffer],
    [t.size],
    [],
    grid1d(t.size, 256),
  );
  g.release();
}

/** Walks the tape from `root` (a scalar loss, or any tensor given its incoming gradient). */
export function backward(root: Tensor, dRoot?: Tensor): void {
  if (!dRoot && root.size !== 1) {
    throw new Error(`backward: loss must be a scalar, got [${root.shape}]`);
  }
  if (!root.requiresGrad) throw new Error("backward: loss does not depend on a trainable tensor");
  root.grad = dRoot ?? Tensor.from([1], [1]);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const { out, backward } = nodes[i];
    if (!out.grad) continue;
    backward(out.grad);
    out.grad.release();
    out.grad = null;
  }
  nodes = [];
}

/** Releases every op output and temporary of the step; parameters and their grads stay. */
export function endStep(): void {
  for (const t of temporaries) t.release();
  temporaries = [];
  nodes = [];
}

export function noGrad<T>(fn: () => T): T {
  const before = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = before;
  }
}
