import * as tf from '@tensorflow/tfjs-core';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { VqvidError } from '@vqvid/core';
import { editContainer, type ContainerMeta } from '../../core/src/test-helpers';
import { initBackend, RCNN, RNN } from './index';
import type { ModelOptions } from './index';
import { createOutputLayer, partsOf } from './internals';
import { outputVariableSizes, type OutputLayerOptions } from './output';
import { networkWeightSizes } from './parts';
import { motionCodes } from './testing';

// Saved models and checkpoints edited with the checksum recomputed: each is refused with a typed E_FORMAT that
// names the file, before anything large is built; and building and freeing models leaves no tensor behind.

let tmp: string;
beforeAll(async () => {
  await initBackend(['wasm']);
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'vqvid-hostile-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

const small = { k: 4, embedDim: 4, hidden: 6, seed: 4 };
let saved = 0;

/** A directory holding a saved (unfitted) model of `opts`. */
async function savedModel(opts: ModelOptions, M: typeof RCNN = RCNN): Promise<string> {
  const dir = path.join(tmp, `m${saved++}`);
  const m = new M(opts);
  await m.save(dir);
  m.dispose();
  return dir;
}

/** Edits the header of the model file in `dir` (the checksum recomputed); returns the file. */
async function editModel(dir: string, edit: (meta: ContainerMeta, header: Record<string, unknown>) => unknown): Promise<string> {
  const file = path.join(dir, 'model.vqm');
  const bytes = new Uint8Array(await fsp.readFile(file));
  await fsp.writeFile(file, editContainer(bytes, (meta) => edit(meta, meta.header as Record<string, unknown>)));
  return file;
}

async function loadError(dir: string): Promise<VqvidError> {
  const e = await RCNN.load(dir).then((m) => (m.dispose(), null), (err: unknown) => err);
  if (!(e instanceof VqvidError)) throw new Error(`expected a VqvidError, got ${String(e)}`);
  return e;
}

describe('a header claiming a huge model', () => {
  const huge = { k: 65536, hidden: 4096, embedDim: 4096, kernel: 15, layers: 8 };
  // 64 MB of embedding alone: big enough that building the weights first shows, small enough to survive it
  const large = { k: 16384, hidden: 16, embedDim: 1024, kernel: 1, layers: 1 };
  it.each([
    ['the issue\'s 304-byte model (terabytes of weights)', huge],
    ['a 64 MB embedding', large],
  ])('%s is refused quickly with E_FORMAT, allocating nothing', async (_, claim) => {
    const dir = await savedModel(small);
    const file = await editModel(dir, (_m, h) => {
      h.config = { ...(h.config as object), ...claim };
      h.output = { ...(h.output as object), k: claim.k, hidden: claim.hidden };
    });
    const rss = process.memoryUsage().rss;
    const { numBytes, numTensors } = tf.memory();
    const t0 = Date.now();
    const e = await loadError(dir);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(e.code).toBe('E_FORMAT');
    expect(e.message).toMatch(new RegExp(`^${file}: the config implies \\d+ weights in \\d+ arrays, the file holds \\d+$`));
    expect(process.memoryUsage().rss - rss).toBeLessThan(50 * 2 ** 20);
    expect(tf.memory()).toMatchObject({ numBytes, numTensors });
  });

  it('a weight of the right byte length but another dtype is E_FORMAT', async () => {
    const dir = await savedModel(small);
    const file = await editModel(dir, (m) => {
      const entry = (m.arrays as { name: string; dtype: string }[]).find((a) => a.name === 'w:embedding')!;
      entry.dtype = 'int32';
    });
    const e = await loadError(dir);
    expect(e.code).toBe('E_FORMAT');
    expect(e.message).toContain(file);
  });
});

describe('checksum-valid hostile model headers', () => {
  type Edit = (h: Record<string, unknown>) => void;
  const cfg = (h: Record<string, unknown>) => h.config as Record<string, unknown>;
  const out = (h: Record<string, unknown>) => h.output as Record<string, unknown>;
  const cases: [string, Edit, RegExp][] = [
    ['className "constructor"', (h) => void (h.className = 'constructor'), /header\.className: expected one of RCNN, RNN, got "constructor"/],
    ['className "toString"', (h) => void (h.className = 'toString'), /className/],
    ['className "__proto__"', (h) => void (h.className = '__proto__'), /className/],
    ['a className that is a number', (h) => void (h.className = 7), /className: expected a string/],
    ['no className', (h) => void delete h.className, /className/],
    ['a null config', (h) => void (h.config = null), /header\.config: expected an object, got null/],
    ['a config that is a list', (h) => void (h.config = [1, 2]), /header\.config: expected an object/],
    ['a config that is a string', (h) => void (h.config = 'RCNN'), /header\.config/],
    ['config.k "toString"', (h) => void (cfg(h).k = 'toString'), /k: expected an integer/],
    ['config.k -1', (h) => void (cfg(h).k = -1), /k: expected an integer in \[2, 65536\], got -1/],
    ['config.k 2.5', (h) => void (cfg(h).k = 2.5), /k: expected an integer, got 2\.5/],
    ['an even kernel', (h) => void (cfg(h).kernel = 2), /kernel/],
    ['config.cell "toString"', (h) => void (cfg(h).cell = 'toString'), /cell/],
    ['a null output', (h) => void (h.output = null), /header\.output: expected an object, got null/],
    ['an output that is a list', (h) => void (h.output = []), /header\.output/],
    ['an output of another kind', (h) => void (out(h).kind = 'factored'), /config\.kind/],
    ['an output of another k', (h) => void (out(h).k = 5), /config\.k/],
    ['a malformed mixture', (h) => void (out(h).mixture = 'copy'), /config\.mixture/],
    ['a codebook checksum that is a number', (h) => void (h.codebook = 123), /header\.codebook: expected a string matching/],
    ['a malformed codebook checksum', (h) => void (h.codebook = 'xyz'), /header\.codebook/],
    ['a formatVersion that is a string', (h) => void (h.formatVersion = '1'), /header\.formatVersion/],
  ];
  it.each(cases)('%s is E_FORMAT naming the file', async (_, edit, message) => {
    const dir = await savedModel(small);
    const file = await editModel(dir, (_m, h) => edit(h));
    const e = await loadError(dir);
    expect(e.code).toBe('E_FORMAT');
    expect(e.message.startsWith(`${file}: `)).toBe(true);
    expect(e.message).toMatch(message);
  });

  it('a factored output with a hostile class table is E_FORMAT', async () => {
    for (const classOf of [null, 'x', [0, 0, 'toString', 1], [0, 0, -1, 1], [0, 0, 2, 2]]) {
      const dir = await savedModel({ ...small, softmax: 'factored', classes: 2 });
      const file = await editModel(dir, (_m, h) => void ((h.output as Record<string, unknown>).classOf = classOf));
      const e = await loadError(dir);
      expect(e.code).toBe('E_FORMAT');
      expect(e.message).toContain(file);
    }
  });

  it('a valid newer format version is still E_VERSION', async () => {
    const dir = await savedModel(small);
    await editModel(dir, (_m, h) => void (h.formatVersion = 2));
    expect((await loadError(dir)).code).toBe('E_VERSION');
  });

  it('an untouched file loads (the edit helper is faithful)', async () => {
    const dir = await savedModel({ ...small, softmax: 'factored', classes: 2 }, RNN);
    await editModel(dir, () => undefined);
    const m = await RCNN.load(dir);
    expect(m).toBeInstanceOf(RNN);
    m.dispose();
  });
});

describe('checksum-valid hostile checkpoint headers', () => {
  const quick = { epochs: 1, stepsPerEpoch: 2, batch: 2, bptt: 3, lr: 0.01 };
  type Edit = (h: Record<string, unknown>) => void;
  const cases: [string, Edit, RegExp][] = [
    ['a null adam', (h) => void (h.adam = null), /header\.adam: expected an object, got null/],
    ['a negative moment count', (h) => void ((h.adam as Record<string, unknown>).moments = -1), /header\.adam\.moments/],
    ['a null state', (h) => void (h.state = null), /header\.state/],
    ['a history that is not a list', (h) => void ((h.state as Record<string, unknown>).history = 'x'), /header\.state\.history/],
    ['an epoch of 1.5', (h) => void ((h.state as Record<string, unknown>).epoch = 1.5), /header\.state\.epoch/],
  ];
  it.each(cases)('%s is E_FORMAT naming the file on resume', async (_, edit, message) => {
    const dir = path.join(tmp, `ck${saved++}`);
    const m = new RCNN(small);
    await m.fit(motionCodes(6), { ...quick, checkpointDir: dir });
    m.dispose();
    const file = path.join(dir, 'checkpoint.vqm');
    const bytes = new Uint8Array(await fsp.readFile(file));
    await fsp.writeFile(file, editContainer(bytes, (meta) => edit(meta.header as Record<string, unknown>)));
    const again = new RCNN(small);
    const e = await again.fit(motionCodes(6), { ...quick, epochs: 2, checkpointDir: dir, resume: true }).then(() => null, (err: unknown) => err);
    again.dispose();
    expect(e).toBeInstanceOf(VqvidError);
    expect((e as VqvidError).code).toBe('E_FORMAT');
    expect((e as VqvidError).message.startsWith(`${file}: `)).toBe(true);
    expect((e as VqvidError).message).toMatch(message);
  });
});

describe('no tensor is left behind', () => {
  const variants: [string, typeof RCNN, ModelOptions][] = [
    ['RCNN, full softmax, copy-aware with prior', RCNN, small],
    ['RCNN, full softmax, copy-aware without prior', RCNN, { ...small, prior: 'none' }],
    ['RCNN, plain full softmax', RCNN, { ...small, copy: false, prior: 'none' }],
    ['RCNN, full softmax with direct connections, GRU', RCNN, { ...small, direct: true, cell: 'gru' }],
    ['RCNN, factored softmax, copy-aware', RCNN, { ...small, softmax: 'factored', classes: 2 }],
    ['RCNN, plain factored softmax with direct connections', RCNN, { ...small, softmax: 'factored', copy: false, prior: 'none', direct: true }],
    ['RNN, full softmax, copy-aware', RNN, small],
    ['RNN, plain factored softmax', RNN, { ...small, softmax: 'factored', copy: false, prior: 'none' }],
  ];
  it.each(variants)('%s: new + dispose and load + dispose return numTensors and numBytes to their start', async (_, M, opts) => {
    const dir = await savedModel(opts, M);
    const cycle = async () => {
      const m = new M(opts);
      void partsOf(m).output; // the factored layer is built on first use
      m.dispose();
      (await RCNN.load(dir)).dispose();
    };
    await cycle(); // kernels and backend caches settle on first use
    const start = tf.memory();
    for (let i = 0; i < 3; i++) await cycle();
    expect(tf.memory()).toMatchObject({ numTensors: start.numTensors, numBytes: start.numBytes });
  });
});

describe('sizes computed without allocating agree with what is built', () => {
  it.each<ModelOptions>([
    small,
    { ...small, cell: 'gru', layers: 3, kernel: 5 },
    { ...small, layers: 1, kernel: 1 },
    { k: 7, embedDim: 3, hidden: 2, cell: 'gru', layers: 1 },
  ])('network weights of %j', (opts) => {
    const m = new RCNN(opts);
    const built = partsOf(m).net.weights.map((w): [string, number] => [w.name, w.variable.size]);
    expect(networkWeightSizes(m.config)).toEqual(built);
    m.dispose();
  });

  const layers: OutputLayerOptions[] = [];
  for (const kind of ['full', 'factored'] as const) {
    for (const direct of [false, true]) {
      for (const [copy, prior] of [[false, 'none'], [true, 'none'], [false, 'bigram'], [true, 'bigram']] as const) {
        layers.push({ kind, k: 9, hidden: 5, seed: 1, classes: 3, direct, copy, prior });
      }
    }
  }
  it.each(layers)('output variables of %j, fresh and restored', (opts) => {
    const layer = createOutputLayer(opts);
    expect(outputVariableSizes(opts)).toEqual(layer.variables.map((v) => v.size));
    const restored = { ...opts, config: layer.toJSON() };
    expect(outputVariableSizes(restored)).toEqual(layer.variables.map((v) => v.size));
    layer.dispose();
  });
});
