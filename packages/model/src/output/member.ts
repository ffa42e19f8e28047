import * as tf from '@tensorflow/tfjs-core';
import { type MemberHeap, memberHeap } from '../kernels';

/**
 * One batch's rows grouped by the class of their target, as the fused member products read it: the active classes
 * (ascending) with their row counts (the grouped rows come in that order), every class's first column and size in
 * the class-contiguous member matrix, and each grouped row's target column within its class.
 */
export interface MemberLayout {
  active: readonly number[];
  counts: readonly number[];
  starts: readonly number[];
  sizes: readonly number[];
  /** own[j] = column of grouped row j's target, counted from its class's first column. */
  own: Int32Array;
}

/**
 * Most padded (row, member) logits one {@link fusedMemberLogProb} call holds (64 MB of heap scratch, which the
 * backend keeps): a batch with more is scored by the tfjs products instead. A training batch of 8 windows of 16x16
 * cells over 6 frames has about 12k rows, some 2M logits at K = 10,000.
 */
export const MAX_FUSED_LOGITS = 1 << 24;

/** One active class as the kernels see it: its first grouped row, rows, columns, padded width and z offset. */
interface ClassBlock {
  row: number;
  rows: number;
  col: number;
  size: number;
  /** size rounded up to a multiple of 16 */
  pad: number;
  /** first float of its rows in the z (and dz) region, rows `pad` floats apart */
  z: number;
  /** float offset of its padded copy of the weights ([hidden, pad], then the bias [pad]) when its padded columns
   * would run past the matrix's end, else −1 */
  copy: number;
}

function plan(layout: MemberLayout, hidden: number, k: number): { blocks: ClassBlock[]; copies: number; zFloats: number } {
  const blocks: ClassBlock[] = [];
  let row = 0;
  let z = 0;
  let copies = 0;
  layout.active.forEach((c, a) => {
    const size = layout.sizes[c];
    const pad = Math.ceil(size / 16) * 16;
    const col = layout.starts[c];
    const overrun = col + pad > k;
    blocks.push({ row, rows: layout.counts[a], col, size, pad, z, copy: overrun ? copies : -1 });
    if (overrun) copies += (hidden + 1) * pad;
    row += layout.counts[a];
    z += layout.counts[a] * pad;
  });
  return { blocks, copies, zFloats: z };
}

/** Copies the weight columns and biases of each overrunning block into its zero-padded copy at `base` (floats). */
function copyOverruns(f: Float32Array, blocks: ClassBlock[], base: number, w: number, b: number, hidden: number, k: number): void {
  for (const blk of blocks) {
    if (blk.copy < 0) continue;
    const at = base + blk.copy;
    for (let d = 0; d < hidden; d++) f.set(f.subarray(w + d * k + blk.col, w + d * k + blk.col + blk.size), at + d * blk.pad);
    f.set(f.subarray(b + blk.col, b + blk.col + blk.size), at + hidden * blk.pad);
  }
}

/**
 * Whether {@link fusedMemberLogProb} can run here: the wasm backend with its SIMD kernels, and a hidden width that
 * is a multiple of 4.
 */
export function fusedMemberHeap(hidden: number): MemberHeap | null {
  return hidden % 4 === 0 ? memberHeap() : null;
}

/**
 * ln p(target | its class, h) for each grouped row: the log-softmax over its own class's members of hs·Wx + bx,
 * read at its target, with its gradient for hs, Wx and bx. The same values as one tfjs product per class up to
 * float rounding, but each class's rows meet its own weight columns where they lie in the wasm heap (no split of
 * Wx, no packing, no mask, no per-class op): the work is the (row, member) pairs and nothing a step does not scale
 * with. Null when the batch has no rows or more than {@link MAX_FUSED_LOGITS} padded logits (the caller then
 * uses the tfjs products). Each row's softmax runs in WebAssembly SIMD (a polynomial exp, about 1 ulp); the
 * probabilities are kept (a JS copy) for the gradient.
 * @param hs grouped rows [n, hidden], in `layout`'s class order.
 * @param wx member weights [hidden, K], class-contiguous columns; `bx` their biases [K].
 */
export function fusedMemberLogProb(heap: MemberHeap, hs: tf.Tensor2D, wx: tf.Tensor2D, bx: tf.Tensor1D, layout: MemberLayout): tf.Tensor1D | null {
  const [n, hidden] = hs.shape;
  const k = wx.shape[1];
  const { blocks, copies, zFloats } = plan(layout, hidden, k);
  if (n === 0 || zFloats > MAX_FUSED_LOGITS) return null;
  const hb = 4 * hidden;
  const kpb = 4 * k;
  const { kernels, simd } = heap;
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [hT, wT, bT, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    // kept for the gradient (hs is an intermediate, freed with the forward's scope otherwise)
    save([hT, wT, bT]);
    // scratch (padded copies, the logits, row statistics) and the output first: they may grow the heap, so the
    // offsets and views after
    const scratch = simd.reserve(4 * (copies + zFloats + 2 * n), 4 * copies) / 4;
    const outInfo = heap.output([n]);
    const [h, w, b, out] = [heap.offset(hT), heap.offset(wT), heap.offset(bT), heap.offset(outInfo)].map((x) => x / 4);
    let f = simd.heapF32;
    copyOverruns(f, blocks, scratch, w, b, hidden, k);
    const zAt = scratch + copies;
    for (const blk of blocks) {
      const wAt = blk.copy < 0 ? w + blk.col : scratch + blk.copy;
      const bAt = blk.copy < 0 ? b + blk.col : scratch + blk.copy + hidden * blk.pad;
      kernels.fwd(4 * (h + blk.row * hidden), blk.rows, 4 * wAt, blk.copy < 0 ? kpb : 4 * blk.pad, 4 * bAt, 4 * (zAt + blk.z), blk.pad / 16, hb);
    }
    // each row's log-softmax over its class's members (the padding −∞), by the SIMD softmax; the probabilities
    // are copied out for the gradient (the scratch is shared with other kernels until then)
    f = simd.heapF32;
    const chosen = new Float32Array(n);
    for (const blk of blocks) {
      for (let i = 0; i < blk.rows; i++) {
        const z = zAt + blk.z + i * blk.pad;
        chosen[blk.row + i] = f[z + layout.own[blk.row + i]];
        f.fill(-Infinity, z + blk.size, z + blk.pad);
      }
    }
    const stats = zAt + zFloats; // each row's maximum and sum of exponentials
    for (const blk of blocks) kernels.smax(4 * (zAt + blk.z), blk.rows, blk.pad / 4, 4 * (stats + 2 * blk.row));
    f = simd.heapF32;
    for (let i = 0; i < n; i++) f[out + i] = chosen[i] - f[stats + 2 * i] - Math.log(f[stats + 2 * i + 1]);
    const probs = f.slice(zAt, zAt + zFloats);
    const value = tf.engine().makeTensorFromTensorInfo(outInfo) as tf.Tensor1D;
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const dyv = dy.dataSync() as Float32Array;
      // scratch: padded copies, dz, each row's factor −dy, a 1 (the bias gradient is the weight gradient of a
      // hidden width of one that is always 1)
      const base = simd.reserve(4 * (copies + zFloats + n + 1), 4 * copies) / 4;
      const dhInfo = heap.output([n, hidden]);
      const dwInfo = heap.output([hidden, k]);
      const dbInfo = heap.output([k]);
      const [h2, w2, b2, dhAt, dwAt, dbAt] = [...saved.map((t) => heap.offset(t)), heap.offset(dhInfo), heap.offset(dwInfo), heap.offset(dbInfo)].map((x) => x / 4);
      const g = simd.heapF32;
      copyOverruns(g, blocks, base, w2, b2, hidden, k);
      const dzAt = base + copies;
      const by = dzAt + zFloats;
      const one = by + n;
      g[one] = 1;
      // dz = dy·(onehot(target) − p): −dy·p by rows, then + dy at the target; 0 in the padding
      g.set(probs, dzAt);
      for (let i = 0; i < n; i++) g[by + i] = -dyv[i];
      for (const blk of blocks) {
        kernels.scale(4 * (dzAt + blk.z), blk.rows, blk.pad / 4, 4 * (by + blk.row));
        for (let i = 0; i < blk.rows; i++) {
          const dz = dzAt + blk.z + i * blk.pad;
          g[dz + layout.own[blk.row + i]] += dyv[blk.row + i];
          g.fill(0, dz + blk.size, dz + blk.pad);
        }
      }
      // weight and bias gradients: each class writes its padded block in column order (the padding writes zeros,
      // which a later class overwrites with its own columns); absent classes keep the zeros
      g.fill(0, dwAt, dwAt + hidden * k);
      g.fill(0, dbAt, dbAt + k);
      for (const blk of blocks) {
        const wAt = blk.copy < 0 ? w2 + blk.col : base + blk.copy;
        const wStride = blk.copy < 0 ? kpb : 4 * blk.pad;
        const dz = 4 * (dzAt + blk.z);
        const hAt = 4 * (h2 + blk.row * hidden);
        kernels.dh(dz, blk.rows, 4 * wAt, wStride, blk.pad / 4, 4 * (dhAt + blk.row * hidden), hidden / 4);
        if (blk.copy < 0) {
          kernels.dw(hAt, dz, blk.rows, 4 * (dwAt + blk.col), kpb, blk.pad / 16, hidden, hb);
          kernels.dw(4 * one, dz, blk.rows, 4 * (dbAt + blk.col), kpb, blk.pad / 16, 1, 0);
        } else {
          // into its padded copy (no longer needed), then its own columns into the gradients
          kernels.dw(hAt, dz, blk.rows, 4 * wAt, wStride, blk.pad / 16, hidden, hb);
          kernels.dw(4 * one, dz, blk.rows, 4 * (wAt + hidden * blk.pad), wStride, blk.pad / 16, 1, 0);
          for (let d = 0; d < hidden; d++) g.set(g.subarray(wAt + d * blk.pad, wAt + d * blk.pad + blk.size), dwAt + d * k + blk.col);
          g.set(g.subarray(wAt + hidden * blk.pad, wAt + hidden * blk.pad + blk.size), dbAt + blk.col);
        }
      }
      const engine = tf.engine();
      return [dhInfo, dwInfo, dbInfo].map((info) => engine.makeTensorFromTensorInfo(info));
    };
    return { value, gradFunc };
  });
  return op(hs, wx, bx) as tf.Tensor1D;
}
