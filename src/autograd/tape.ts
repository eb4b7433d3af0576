// Reverse-mode autograd as plain as micrograd: ops record one backward closure each;
// backward() walks them in reverse and accumulates gradients with +=.
import { Tensor } from "../tensor.ts";
import { gpu, grid1d } from "../gpu/kernel.ts";

interface Node {
  out: Tensor;
  backward: (dOut: Tensor) => void;
  /** The tensors the backward reads (besides dOut and parameters); undefined: unknown, keep all. */
  saved?: readonly Tensor[];
}

let nodes: Node[] = [];
let temporaries: Tensor[] = [];
let gradEnabled = true;

/**
 * Registers an op's output; records its backward when some input needs a gradient. `saved` names
 * the tensors that backward reads (dOut and parameters aside), so tidy() may free the others.
 */
export function record(
  out: Tensor,
  inputs: Tensor[],
  backward: (dOut: Tensor) => void,
  saved?: readonly Tensor[],
): Tensor {
  temporaries.push(out);
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    nodes.push({ out, backward, saved });
  }
  return out;
}

/**
 * Runs `fn` (e.g. one encoder layer) and at once frees every op output and temporary it made that
 * nothing can read any more: all but its result and what the backwards recorded inside it saved.
 * With nothing to backpropagate (head mode's frozen encoder, evaluation) that is everything but
 * the result, so activations live one layer instead of one step; in LoRA mode the layer keeps
 * only what its backward reads. A backward recorded without `saved` keeps everything.
 */
export function tidy(fn: () => Tensor): Tensor {
  const mark = temporaries.length, firstNode = nodes.length;
  const result = fn();
  const keep = new Set<GPUBuffer>([result.buffer]);
  for (let i = firstNode; i < nodes.length; i++) {
    const saved = nodes[i].saved;
    if (!saved) return result;
    for (const t of saved) keep.add(t.buffer);
  }
  // Views share their source's buffer: a buffer stays if anything kept lives in it.
  const made = temporaries.splice(mark);
  for (const t of made) {
    if (keep.has(t.buffer)) temporaries.push(t);
    else t.release();
  }
  return result;
}

/** A tensor that lives until endStep() without being an op output (e.g. a batch's ids). */
export function temporary(t: Tensor): Tensor {
  temporaries.push(t);
  return t;
}

/**
 * Parameters whose optimizer keeps gradients in one flat arena (src/optim/arena.ts) map to a
 * function giving a fresh view of their slot there: their first gradient of a step is copied into
 * it (a copy command, not a kernel), so the optimizer updates every parameter in one dispatch.
 */
export const gradHomes = new WeakMap<Tensor, () => Tensor>();

/** t.grad += g; takes ownership of g. */
export function accumulateGrad(t: Tensor, g: Tensor): void {
  if (!t.grad) {
    const home = gradHomes.get(t)?.();
    if (home) {
      gpu().copy(g.buffer, home.buffer, t.bytes);
      g.release();
    }
    t.grad = home ?? g;
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

/** t.grad, created zeroed (in its arena slot, see gradHomes) when absent: for scatter-adds. */
export function zeroedGrad(t: Tensor): Tensor {
  if (t.grad) return t.grad;
  const home = gradHomes.get(t)?.();
  if (home) gpu().clear(home.buffer);
  t.grad = home ?? Tensor.zeros(t.shape);
  return t.grad;
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
