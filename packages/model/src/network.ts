import * as tf from '@tensorflow/tfjs-core';
// the Node bundle of tfjs-layers registers the gradient functions tfjs-core's Node bundle lacks
import '@tensorflow/tfjs-layers';
import { Rng } from '@vqvid/core';
import type { ModelConfig } from './config';
import { im2colConv } from './im2col';
import { batchDropout, type BatchPart } from './dropout';

/** Training-time dropout: the rate and the seed of this step's masks (so a resumed run draws the same masks). */
export interface Dropout {
  rate: number;
  seed: number;
  /** The windows of the batch the codes hold, when a training worker runs a slice of it (masks as for the whole batch). */
  part?: BatchPart;
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
 * embedding -> conv stage (im2col, zero padding) -> 1x1 recurrent cell. RNN = kernel 1.
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
    let cin = embedDim;
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
   * real grid, 0 outside) or null when the tensor is the whole grid. Returns [N*R*C, gates*hidden].
   */
  inputDrive(codes: tf.Tensor3D, mask: tf.Tensor4D | null, dropout?: Dropout): tf.Tensor2D {
    return tf.tidy(() => {
      const [n, rows, cols] = codes.shape;
      const { embedDim, kernel, layers } = this.cfg;
      const flat = tf.reshape(codes, [n * rows * cols]);
      let x: tf.Tensor4D = tf.reshape(tf.gather(this.w('embedding'), flat), [n, rows, cols, embedDim]);
      // dropout on the embedded codes only (not on the recurrence, as in Zaremba et al. 2014)
      if (dropout && dropout.rate > 0) x = batchDropout(x, dropout.rate, dropout.seed, dropout.part ? n / dropout.part.count : 1, dropout.part) as tf.Tensor4D;
      for (let l = 0; l < layers; l++) {
        // zero padding must hold at the real grid border, not at a crop border: zero what lies outside
        if (mask) x = tf.mul(x, mask) as tf.Tensor4D;
        x = im2colConv(x, this.w(`conv${l}.w`) as tf.Tensor2D, kernel);
        if (l < layers - 1) x = tf.tanh(tf.add(x, this.w(`conv${l}.b`))) as tf.Tensor4D;
      }
      return tf.reshape(x, [n * rows * cols, x.shape[3]]) as tf.Tensor2D;
    });
  }

  /** One recurrent update per cell: `drive` [n, gates*hidden], `prev` [n, hidden] or null (zero state). */
  cell(drive: tf.Tensor2D, prev: tf.Tensor2D | null): tf.Tensor2D {
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
   * Hidden states of a window of `steps` frames from a zero state: `codes` int32 [steps*B, R, C] frame-major,
   * `mask` as in {@link inputDrive}. Returns [steps, B, R, C, hidden].
   */
  window(codes: tf.Tensor3D, mask: tf.Tensor4D | null, steps: number, dropout?: Dropout): tf.Tensor5D {
    return tf.tidy(() => {
      const [n, rows, cols] = codes.shape;
      const b = n / steps;
      const drive = tf.reshape(this.inputDrive(codes, mask, dropout), [steps, b * rows * cols, -1]);
      const perStep = tf.unstack(drive) as tf.Tensor2D[];
      const states: tf.Tensor2D[] = [];
      let h: tf.Tensor2D | null = null;
      for (const d of perStep) {
        h = this.cell(d, h);
        states.push(h);
      }
      return tf.reshape(tf.stack(states), [steps, b, rows, cols, this.cfg.hidden]) as tf.Tensor5D;
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
