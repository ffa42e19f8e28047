import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '@vqvid/core';
import { resolveConfig, ModelConfig } from './config';
import { im2colConv } from './im2col';
import { Network } from './network';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Slow float64 reference of the network's hidden states for one window, from a zero state. */
function referenceStates(cfg: ModelConfig, w: Map<string, Float32Array>, codes: Int32Array, steps: number, rows: number, cols: number): Float64Array[] {
  const { embedDim: d, hidden: hdim, kernel, layers } = cfg;
  const p = (kernel - 1) / 2;
  const gates = cfg.cell === 'gru' ? 3 : 1;
  const states: Float64Array[] = [];
  let h = new Float64Array(rows * cols * hdim);
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  for (let t = 0; t < steps; t++) {
    let x = new Float64Array(rows * cols * d);
    for (let i = 0; i < rows * cols; i++) for (let c = 0; c < d; c++) x[i * d + c] = w.get('embedding')![codes[t * rows * cols + i] * d + c];
    let cin = d;
    for (let l = 0; l < layers; l++) {
      const last = l === layers - 1;
      const cout = last ? gates * hdim : hdim;
      const W = w.get(`conv${l}.w`)!;
      const y = new Float64Array(rows * cols * cout);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) for (let o = 0; o < cout; o++) {
        let s = last ? 0 : w.get(`conv${l}.b`)![o];
        for (let dy = 0; dy < kernel; dy++) for (let dx = 0; dx < kernel; dx++) {
          const rr = r + dy - p;
          const cc = c + dx - p;
          if (rr < 0 || rr >= rows || cc < 0 || cc >= cols) continue;
          for (let i = 0; i < cin; i++) s += x[(rr * cols + cc) * cin + i] * W[((dy * kernel + dx) * cin + i) * cout + o];
        }
        y[(r * cols + c) * cout + o] = last ? s : Math.tanh(s);
      }
      x = y;
      cin = cout;
    }
    const b = w.get('rec.b')!;
    const next = new Float64Array(rows * cols * hdim);
    for (let i = 0; i < rows * cols; i++) {
      const pre = (g: number, j: number) => x[i * gates * hdim + g * hdim + j] + b[g * hdim + j];
      const hv = (j: number) => h[i * hdim + j];
      const mat = (name: string, width: number, col: number, v: (j: number) => number) => {
        let s = 0;
        for (let j = 0; j < hdim; j++) s += v(j) * w.get(name)![j * width + col];
        return s;
      };
      if (cfg.cell === 'tanh') {
        for (let o = 0; o < hdim; o++) next[i * hdim + o] = Math.tanh(pre(0, o) + mat('rec.w', hdim, o, hv));
      } else {
        const z = Array.from({ length: hdim }, (_, o) => sig(pre(0, o) + mat('rec.wzr', 2 * hdim, o, hv)));
        const rg = Array.from({ length: hdim }, (_, o) => sig(pre(1, o) + mat('rec.wzr', 2 * hdim, hdim + o, hv)));
        for (let o = 0; o < hdim; o++) {
          const n = Math.tanh(pre(2, o) + mat('rec.wn', hdim, o, (j) => rg[j] * hv(j)));
          next[i * hdim + o] = (1 - z[o]) * n + z[o] * hv(o);
        }
      }
    }
    h = next;
    states.push(h);
  }
  return states;
}

describe('im2colConv', () => {
  it.each([1, 3, 5])('equals tf.conv2d with same zero padding (kernel %i)', (kernel) => {
    const rng = new Rng(kernel);
    const rand = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
    const [b, rows, cols, cin, cout] = [2, 5, 4, 3, 4];
    const x = tf.tensor4d(rand(b * rows * cols * cin), [b, rows, cols, cin]);
    const filter = tf.tensor4d(rand(kernel * kernel * cin * cout), [kernel, kernel, cin, cout]);
    const ours = im2colConv(x, tf.reshape(filter, [kernel * kernel * cin, cout]) as tf.Tensor2D, kernel);
    const ref = tf.conv2d(x, filter, 1, 'same');
    const a = ours.dataSync();
    const e = ref.dataSync();
    expect(ours.shape).toEqual([b, rows, cols, cout]);
    for (let i = 0; i < e.length; i++) expect(a[i]).toBeCloseTo(e[i], 4);
    tf.dispose([x, filter, ours, ref]);
  });
});

describe('Network', () => {
  const cases: [string, Partial<ModelConfig>][] = [
    ['tanh 3x3 x2', { cell: 'tanh', kernel: 3, layers: 2 }],
    ['gru 3x3 x1', { cell: 'gru', kernel: 3, layers: 1 }],
    ['tanh 1x1 (RNN)', { cell: 'tanh', kernel: 1, layers: 2 }],
  ];

  it.each(cases)('hidden states equal a float64 reference (%s)', (_, o) => {
    const cfg = resolveConfig({ k: 5, embedDim: 3, hidden: 4, seed: 7, ...o });
    const net = new Network(cfg, new Rng(7));
    const [steps, rows, cols] = [3, 4, 5];
    const codes = Int32Array.from({ length: steps * rows * cols }, (_, i) => (i * 7 + 3) % 5);
    const hs = net.window(tf.tensor3d(codes, [steps, rows, cols], 'int32'), null, steps);
    const got = hs.dataSync();
    const ref = referenceStates(cfg, net.snapshot(), codes, steps, rows, cols);
    const per = rows * cols * cfg.hidden;
    for (let t = 0; t < steps; t++) for (let i = 0; i < per; i++) expect(got[t * per + i]).toBeCloseTo(ref[t][i], 4);
    hs.dispose();
    net.dispose();
  });

  it('a mask makes a crop with margin equal the whole grid on the crop', () => {
    const cfg = resolveConfig({ k: 4, embedDim: 3, hidden: 4, seed: 2, kernel: 3, layers: 2 });
    const net = new Network(cfg, new Rng(2));
    const [rows, cols] = [6, 6];
    const codes = Int32Array.from({ length: rows * cols }, (_, i) => (i * 5 + 1) % 4);
    const full = net.window(tf.tensor3d(codes, [1, rows, cols], 'int32'), null, 1);
    // crop rows 0..2, cols 2..4 with margin 2: extended window rows -2..4, cols 0..6 (col 6 is outside)
    const [er, ec] = [7, 7];
    const ext = new Int32Array(er * ec);
    const mask = new Float32Array(er * ec);
    for (let y = 0; y < er; y++) for (let x = 0; x < ec; x++) {
      const r = y - 2;
      const c = x;
      if (r < 0 || r >= rows || c >= cols) continue;
      ext[y * ec + x] = codes[r * cols + c];
      mask[y * ec + x] = 1;
    }
    const part = net.window(tf.tensor3d(ext, [1, er, ec], 'int32'), tf.tensor4d(mask, [1, er, ec, 1]), 1);
    const a = tf.slice(part, [0, 0, 2, 2, 0], [1, 1, 3, 3, 4]).dataSync();
    const b = tf.slice(full, [0, 0, 0, 2, 0], [1, 1, 3, 3, 4]).dataSync();
    for (let i = 0; i < b.length; i++) expect(a[i]).toBeCloseTo(b[i], 5);
    net.dispose();
  });

  it.each(['tanh', 'gru'] as const)('gradient of conv stage and %s cell matches central differences', (cell) => {
    const cfg = resolveConfig({ k: 4, embedDim: 3, hidden: 3, seed: 3, kernel: 3, layers: 2, cell });
    const net = new Network(cfg, new Rng(3));
    const [steps, rows, cols] = [3, 3, 4];
    const codes = tf.tensor3d(Int32Array.from({ length: steps * rows * cols }, (_, i) => (i * 3 + 1) % 4), [steps, rows, cols], 'int32');
    // a fixed random projection of all states makes a scalar that depends on every weight
    const proj = tf.randomNormal([steps, 1, rows, cols, cfg.hidden], 0, 1, 'float32', 11);
    const f = () => tf.sum(tf.mul(net.window(codes, null, steps), proj)) as tf.Scalar;
    const vars = net.weights.map((w) => w.variable);
    const { grads } = tf.variableGrads(f, vars);
    const eps = 1e-2;
    const rng = new Rng(5);
    let checked = 0;
    for (const w of net.weights) {
      const g = grads[w.variable.name].dataSync();
      const base = (w.variable.dataSync() as Float32Array).slice();
      for (let trial = 0; trial < 4; trial++) {
        const i = rng.int(base.length);
        const at = (delta: number) => {
          const v = base.slice();
          v[i] += delta;
          w.variable.assign(tf.tensor(v, w.variable.shape));
          return tf.tidy(() => f().dataSync()[0]);
        };
        const fd = (at(eps) - at(-eps)) / (2 * eps);
        w.variable.assign(tf.tensor(base, w.variable.shape));
        // the embedding rows of unused codes have zero gradient, which the check covers too
        expect(Math.abs(g[i] - fd)).toBeLessThan(2e-2 * Math.max(1, Math.abs(fd)));
        checked++;
      }
    }
    expect(checked).toBe(net.weights.length * 4);
    tf.dispose([codes, proj, ...Object.values(grads)]);
    net.dispose();
  });
});
