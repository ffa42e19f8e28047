/**
 * @jest-environment ./scripts/jest-one-realm-env.js
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, sliceCodes, sliceVideo } from '@vqvid/core';
import type { CodeVolume, Video } from '@vqvid/core';
import { PatchCodec } from '@vqvid/quantize';
import { syntheticVideo } from '@vqvid/video';
import * as ort from 'onnxruntime-node';
import { initBackend, RCNN } from './index';
import { createOutputLayer, MixtureOutput, type OutputLayer, type OutputLayerOptions, SpatialPrior, spatialContext, topCandidates, topCandidatesAsync } from './output';
import { presentExtras } from './output/top';
import { encodeModel, exportOutputOnnx, exportStepOnnx, OnnxOutput, OnnxStep, type OnnxRuntime } from './onnx';
import { partsOf } from './rcnn';
import { outputGraph, outputWeights } from './onnx/graph';

const runtime = ort as unknown as OnnxRuntime;
const K = 23;
const HIDDEN = 5;
const N = 9;

beforeAll(async () => {
  await initBackend(['wasm']);
});

const made: OutputLayer[] = [];
const sources: OnnxOutput[] = [];
afterAll(async () => {
  made.forEach((l) => l.dispose());
  for (const s of sources) await s.release();
});

/** A layer with random weights (class frequencies skewed so the factored classes differ in size: 1 to 9 codes). */
function layer(opts: Partial<OutputLayerOptions>, seed = 3): OutputLayer {
  const frequencies = Float64Array.from({ length: K }, (_, i) => 1 / (i + 1) ** 1.5);
  const out = createOutputLayer({ kind: 'full', k: K, hidden: HIDDEN, seed, frequencies, classes: 6, ...opts });
  made.push(out);
  const rng = new Rng(seed + 100);
  for (const v of out.variables) v.assign(tf.tensor(Float32Array.from({ length: v.size }, () => rng.normal() * 1.5), v.shape));
  return out;
}

async function source(l: OutputLayer, block = 4, rowsPerRun?: number): Promise<OnnxOutput> {
  const s = await OnnxOutput.create(l, { runtime, block, rowsPerRun });
  sources.push(s);
  return s;
}

function hidden(seed: number, n = N): tf.Tensor2D {
  const rng = new Rng(seed);
  return tf.tensor2d(Float32Array.from({ length: n * HIDDEN }, () => rng.normal()), [n, HIDDEN]);
}

describe('the ONNX writer', () => {
  it('writes a graph the runtime runs: attributes, int64 initializers (a negative one too), dynamic dims', async () => {
    const bytes = encodeModel({
      nodes: [
        { op: 'Add', inputs: ['x', 'b'], outputs: ['y0'] },
        { op: 'Reshape', inputs: ['y0', 'shape'], outputs: ['y1'] },
        { op: 'ReduceMax', inputs: ['y1'], outputs: ['y'], attrs: { axes: { ints: [-1] }, keepdims: { int: 0 } } },
        { op: 'Mul', inputs: ['x', 'half'], outputs: ['z'] },
      ],
      initializers: [
        { name: 'b', dtype: 'float32', dims: [3], data: Float32Array.of(1, -2, 0.5) },
        { name: 'shape', dtype: 'int64', dims: [2], data: BigInt64Array.of(-1n, 3n) },
      ].concat([{ name: 'half', dtype: 'float32', dims: [], data: Float32Array.of(0.5) }] as never[]),
      inputs: [{ name: 'x', dtype: 'float32', shape: ['n', 3] }],
      outputs: [
        { name: 'y', dtype: 'float32', shape: ['n'] },
        { name: 'z', dtype: 'float32', shape: ['n', 3] },
      ],
    });
    const s = await ort.InferenceSession.create(bytes);
    const x = Float32Array.of(0, 0, 0, 5, 1, -1);
    const out = await s.run({ x: new ort.Tensor('float32', x, [2, 3]) });
    expect(Array.from(out.y.data as Float32Array)).toEqual([1, 6]); // row 2: [5 + 1, 1 − 2, −1 + 0.5]
    expect(Array.from(out.z.data as Float32Array)).toEqual([0, 0, 0, 2.5, 0.5, -0.5]);
    await s.release();
  });

  it('writes every attribute kind the runtime reads: float, floats, string, tensor', async () => {
    const bytes = encodeModel({
      nodes: [
        { op: 'LeakyRelu', inputs: ['x'], outputs: ['leaky'], attrs: { alpha: { float: 0.25 } } },
        { op: 'Constant', inputs: [], outputs: ['three'], attrs: { value_floats: { floats: [1, 2.5, -3] } } },
        { op: 'Constant', inputs: [], outputs: ['pads'], attrs: { value: { tensor: { name: 'p', dtype: 'int64', dims: [2], data: BigInt64Array.of(1n, 1n) } } } },
        { op: 'Add', inputs: ['leaky', 'three'], outputs: ['y'] },
        { op: 'Pad', inputs: ['x', 'pads'], outputs: ['padded'], attrs: { mode: { string: 'edge' } } },
      ],
      initializers: [],
      inputs: [{ name: 'x', dtype: 'float32', shape: [3] }],
      outputs: [
        { name: 'y', dtype: 'float32', shape: [3] },
        { name: 'padded', dtype: 'float32', shape: [5] },
      ],
    });
    const s = await ort.InferenceSession.create(bytes);
    const out = await s.run({ x: new ort.Tensor('float32', Float32Array.of(-4, 2, 0), [3]) });
    expect(Array.from(out.y.data as Float32Array)).toEqual([0, 4.5, -3]); // [-1, 2, 0] + [1, 2.5, -3]
    expect(Array.from(out.padded.data as Float32Array)).toEqual([-4, -4, 2, 0, 0]);
    await s.release();
  });

  it('refuses an initializer whose values do not fill its dims', () => {
    expect(() => encodeModel({ nodes: [], initializers: [{ name: 'w', dtype: 'float32', dims: [2, 2], data: new Float32Array(3) }], inputs: [], outputs: [] })).toThrow(/3 values for dims \[2, 2\]/);
  });
});

describe('OnnxOutput: the exact top lists of the network softmax', () => {
  const cases: Array<[string, Partial<OutputLayerOptions>]> = [
    ['full softmax', { kind: 'full' }],
    ['factored softmax (classes of 1 to 9 codes)', { kind: 'factored' }],
  ];
  /** Within float32 rounding of ln q's magnitude (2e-5 absolute near 0, relative beyond). */
  const expectNear = (got: number, want: number): void => expect(Math.abs(got - want)).toBeLessThanOrEqual(2e-5 * Math.max(1, Math.abs(want)));

  /** Every list, bound and extra ln q of `s` against a full sort of `l`'s logProbsAll. */
  async function expectExact(l: OutputLayer, s: OnnxOutput, h: tf.Tensor2D): Promise<void> {
    const all = tf.tidy(() => l.logProbsAll(h).dataSync() as Float32Array);
    for (const m of [1, 5, K]) {
      const cells = Int32Array.of(8, 0, 3, 3);
      const extras = { start: Int32Array.of(0, 1, 1, 4, 6), codes: Int32Array.of(4, 0, 22, 9, 9, 1) };
      const got = await s.logCandidatesAsync(h.dataSync() as Float32Array, cells, m, extras);
      cells.forEach((i, r) => {
        const row = Array.from(all.subarray(i * K, (i + 1) * K));
        const order = row.map((_, c) => c).sort((a, b) => row[b] - row[a] || a - b);
        expect(Array.from(got.codes.subarray(r * m, (r + 1) * m))).toEqual(order.slice(0, m));
        order.slice(0, m).forEach((c, j) => expectNear(got.logq[r * m + j], row[c]));
        expect(got.bound[r]).toBe(m < K ? got.logq[r * m + m - 1] : -Infinity);
        for (let e = extras.start[r]; e < extras.start[r + 1]; e++) expectNear(got.extraLogq[e], row[extras.codes[e]]);
      });
      expect(Array.from(got.exact)).toEqual([1, 1, 1, 1]);
    }
  }

  it.each(cases)('%s: every list, bound and extra ln q as a full sort of logProbsAll gives (blocks of 1, 4, 64)', async (_, opts) => {
    const l = layer(opts);
    const h = hidden(7);
    for (const block of [1, 4, 64]) await expectExact(l, await source(l, block), h);
    h.dispose();
  });

  it.each(cases)('%s with large logits (one class 40x the others: a softmax over the whole row would underflow): still exact', async (_, opts) => {
    const l = layer(opts);
    // the within-class softmax ignores a class's level; ln Σ exp of a block from its own largest logit stays exact
    for (const v of l.variables.slice(-2)) v.assign(tf.mul(v, 40));
    const h = hidden(8);
    const s = await source(l);
    await expectExact(l, s, h);
    // factored: the shifted graph's bound is far above these rows' logits, so they were run again unshifted
    if (opts.kind === 'factored') expect(s.stats.fallbackRows).toBeGreaterThan(0);
    h.dispose();
  });

  it('factored: the shifted first graph alone gives the exact lists (no row falls back), in runs of 1, 3 and 40 rows', async () => {
    const l = layer({ kind: 'factored' });
    const h = hidden(7);
    for (const rowsPerRun of [1, 3, 40]) {
      const s = await source(l, 4, rowsPerRun);
      await expectExact(l, s, h);
      expect(s.stats.rows).toBe(12);
      expect(s.stats.fallbackRows).toBe(0);
    }
    h.dispose();
  });

  it('a memo: a later pass over rows the first run scored takes the lighter graph with its class terms, same lists', async () => {
    const runs: string[] = [];
    const counting: OnnxRuntime = {
      Tensor: runtime.Tensor,
      InferenceSession: {
        create: async (bytes, o) => {
          const inner = await runtime.InferenceSession.create(bytes, o);
          return { run: (feeds) => (runs.push('class_term' in feeds ? 'rescore' : 'first'), inner.run(feeds)), release: () => inner.release() };
        },
      },
    };
    for (const kind of ['full', 'factored'] as const) {
      const l = layer({ kind });
      const s = await OnnxOutput.create(l, { runtime: counting, block: 4 });
      sources.push(s);
      const h = hidden(5);
      const data = h.dataSync() as Float32Array;
      const memo = {};
      runs.length = 0;
      await s.logCandidatesAsync(data, Int32Array.of(0, 1, 2, 6), 2, presentExtras(new Int32Array(4)), memo);
      const cells = Int32Array.of(6, 1);
      const extras = { start: Int32Array.of(0, 3, 5), codes: Int32Array.of(0, 22, 13, 7, 7) };
      const again = await s.logCandidatesAsync(data, cells, 9, extras, memo);
      const fresh = await s.logCandidatesAsync(data, cells, 9, extras);
      // a row the first run did not score, or another h: the whole graph again
      await s.logCandidatesAsync(data, Int32Array.of(6, 7), 9, presentExtras(new Int32Array(2)), memo);
      await s.logCandidatesAsync(data.slice(), cells, 9, extras, memo);
      expect(runs).toEqual(['first', 'rescore', 'first', 'first', 'first']);
      expect(Array.from(again.codes)).toEqual(Array.from(fresh.codes));
      again.logq.forEach((v, j) => expectNear(v, fresh.logq[j]));
      again.extraLogq.forEach((v, j) => expectNear(v, fresh.extraLogq[j]));
      again.bound.forEach((v, j) => expectNear(v, fresh.bound[j]));
      h.dispose();
    }
  });

  it('pads a factored layer\'s classes into whole blocks: the graph\'s columns map back to every code once', () => {
    const l = layer({ kind: 'factored' });
    const g = outputGraph(outputWeights(l), 4);
    const classOf = l.toJSON().classOf as number[];
    expect(g.columns % 4).toBe(0);
    // every block (slot j of block b at column j·blocks + b) holds one class's codes only
    const nb = g.columns / 4;
    for (let blk = 0; blk < nb; blk++) {
      const classes = new Set<number>();
      for (let j = 0; j < 4; j++) {
        const code = Array.from(g.colOf).indexOf(j * nb + blk);
        if (code >= 0) classes.add(classOf[code]);
      }
      expect(classes.size).toBe(1);
    }
    const table = g.model.initializers.find((t) => t.name === 'col_to_code')!.data as Int32Array;
    const codes = Array.from(table).filter((c) => c >= 0).sort((a, b) => a - b);
    expect(codes).toEqual(Array.from({ length: K }, (_, i) => i));
    const back = g.model.initializers.find((t) => t.name === 'code_to_col')!.data as Int32Array;
    back.forEach((col, code) => expect(table[col]).toBe(code));
  });

  it('mixtures: topCandidatesAsync gives the lists and probabilities of the tfjs search (copy, spatial prior, gate offsets)', async () => {
    for (const kind of ['full', 'factored'] as const) {
      const l = layer({ kind, copy: true, prior: 'spatial' }) as MixtureOutput;
      const rows = 3;
      const cols = 3;
      const rng = new Rng(11);
      const frames = Int32Array.from({ length: 6 * rows * cols }, () => rng.int(K));
      l.setPrior(SpatialPrior.fit([{ codes: frames, frames: 6, rows, cols, k: K }], K));
      const present = frames.subarray(5 * rows * cols);
      const ctx = tf.tensor2d(spatialContext(present, rows, cols, K), [N, 5], 'int32');
      const h = hidden(9);
      const s = await source(l);
      // the prior's lists as deep as the network's, and 3x deeper (what a search that needed many second passes sets)
      for (const [offsets, deep] of [[null, 1], [[0.3, -0.2, 0.1], 1], [null, 3], [[0.3, -0.2, 0.1], 3]] as const) {
        (l as unknown as { asyncPriorDepth: number }).asyncPriorDepth = deep;
        const want = l.withOffsets(offsets, () => topCandidates(l, h, Int32Array.from(present), ctx, 4))!;
        const got = await topCandidatesAsync(l, h, Int32Array.from(present), ctx, 4, s, offsets);
        expect(Array.from(got.codes)).toEqual(Array.from(want.codes));
        got.probs.forEach((p, j) => expect(p).toBeCloseTo(want.probs[j], 5));
        got.presentProbs.forEach((p, j) => expect(p).toBeCloseTo(want.presentProbs[j], 5));
        expect(Array.from(got.exact)).toEqual(Array.from(want.exact));
      }
      tf.dispose([h, ctx]);
    }
  });

  it('a plain layer: topCandidatesAsync as topCandidates', async () => {
    const l = layer({ kind: 'factored' });
    const h = hidden(4);
    const present = Int32Array.from({ length: N }, (_, i) => (i * 5) % K);
    const want = topCandidates(l, h, present, undefined, 3)!;
    const got = await topCandidatesAsync(l, h, present, undefined, 3, await source(l));
    expect(Array.from(got.codes)).toEqual(Array.from(want.codes));
    got.probs.forEach((p, j) => expect(p).toBeCloseTo(want.probs[j], 5));
    got.presentProbs.forEach((p, j) => expect(p).toBeCloseTo(want.presentProbs[j], 5));
    h.dispose();
  });

  it('bad input: a direct layer, another layer\'s source, released sessions, bad cells and codes, bad options', async () => {
    const direct = layer({ kind: 'full', direct: true });
    await expect(OnnxOutput.create(direct, { runtime })).rejects.toMatchObject({ code: 'E_STATE' });
    expect(() => exportOutputOnnx(direct)).toThrow(expect.objectContaining({ code: 'E_STATE' }));
    const l = layer({ kind: 'full' });
    const other = await source(layer({ kind: 'full', k: 24 }));
    const h = hidden(1);
    const present = new Int32Array(N);
    await expect(topCandidatesAsync(l, h, present, undefined, 2, other)).rejects.toMatchObject({ code: 'E_SHAPE' });
    const s = await source(l);
    const data = h.dataSync() as Float32Array;
    await expect(s.logCandidatesAsync(data, Int32Array.of(N), 2, presentExtras(Int32Array.of(0)))).rejects.toMatchObject({ code: 'E_RANGE' });
    await expect(s.logCandidatesAsync(data, Int32Array.of(0), 2, presentExtras(Int32Array.of(K)))).rejects.toMatchObject({ code: 'E_RANGE' });
    await expect(s.logCandidatesAsync(data, Int32Array.of(0), K + 1, presentExtras(Int32Array.of(0)))).rejects.toMatchObject({ code: 'E_RANGE' });
    await expect(OnnxOutput.create(l, { runtime, threads: 0 })).rejects.toMatchObject({ code: 'E_RANGE' });
    for (const rowsPerRun of [0, 2.5, NaN]) {
      await expect(OnnxOutput.create(l, { runtime, rowsPerRun })).rejects.toMatchObject({ details: expect.objectContaining({ argument: 'opts.rowsPerRun' }) });
    }
    await s.release();
    await expect(s.logCandidatesAsync(data, Int32Array.of(0), 2, presentExtras(Int32Array.of(0)))).rejects.toMatchObject({ code: 'E_STATE' });
    h.dispose();
  });

  it('loads onnxruntime-node itself when no runtime is given', async () => {
    const s = await OnnxOutput.create(layer({ kind: 'full' }));
    sources.push(s);
    expect(s.columns).toBe(32); // K = 23 codes in blocks of 16
  });
});

describe('RCNN.predictFramesAsync with OnnxOutput renders what predictFrames renders', () => {
  let video: Video;
  let codec: PatchCodec;
  let codes: CodeVolume;
  const KV = 30;
  beforeAll(async () => {
    video = syntheticVideo({ kind: 'bouncing', width: 32, height: 24, frames: 10, seed: 3 });
    codec = await PatchCodec.fit(video, { k: KV, seed: 1, maxIter: 5, backend: 'cpu', sample: 2000 });
    codes = await codec.encode(video);
  });
  afterAll(() => codec.dispose());

  it.each([
    ['full softmax, copy + spatial prior, gate adaptation', { k: KV }],
    ['factored softmax, copy + bigram', { k: KV, softmax: 'factored' as const, classes: 5, prior: 'bigram' as const }],
  ])('%s', async (_, options) => {
    const m = new RCNN({ embedDim: 6, hidden: 8, seed: 5, ...options });
    await m.fit(sliceCodes(codes, 0, 8), { epochs: 1, stepsPerEpoch: 3, batch: 2, bptt: 3, lr: 0.01 });
    const context = sliceCodes(codes, 0, 8);
    const reference = sliceVideo(video, 7, 8);
    const s = await OnnxOutput.create(m, { runtime });
    sources.push(s);
    expect(OnnxStep.supports(m)).toBe(true);
    const stepper = await OnnxStep.create(m, { runtime });
    for (const decoder of ['mbr', 'skip'] as const) {
      const want = m.predictFrames(context, 3, { codec, reference, decoder, topM: 6 });
      for (const withStepper of [false, true]) {
        const before = tf.memory().numTensors;
        const got = await m.predictFramesAsync(context, 3, { codec, reference, decoder, topM: 6, source: s, ...(withStepper ? { stepper } : {}) });
        expect(tf.memory().numTensors).toBe(before);
        expect(got.frames).toBe(3);
        const diff = got.data.reduce((d, x, i) => Math.max(d, Math.abs(x - want.data[i])), 0);
        expect(diff).toBeLessThan(1e-3);
      }
    }
    await stepper.release();
    await expect(m.predictFramesAsync(context, 1, { codec: {} as PatchCodec, reference, source: s })).rejects.toMatchObject({ code: 'E_STATE' });
    m.dispose();
  });
});

describe('OnnxStep: the recurrent step as an ONNX graph', () => {
  const KS = 12;
  it.each([
    ['tanh cell, 2 conv layers of 3x3', { cell: 'tanh' as const, kernel: 3, layers: 2 }],
    ['GRU cell, 2 conv layers of 3x3', { cell: 'gru' as const, kernel: 3, layers: 2 }],
    ['tanh cell, one 5x5 layer', { cell: 'tanh' as const, kernel: 5, layers: 1 }],
    ['per-cell RNN (1x1)', { cell: 'tanh' as const, kernel: 1, layers: 1 }],
  ])('%s: the states of ModelParts.step, from zero and after', async (_, opts) => {
    const m = new RCNN({ k: KS, embedDim: 4, hidden: 6, seed: 3, copy: false, prior: 'none', ...opts });
    const parts = partsOf(m);
    // larger weights than the initial ones, so that every term matters
    const rng = new Rng(4);
    for (const w of parts.net.weights) w.variable.assign(tf.tensor(Float32Array.from({ length: w.variable.size }, () => rng.normal() * 0.7), w.variable.shape));
    const stepper = await OnnxStep.create(m, { runtime });
    const [rows, cols] = [5, 7];
    const n = rows * cols;
    let want: tf.Tensor2D | null = null;
    let got = new Float32Array(n * 6);
    for (let t = 0; t < 3; t++) {
      const codes = Int32Array.from({ length: n }, () => rng.int(KS));
      want = parts.step(want, codes, rows, cols, true);
      got = await stepper.stepAsync(got, codes, rows, cols);
      const w = want.dataSync();
      got.forEach((v, i) => expect(Math.abs(v - w[i])).toBeLessThan(1e-5));
    }
    want!.dispose();
    await expect(stepper.stepAsync(got, new Int32Array(n).fill(KS), rows, cols)).rejects.toMatchObject({ code: 'E_RANGE' });
    await expect(stepper.stepAsync(got.subarray(1), new Int32Array(n), rows, cols)).rejects.toMatchObject({ code: 'E_SHAPE' });
    await expect(stepper.stepAsync(got, new Int32Array(n - 1), rows, cols)).rejects.toMatchObject({ code: 'E_SHAPE' });
    await stepper.release();
    await expect(stepper.stepAsync(got, new Int32Array(n), rows, cols)).rejects.toMatchObject({ code: 'E_STATE' });
    m.dispose();
  });

  it('refuses models whose step the graph does not hold: motion inputs, two scales', async () => {
    for (const opts of [{ inputs: ['codes', 'motion'] as const }, { scales: 2 as const }]) {
      const m = new RCNN({ k: KS, embedDim: 4, hidden: 6, seed: 3, ...opts } as never);
      expect(OnnxStep.supports(m)).toBe(false);
      expect(() => exportStepOnnx(m)).toThrow(expect.objectContaining({ code: 'E_STATE' }));
      await expect(OnnxStep.create(m, { runtime })).rejects.toMatchObject({ code: 'E_STATE' });
      m.dispose();
    }
  });
});
