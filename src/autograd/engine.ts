/**
 * Reverse-mode automatic differentiation on a dynamic graph, PyTorch style.
 *
 * The graph hangs off tensors: an op's output holds a {@link Node} (`tensor.gradFn`) that references the
 * op's input tensors and a backward closure. Nothing global grows: when the last reference to a result
 * (e.g. a loss) goes, its graph is garbage. `backward()` walks the nodes reachable from the root in
 * topological order, calls each closure once with the summed gradient of its output, accumulates into
 * leaf `.grad`s. Unless `retainGraph`, each node is freed as soon as its closure has run (closure and
 * input edges dropped, releasing the tensors it saved), so a training loop that calls
 * `loss.backward()` every step holds only the current step's graph, and less of it as backward
 * proceeds. Storage the graph owns outright is disposed there and then rather than left to the
 * garbage collector (GPU buffers, and arrays the wasm pool reuses for the next node): tensors an op
 * made only for its backward (passed to {@link recordOp} as `saved`, e.g. C3A's kernel spectrum),
 * the temporaries a closure makes (each closure runs in its own `tidy`; its results are kept), and
 * the gradient temporaries of `backward()` itself once no pending node needs them (leaves receive
 * copies or in-place sums).
 *
 * ## How to define a differentiable op (the pattern every op in src/ops/ follows)
 *
 * ```ts
 * import { mul, tensor, Tensor } from "@c3a/c3a";
 * import { recordOp, stridesOf } from "@c3a/c3a/backend";
 *
 * export function square(x: Tensor): Tensor {
 *   const b = x.backend;                                   // run kernels on the tensor's backend
 *   const st = stridesOf(x.shape);                         // both operands read with x's own strides
 *   const out = Tensor.fromStorage(b.binary("mul", x.storage, x.storage, x.shape, st, st), x.shape);
 *   return recordOp("square", out, [x], (g, needs) => [   // g: gradient of `out`, same shape as out
 *     needs[0] ? mul(g, mul(x, 2)) : null,               // one gradient per input (shape = input shape)
 *   ]);
 * }
 *
 * const x = tensor([1, -2, 3]).requiresGrad_();
 * square(x).sum().backward();
 * console.log(x.grad!.dataSync()); // Float32Array [2, -4, 6]
 * ```
 *
 * - Compute the forward with backend kernels (`x.backend`, `x.storage`) or by composing other ops
 *   (composition needs no `recordOp`: those ops record themselves).
 * - `recordOp(name, out, inputs, backward)` attaches a node only when grad mode is on and some input
 *   requires grad; otherwise it returns `out` untouched and the closure is garbage.
 * - The closure receives the output gradient `g` and `needs[i]` (whether input i wants a gradient) and
 *   returns, for each input, a Tensor of exactly that input's shape, or null. Write it with ordinary
 *   ops or backend kernels (it runs under no-grad), so it works on every backend. Only first-order
 *   gradients are supported (no `create_graph`). Gradients of
 *   broadcast inputs must be reduced back to the input's shape (see `sumToShape` in src/ops/reduce.ts).
 * - Whatever the closure captures (inputs, outputs, intermediate results) is "saved for backward" and is
 *   released after the first backward unless `retainGraph` is set. Do not mutate captured tensors in
 *   place between forward and backward.
 *
 * @module
 */

import { isGradEnabled, setGradEnabled } from "./grad_mode.ts";
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape, shapesEqual } from "../tensor/shape.ts";
import { keep, tidy } from "../tensor/scope.ts";

/**
 * Backward closure of an op: given the gradient of the op's output and which inputs need gradients,
 * returns one gradient per input (same shape as that input) or null/undefined for "no gradient".
 */
export type BackwardFn = (
  grad: Tensor,
  needsGrad: readonly boolean[],
) => ReadonlyArray<Tensor | null | undefined>;

/** A recorded op in the autograd graph (PyTorch's `grad_fn`). */
export class Node {
  /** Op name, for error messages and debugging (e.g. "matmul"). */
  readonly name: string;
  /** The op's input tensors (edges to their nodes); emptied when the graph is freed. */
  inputs: readonly Tensor[];
  /** The backward closure; null once freed after backward. */
  backwardFn: BackwardFn | null;
  /** Shape of the op's output (the gradient the closure receives). */
  readonly outShape: readonly number[];
  /**
   * Tensors the op made only for its backward (e.g. C3A's kernel spectrum), owned by this node and
   * disposed when the graph is freed ({@link Node.release}).
   */
  saved: Tensor[];

  /** Creates a node; use {@link recordOp} instead of calling this. */
  constructor(
    name: string,
    inputs: readonly Tensor[],
    backwardFn: BackwardFn,
    outShape: readonly number[],
    saved: Tensor[] = [],
  ) {
    this.name = name;
    this.inputs = inputs;
    this.backwardFn = backwardFn;
    this.outShape = outShape;
    this.saved = saved;
  }

  /**
   * Frees the node after backward: drops the closure and input edges and disposes the tensors it
   * owns. Idempotent.
   */
  release(): void {
    this.backwardFn = null;
    this.inputs = [];
    this.releaseSaved();
  }

  /** Disposes the tensors the node owns (also done when the op's output is disposed). Idempotent. */
  releaseSaved(): void {
    const s = this.saved;
    if (s.length === 0) return;
    this.saved = [];
    for (const t of s) t.dispose();
  }
}

/**
 * The op-definition helper: attaches a backward closure to `out` when grad mode is on and any input
 * requires grad, and returns `out`. See the module doc for the full pattern.
 *
 * @param name op name for messages.
 * @param out the op's (fresh) output tensor.
 * @param inputs every tensor the output depends on differentiably, in the order the closure answers.
 * @param backward `(gradOut, needsGrad) => gradients per input`.
 * @param saved tensors the op made only for `backward` (not inputs, not `out`): owned by the node and
 *   disposed when the graph is freed (after backward, or when `out` is disposed), or right away when
 *   no node is recorded. GPU memory held by saved state is thus released without waiting for the GC.
 * @returns `out`, now with `gradFn` set when recording.
 */
export function recordOp(
  name: string,
  out: Tensor,
  inputs: readonly Tensor[],
  backward: BackwardFn,
  saved: Tensor[] = [],
): Tensor {
  let any = false;
  if (isGradEnabled()) {
    for (let i = 0; i < inputs.length; i++) {
      if (inputs[i].requiresGrad) {
        any = true;
        break;
      }
    }
  }
  if (!any) {
    for (const t of saved) t.dispose();
    return out;
  }
  out._setGradFn(new Node(name, inputs.slice(), backward, out.shape, saved));
  return out;
}

/** Options of {@link runBackward} / `Tensor.backward`. */
export interface BackwardOptions {
  /** Keep the graph (closures and saved tensors) so backward can run through it again. Default false. */
  retainGraph?: boolean;
}

function sumInto(a: Tensor, b: Tensor): Tensor {
  return Tensor.fromStorage(a.backend.axpby(a.storage, 1, b.storage, 1), a.shape);
}

function accumulateLeaf(t: Tensor, g: Tensor): void {
  if (!shapesEqual(g.shape, t.shape)) {
    throw new RangeError(
      `gradient of shape ${fmtShape(g.shape)} cannot accumulate into a tensor of shape ${fmtShape(t.shape)}`,
    );
  }
  if (t.grad === null || t.grad.isDisposed) {
    // copy: g may alias another tensor's gradient or a user-provided tensor
    const st = g.backend.full(g.size);
    g.backend.copy(g.storage, st);
    t.grad = keep(Tensor.fromStorage(st, g.shape));
  } else {
    if (!shapesEqual(t.grad.shape, t.shape)) {
      throw new RangeError(
        `.grad has shape ${fmtShape(t.grad.shape)} but the tensor has shape ${fmtShape(t.shape)}`,
      );
    }
    t.grad.backend.axpby(t.grad.storage, 1, g.storage, 1, t.grad.storage);
  }
}

/**
 * Backpropagates from `root`: computes d(root·gradient)/d(leaf) for every leaf that requires grad
 * reachable from `root` and adds it into `leaf.grad` (accumulating across calls until zeroed, like
 * PyTorch). Non-leaf tensors get `.grad` only after `retainGrad()`.
 *
 * @param gradient gradient of the root, same shape as `root`; optional only for one-element roots
 *   (then 1).
 * @throws {Error} when `root` does not require grad, when `gradient` is omitted for a root with more
 *   than one element, or when the graph was already freed by a previous backward without `retainGraph`.
 * @throws {RangeError} when `gradient`'s shape differs from `root`'s, or an op's backward returns a
 *   gradient of the wrong shape.
 */
export function runBackward(root: Tensor, gradient?: Tensor, opts: BackwardOptions = {}): void {
  const retainGraph = !!opts.retainGraph;
  if (!root.requiresGrad) {
    throw new Error(
      `backward: the tensor (shape ${fmtShape(root.shape)}) does not require grad and has no gradFn ` +
        `(was it computed under noGrad, or from tensors without requiresGrad?)`,
    );
  }
  let seed: Tensor;
  if (gradient === undefined) {
    if (root.size !== 1) {
      throw new Error(
        `backward: grad can be implicitly created only for one-element outputs; the tensor has shape ` +
          `${fmtShape(root.shape)} — pass a gradient of that shape`,
      );
    }
    seed = Tensor.fromStorage(root.backend.full(1, 1), root.shape);
  } else {
    if (!shapesEqual(gradient.shape, root.shape)) {
      throw new RangeError(
        `backward: gradient has shape ${fmtShape(gradient.shape)} but the tensor has shape ${
          fmtShape(root.shape)
        }`,
      );
    }
    seed = gradient;
  }
  const rootNode = root.gradFn;
  if (rootNode === null) {
    accumulateLeaf(root, seed);
    return;
  }
  // topological order (iterative post-order DFS)
  const order: Node[] = [];
  const visited = new Set<Node>();
  const stack: Array<[Node, number]> = [[rootNode, 0]];
  visited.add(rootNode);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [node, i] = top;
    if (node.backwardFn === null) {
      throw new Error(
        `backward: trying to backward through the graph a second time (node "${node.name}" was freed); ` +
          `pass {retainGraph: true} to the first backward if you need to`,
      );
    }
    if (i < node.inputs.length) {
      top[1] = i + 1;
      const child = node.inputs[i].gradFn;
      if (child !== null && !visited.has(child)) {
        visited.add(child);
        stack.push([child, 0]);
      }
    } else {
      stack.pop();
      order.push(node);
    }
  }
  const grads = new Map<Node, Tensor>();
  grads.set(rootNode, seed);
  // Gradient tensors made during this backward (never visible to the caller: leaves get copies or
  // in-place sums). Each is disposed as soon as no pending gradient and no running node needs it (so
  // its array is reused by the next node's kernels instead of all of them living until the end);
  // with retainGraph, at the end as before.
  const temps = new Set<Tensor>();
  const uses = new Map<Tensor, number>();
  const hold = (t: Tensor) => uses.set(t, (uses.get(t) ?? 0) + 1);
  const drop = (t: Tensor) => {
    const c = (uses.get(t) ?? 1) - 1;
    if (c > 0) return void uses.set(t, c);
    uses.delete(t);
    if (!retainGraph && temps.delete(t)) t.dispose();
  };
  if (gradient === undefined) temps.add(seed);
  hold(seed);
  if (root._retainsGrad) accumulateLeaf(root, seed);
  const prevMode = setGradEnabled(false);
  try {
    for (let n = order.length - 1; n >= 0; n--) {
      const node = order[n];
      const g = grads.get(node);
      grads.delete(node);
      if (g === undefined) {
        if (!retainGraph) node.release();
        continue;
      }
      const inputs = node.inputs;
      const needs = inputs.map((t) => t.requiresGrad);
      // the closure's own temporaries are disposed when it returns (its results are kept)
      const results = tidy(() => node.backwardFn!(g, needs));
      const inHand: Tensor[] = [];
      for (let i = 0; i < inputs.length; i++) {
        const gi = results[i];
        if (!needs[i] || gi === null || gi === undefined) continue;
        const t = inputs[i];
        if (!shapesEqual(gi.shape, t.shape)) {
          throw new RangeError(
            `backward of "${node.name}" returned a gradient of shape ${fmtShape(gi.shape)} for input ${i} ` +
              `of shape ${fmtShape(t.shape)}`,
          );
        }
        if (gi !== gradient) temps.add(gi);
        hold(gi);
        inHand.push(gi);
        const child = t.gradFn;
        if (child === null) accumulateLeaf(t, gi);
        else {
          if (t._retainsGrad) accumulateLeaf(t, gi);
          const prev = grads.get(child);
          let sum = gi;
          if (prev !== undefined) {
            temps.add(sum = sumInto(prev, gi));
            drop(prev);
          }
          hold(sum);
          grads.set(child, sum);
        }
      }
      for (const t of inHand) drop(t);
      drop(g);
      // the node is done: drop its closure (and the activations only it referenced) and what it owns
      if (!retainGraph) node.release();
    }
  } finally {
    setGradEnabled(prevMode);
    if (!retainGraph) {
      for (const node of order) node.release();
      for (const t of temps) t.dispose();
    }
  }
}
