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

  // kernels 1, 3, 5 and 1-3 layers; a region at the window's border (no margin along that side, as a crop that
  // covers the grid's rows has); motion inputs; two scales; the gru cell
  it.each([
    ['kernel 3, 2 layers, inner region', { kernel: 3, layers: 2 }, { top: 2, left: 2, rows: 3, cols: 4 }],
    ['kernel 3, 3 layers, region at the top and left border', { kernel: 3, layers: 3 }, { top: 0, left: 0, rows: 5, cols: 3 }],
    ['kernel 5, 2 layers, region at the bottom border', { kernel: 5, layers: 2 }, { top: 3, left: 1, rows: 4, cols: 6 }],
    ['kernel 1 (an rNN)', { kernel: 1, layers: 1 }, { top: 1, left: 2, rows: 2, cols: 2 }],
    ['gru, motion inputs, two scales', { kernel: 3, layers: 2, cell: 'gru', inputs: ['codes', 'motion'], scales: 2 }, { top: 2, left: 2, rows: 2, cols: 4 }],
  ] as const)('window with a region gives its cells the states of the whole window, and their gradient (%s)', (_, opts, region) => {
    const cfg = resolveConfig({ k: 5, embedDim: 3, hidden: 4, seed: 4, ...opts });
    const net = new Network(cfg, new Rng(4));
    const [steps, rows, cols] = [3, 7, 8];
    const rng = new Rng(9);
    const codes = tf.tensor3d(Int32Array.from({ length: steps * rows * cols }, () => rng.int(5)), [steps, rows, cols], 'int32');
    // a real grid that ends inside the window (its last column and first row are outside)
    const mask = tf.tensor4d(Float32Array.from({ length: steps * rows * cols }, (_, i) => (i % cols === cols - 1 || Math.floor(i / cols) % rows === 0 ? 0 : 1)), [steps, rows, cols, 1]);
    const width = net.window(codes, mask, steps).shape[4];
    const proj = tf.randomNormal([steps, 1, region.rows, region.cols, width], 0, 1, 'float32', 12);
    const whole = () => tf.slice(net.window(codes, mask, steps), [0, 0, region.top, region.left, 0], [-1, -1, region.rows, region.cols, -1]);
    const part = () => net.window(codes, mask, steps, undefined, region);
    const [a, b] = [tf.tidy(() => whole().dataSync()), tf.tidy(() => part().dataSync())];
    expect(tf.tidy(() => part().shape)).toEqual([steps, 1, region.rows, region.cols, width]);
    expect(b.length).toBe(a.length);
    for (let i = 0; i < a.length; i++) expect(Math.abs(b[i] - a[i])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(a[i])));
    const vars = net.weights.map((w) => w.variable);
    const ga = tf.variableGrads(() => tf.sum(tf.mul(whole(), proj)) as tf.Scalar, vars).grads;
    const gb = tf.variableGrads(() => tf.sum(tf.mul(part(), proj)) as tf.Scalar, vars).grads;
    let moved = 0;
    for (const v of vars) {
      const [x, y] = [ga[v.name].dataSync(), gb[v.name].dataSync()];
      for (let i = 0; i < x.length; i++) {
        expect(Math.abs(y[i] - x[i])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(x[i])));
        if (x[i] !== 0) moved++;
      }
    }
    expect(moved).toBeGreaterThan(0);
    tf.dispose([codes, mask, proj, ...Object.values(ga), ...Object.values(gb)]);
    net.dispose();
  });

  it('rejects a region outside the window (E_SHAPE naming region)', () => {
    const cfg = resolveConfig({ k: 4, embedDim: 3, hidden: 4, seed: 2, kernel: 3, layers: 2 });
    const net = new Network(cfg, new Rng(2));
    const codes = tf.tensor3d(new Int32Array(2 * 4 * 5), [2, 4, 5], 'int32');
    for (const region of [{ top: 1, left: 0, rows: 4, cols: 2 }, { top: 0, left: -1, rows: 2, cols: 2 }, { top: 0, left: 0, rows: 0, cols: 2 }, { top: 0, left: 0, rows: 1.5, cols: 2 }]) {
      expect(() => net.window(codes, null, 2, undefined, region)).toThrow(expect.objectContaining({ code: 'E_SHAPE', details: expect.objectContaining({ argument: 'region' }) }));
    }
    codes.dispose();
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
