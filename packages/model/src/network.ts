import * as tf from '@tensorflow/tfjs-core';
// the Node bundle of tfjs-layers registers the gradient functions tfjs-core's Node bundle lacks
import '@tensorflow/tfjs-layers';
import { fail, Rng, VqvidError } from '@vqvid/core';
import { coarseWidth, type ModelConfig, MOTION_CHANNELS, stateWidth, usesMotion } from './config';
import { sameConv, windowConv } from './im2col';
import { batchDropout, type BatchPart } from './dropout';

/** Training-time dropout: the rate and the seed of this step's masks (so a resumed run draws the same masks). */
export interface Dropout {
  rate: number;
  seed: number;
  /** The windows of the batch the codes hold, when a training worker runs a slice of it (masks as for the whole batch). */
  part?: BatchPart;
}

/**
 * The cells of a window whose states are wanted (a training crop within its margins): rows [top, top + rows) and
 * columns [left, left + cols) of the window. The conv stack then computes each layer only where a wanted cell's
 * receptive field reaches, and the recurrence runs on the wanted cells alone (it is 1x1: no other cell feeds them).
 */
export interface WindowRegion {
  top: number;
  left: number;
  rows: number;
  cols: number;
}

/** A trainable weight with a stable name (used for saving and for the Adam state order). */
export interface NamedVariable {
  name: string;
  variable: tf.Variable;
}

function gaussian(shape: number[], std: number, rng: Rng): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
  return tf.tensor(data, shape, 'float32');
}

/**
 * The input and recurrent part of the rCNN (everything but the output layer):
 * embedding -> conv stage (im2col, zero padding) -> 1x1 recurrent cell. RNN = kernel 1. With two scales a
 * coarse branch runs beside it (2x2 average pool -> its own conv stage -> nearest upsample -> 1x1 tanh
 * recurrence), and each cell's state is [h_fine | h_coarse of its 2x2 block] (see ModelOptions.scales).
 */
export class Network {
  readonly weights: NamedVariable[] = [];
  private readonly byName = new Map<string, tf.Variable>();
  /** Gate count: the last conv layer produces gates*hidden channels (W_x·conv(x) of every gate). */
  private readonly gates: number;

  constructor(readonly cfg: ModelConfig, rng: Rng) {
    const { k, embedDim, hidden, kernel, layers, cell } = cfg;
    this.gates = cell === 'gru' ? 3 : 1;
    this.add('embedding', gaussian([k, embedDim], 1, rng));
    let cin = inputChannels(cfg);
    for (let l = 0; l < layers; l++) {
      const last = l === layers - 1;
      const cout = last ? this.gates * hidden : hidden;
      const fanIn = kernel * kernel * cin;
      this.add(`conv${l}.w`, gaussian([fanIn, cout], Math.sqrt(1 / fanIn), rng));
      // the last layer's bias is the recurrent bias b
      if (!last) this.add(`conv${l}.b`, tf.zeros([cout]));
      cin = cout;
    }
    const std = Math.sqrt(1 / hidden);
    if (cell === 'gru') {
      this.add('rec.wzr', gaussian([hidden, 2 * hidden], std, rng));
      this.add('rec.wn', gaussian([hidden, hidden], std, rng));
    } else {
      this.add('rec.w', gaussian([hidden, hidden], std, rng));
    }
    this.add('rec.b', tf.zeros([this.gates * hidden]));
    // drawn after every single-scale weight, so a single-scale model draws exactly what it drew before
    const hc = coarseWidth(cfg);
    if (hc > 0) {
      cin = inputChannels(cfg);
      for (let l = 0; l < layers; l++) {
        const fanIn = kernel * kernel * cin;
        this.add(`coarse.conv${l}.w`, gaussian([fanIn, hc], Math.sqrt(1 / fanIn), rng));
        if (l < layers - 1) this.add(`coarse.conv${l}.b`, tf.zeros([hc]));
        cin = hc;
      }
      this.add('coarse.rec.w', gaussian([hc, hc], Math.sqrt(1 / hc), rng));
      this.add('coarse.rec.b', tf.zeros([hc]));
      // h_c(t−1) read by every gate of the fine recurrence
      this.add('coarse.rec.tofine', gaussian([hc, this.gates * hidden], Math.sqrt(1 / (hidden + hc)), rng));
    }
  }

  private add(name: string, init: tf.Tensor): void {
    const variable = tf.variable(init, true);
    init.dispose();
    this.weights.push({ name, variable });
    this.byName.set(name, variable);
  }

  private w(name: string): tf.Variable {
    return this.byName.get(name)!;
  }

  /**
   * W_x·conv(embed(x)) for a batch of frames: `codes` int32 [N, R, C]; `mask` [N, R, C, 1] (1 inside the
   * real grid, 0 outside) or null when the tensor is the whole grid; `motion` [N, R, C, 2], the motion channels
   * of a model with motion inputs (see {@link motionTensor}), which join the embedding before the first
   * conv layer. Returns [N*R*C, gates*hidden], and with two scales [N*R*C, gates*hidden + hiddenCoarse]: the
   * coarse branch's drive of each cell's block after it (see {@link coarseDrive}). With `region`, only the drive of
   * the region's cells, [N*region.rows*region.cols, …], the same numbers as those cells' rows of the whole drive.
   */
  inputDrive(codes: tf.Tensor3D, mask: tf.Tensor4D | null, dropout?: Dropout, motion?: tf.Tensor4D, region?: WindowRegion): tf.Tensor2D {
    return tf.tidy(() => {
      const [n, rows, cols] = codes.shape;
      if (region) checkRegion(region, rows, cols);
      const { embedDim } = this.cfg;
      const flat = tf.reshape(codes, [n * rows * cols]);
      let x: tf.Tensor4D = tf.reshape(tf.gather(this.w('embedding'), flat), [n, rows, cols, embedDim]);
      // dropout on the embedded codes only (not on the recurrence, as in Zaremba et al. 2014)
      if (dropout && dropout.rate > 0) x = batchDropout(x, dropout.rate, dropout.seed, dropout.part ? n / dropout.part.count : 1, dropout.part) as tf.Tensor4D;
      if (usesMotion(this.cfg) !== (motion !== undefined)) throw new VqvidError('E_STATE', 'motion: the motion channels must be given exactly when the model reads them');
      // the mask below zeroes them outside the real grid as it does the embedding
      if (motion) x = tf.concat([x, motion], 3);
      let y = this.convStack(x, mask, '', region);
      if (coarseWidth(this.cfg) > 0) {
        const coarse = this.coarseDrive(x, mask);
        y = tf.concat([y, region ? sliceRegion(coarse, region) : coarse], 3);
      }
      return tf.reshape(y, [-1, y.shape[3]]) as tf.Tensor2D;
    });
  }

  /**
   * The conv layers `${prefix}conv{l}` on `x`, zeroing what `mask` marks outside the real grid before each layer.
   * With `region` (of x's rows and columns), layer l computes only the cells the layers after it read: the region
   * grown by their radius (within x), a windowed convolution of what the layer before computed (a cell next to the
   * cut would see zero padding there, as one at x's own border does, but none of those is computed); the last layer
   * computes the region's cells.
   */
  private convStack(x: tf.Tensor4D, mask: tf.Tensor4D | null, prefix: string, region?: WindowRegion): tf.Tensor4D {
    const { kernel, layers } = this.cfg;
    const [, rows, cols] = x.shape;
    const radius = (kernel - 1) >> 1;
    // where x's origin lies in the window
    let top = 0;
    let left = 0;
    for (let l = 0; l < layers; l++) {
      // zero padding must hold at the real grid border, not at a crop border: zero what lies outside
      if (mask) x = tf.mul(x, x.shape[1] === rows && x.shape[2] === cols ? mask : tf.slice(mask, [0, top, left, 0], [-1, x.shape[1], x.shape[2], -1])) as tf.Tensor4D;
      const w = this.w(`${prefix}conv${l}.w`) as tf.Tensor2D;
      if (region) {
        const grow = radius * (layers - 1 - l);
        const t = Math.max(0, region.top - grow);
        const lt = Math.max(0, region.left - grow);
        const r = Math.min(rows, region.top + region.rows + grow) - t;
        const c = Math.min(cols, region.left + region.cols + grow) - lt;
        x = windowConv(x, w, kernel, [t - top, lt - left, r, c]);
        top = t;
        left = lt;
      } else {
        x = sameConv(x, w, kernel);
      }
      if (l < layers - 1) x = tf.tanh(tf.add(x, this.w(`${prefix}conv${l}.b`))) as tf.Tensor4D;
    }
    return x;
  }

  /**
   * The coarse branch of the input drive: `x` [N, R, C, ch] (the embedded codes and motion channels) averaged
   * over 2x2 blocks aligned to the tensor's origin (which batches keep even in grid coordinates) over the cells
   * inside the real grid (`mask`; null = all R x C cells), through the coarse conv stack (blocks with no cell in
   * the grid are zeroed like outside cells), then copied back to each cell of its block: [N, R, C, hiddenCoarse].
   */
  private coarseDrive(x: tf.Tensor4D, mask: tf.Tensor4D | null): tf.Tensor4D {
    return tf.tidy(() => {
      const [n, rows, cols] = x.shape;
      const inside = mask ?? tf.ones([1, rows, cols, 1]);
      const count = blockSum(inside);
      const pooled = tf.div(blockSum(mask ? tf.mul(x, mask) : x), tf.maximum(count, 1)) as tf.Tensor4D;
      const blockMask = mask ? (tf.minimum(count, 1) as tf.Tensor4D) : null;
      const y = this.convStack(pooled, blockMask, 'coarse.');
      return tf.slice(upsample2(y), [0, 0, 0, 0], [n, rows, cols, y.shape[3]]);
    });
  }

  /**
   * One recurrent update per cell: `drive` [n, gates*hidden (+ hiddenCoarse)], `prev` [n, hidden (+ hiddenCoarse)]
   * or null (zero state). With two scales h_c' = tanh(drive_c + h_c·U_c + b_c) and the fine cell reads h_c·V as
   * one more drive; both are 1x1, so the copies of h_c within a block stay equal.
   */
  cell(drive: tf.Tensor2D, prev: tf.Tensor2D | null): tf.Tensor2D {
    const hc = coarseWidth(this.cfg);
    if (hc === 0) return this.fineCell(drive, prev);
    return tf.tidy(() => {
      const [driveFine, driveCoarse] = tf.split(drive, [this.gates * this.cfg.hidden, hc], 1) as tf.Tensor2D[];
      if (!prev) return tf.concat([this.fineCell(driveFine, null), tf.tanh(tf.add(driveCoarse, this.w('coarse.rec.b')))], 1) as tf.Tensor2D;
      const [prevFine, prevCoarse] = tf.split(prev, [this.cfg.hidden, hc], 1) as tf.Tensor2D[];
      const fine = this.fineCell(tf.add(driveFine, tf.matMul(prevCoarse, this.w('coarse.rec.tofine') as tf.Tensor2D)) as tf.Tensor2D, prevFine);
      const coarse = tf.tanh(tf.add(tf.add(driveCoarse, this.w('coarse.rec.b')), tf.matMul(prevCoarse, this.w('coarse.rec.w') as tf.Tensor2D)));
      return tf.concat([fine, coarse], 1) as tf.Tensor2D;
    });
  }

  /** The fine recurrence: `drive` [n, gates*hidden], `prev` [n, hidden] or null (zero state). */
  private fineCell(drive: tf.Tensor2D, prev: tf.Tensor2D | null): tf.Tensor2D {
    return tf.tidy(() => {
      const pre = tf.add(drive, this.w('rec.b')) as tf.Tensor2D;
      if (this.cfg.cell === 'tanh') {
        return tf.tanh(prev ? tf.add(pre, tf.matMul(prev, this.w('rec.w') as tf.Tensor2D)) : pre) as tf.Tensor2D;
      }
      const h = this.cfg.hidden;
      const [zr, nIn] = tf.split(pre, [2 * h, h], 1);
      const gates = tf.sigmoid(prev ? tf.add(zr, tf.matMul(prev, this.w('rec.wzr') as tf.Tensor2D)) : zr);
      const [z, r] = tf.split(gates, 2, 1);
      const cand = tf.tanh(prev ? tf.add(nIn, tf.matMul(tf.mul(r, prev), this.w('rec.wn') as tf.Tensor2D)) : nIn);
      // h' = (1 - z) * cand + z * prev
      const keep = prev ? tf.mul(z, prev) : tf.zerosLike(cand);
      return tf.add(tf.mul(tf.sub(1, z), cand), keep) as tf.Tensor2D;
    });
  }

  /**
   * Hidden states of a window of `steps` frames from a zero state (a window is read as a sequence: motion
   * channels are 0 where its frames before are missing): `codes` int32 [steps*B, R, C] frame-major,
   * `mask` as in {@link inputDrive}. Returns [steps, B, R, C, state width] (hidden, + hiddenCoarse with two scales);
   * with `region`, the states of its cells alone, [steps, B, region.rows, region.cols, width] (the same numbers).
   */
  window(codes: tf.Tensor3D, mask: tf.Tensor4D | null, steps: number, dropout?: Dropout, region?: WindowRegion): tf.Tensor5D {
    return tf.tidy(() => {
      const [n] = codes.shape;
      const [rows, cols] = region ? [region.rows, region.cols] : [codes.shape[1], codes.shape[2]];
      const b = n / steps;
      const motion = usesMotion(this.cfg) ? motionTensor(codes, steps) : undefined;
      const drive = tf.reshape(this.inputDrive(codes, mask, dropout, motion, region), [steps, b * rows * cols, -1]);
      const perStep = tf.unstack(drive) as tf.Tensor2D[];
      const states: tf.Tensor2D[] = [];
      let h: tf.Tensor2D | null = null;
      for (const d of perStep) {
        h = this.cell(d, h);
        states.push(h);
      }
      return tf.reshape(tf.stack(states), [steps, b, rows, cols, stateWidth(this.cfg)]) as tf.Tensor5D;
    });
  }

  /** Plain copies of every weight, by name. */
  snapshot(): Map<string, Float32Array> {
    return new Map(this.weights.map((w) => [w.name, (w.variable.dataSync() as Float32Array).slice()]));
  }

  dispose(): void {
    for (const w of this.weights) w.variable.dispose();
  }
}

/** E_SHAPE unless `region` is a non-empty block of whole cells within a rows x cols window. */
function checkRegion(region: WindowRegion, rows: number, cols: number): void {
  const { top, left } = region;
  const ok = [top, left, region.rows, region.cols].every(Number.isInteger) && top >= 0 && left >= 0 && region.rows > 0 && region.cols > 0 && top + region.rows <= rows && left + region.cols <= cols;
  if (!ok) fail('E_SHAPE', 'region', `a block of whole cells within the ${rows}x${cols} window`, JSON.stringify(region));
}

/** The cells of `region` of x [N, R, C, ch]: [N, region.rows, region.cols, ch]. */
function sliceRegion(x: tf.Tensor4D, region: WindowRegion): tf.Tensor4D {
  return tf.slice(x, [0, region.top, region.left, 0], [-1, region.rows, region.cols, -1]);
}

/** Sums of `x` [N, R, C, ch] over 2x2 blocks from its origin, an odd last row or column alone: [N, ⌈R/2⌉, ⌈C/2⌉, ch]. */
function blockSum(x: tf.Tensor4D): tf.Tensor4D {
  const [n, rows, cols, ch] = x.shape;
  const [rc, cc] = [Math.ceil(rows / 2), Math.ceil(cols / 2)];
  const even = rows % 2 || cols % 2 ? tf.pad(x, [[0, 0], [0, rows % 2], [0, cols % 2], [0, 0]]) : x;
  // rank 4 at most throughout (kernels of every backend): rows of pairs, then columns of pairs
  const byRows = tf.sum(tf.reshape(even, [n * rc, 2, 2 * cc, ch]), 1);
  return tf.reshape(tf.sum(tf.reshape(byRows, [n * rc * cc, 2, ch]), 1), [n, rc, cc, ch]);
}

/** Nearest 2x upsampling: [N, R, C, ch] → [N, 2R, 2C, ch], each cell copied to its 2x2 block. */
function upsample2(x: tf.Tensor4D): tf.Tensor4D {
  const [n, rows, cols, ch] = x.shape;
  const tallRows = tf.reshape(tf.tile(tf.reshape(x, [n * rows, 1, cols * ch]), [1, 2, 1]), [n * 2 * rows, cols, 1, ch]);
  return tf.reshape(tf.tile(tallRows, [1, 1, 2, 1]), [n, 2 * rows, 2 * cols, ch]);
}

/** Channels of the first conv layer's input: the embedding, and the motion channels when the model reads them. */
export function inputChannels(cfg: ModelConfig): number {
  return cfg.embedDim + (usesMotion(cfg) ? MOTION_CHANNELS : 0);
}

/**
 * Motion channels of a window read as one sequence: `codes` int32 [steps*B, R, C] frame-major; returns float32
 * [steps*B, R, C, 2] with channel 0 = [x_t ≠ x_{t−1}] and channel 1 = [x_{t−1} ≠ x_{t−2}], 0 where the frame
 * before is not in the window (the same numbers as {@link motionChannels} on each window's frames).
 */
export function motionTensor(codes: tf.Tensor3D, steps: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, rows, cols] = codes.shape;
    const per = (n / steps) * rows * cols;
    const x = tf.reshape(codes, [steps, per]);
    const zero = tf.zeros([1, per]);
    const changed = steps > 1 ? tf.cast(tf.notEqual(tf.slice(x, [1, 0], [steps - 1, per]), tf.slice(x, [0, 0], [steps - 1, per])), 'float32') : null;
    const now = changed ? tf.concat([zero, changed], 0) : zero;
    const before = steps > 1 ? tf.concat([zero, tf.slice(now, [0, 0], [steps - 1, per])], 0) : zero;
    return tf.reshape(tf.stack([now, before], 2), [n, rows, cols, MOTION_CHANNELS]) as tf.Tensor4D;
  });
}

/**
 * Motion channels of frames [from, to) of a frame-major code array with `cells` cells per frame, interleaved
 * [(to−from)*cells, 2]: [x_t ≠ x_{t−1}], [x_{t−1} ≠ x_{t−2}], 0 where frame t−1 (t−2) is before frame 0 of
 * `codes` (the start of the sequence). Frames before `from` are read only as history.
 */
export function motionChannels(codes: ArrayLike<number>, cells: number, from: number, to: number): Float32Array {
  const out = new Float32Array((to - from) * cells * MOTION_CHANNELS);
  for (let t = from; t < to; t++) {
    for (let i = 0; i < cells; i++) {
      const at = t * cells + i;
      const o = ((t - from) * cells + i) * MOTION_CHANNELS;
      if (t >= 1) out[o] = codes[at] !== codes[at - cells] ? 1 : 0;
      if (t >= 2) out[o + 1] = codes[at - cells] !== codes[at - 2 * cells] ? 1 : 0;
    }
  }
  return out;
}
