import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VqvidError } from '@vqvid/core';
import { syntheticVideo } from '@vqvid/video';
import { editContainer, type ContainerMeta } from '../../core/src/test-helpers';
import { PatchCodec } from './codec';
import { Quantizer } from './quantizer';

// Codebook files edited with the checksum recomputed: each must be a typed E_FORMAT naming the file, for both
// loaders, never a TypeError or a file-chosen runtime hook.

let dir: string;
let valid: Uint8Array;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vqvid-codebook-hostile-'));
  const clip = syntheticVideo({ kind: 'bouncing', width: 16, height: 16, frames: 2, seed: 3 });
  const codec = await PatchCodec.fit(clip, { k: 4, seed: 2, maxIter: 3, patch: 4, backend: 'cpu', log: () => undefined });
  const path = join(dir, 'valid.vqcb');
  await codec.save(path);
  codec.dispose();
  valid = new Uint8Array(await readFile(path));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Edit = (h: Record<string, unknown>, meta: ContainerMeta) => void;
const field = (h: Record<string, unknown>, name: string) => h[name] as Record<string, unknown>;
let n = 0;

async function errorOf(load: (path: string) => Promise<{ dispose(): void }>, edit: Edit): Promise<{ e: unknown; path: string }> {
  const path = join(dir, `edited-${n++}.vqcb`);
  await writeFile(path, editContainer(valid, (meta) => edit(meta.header as Record<string, unknown>, meta)));
  const e = await load(path).then((x) => (x.dispose(), null), (err: unknown) => err);
  return { e, path };
}

const cases: [string, Edit, RegExp][] = [
  ['format "toString"', (h) => void (h.format = 'toString'), /header\.format: expected one of "vqvid-quantizer"/],
  ['version 2', (h) => void (h.version = 2), /header\.version/],
  ['null options', (h) => void (h.options = null), /header\.options: expected an object, got null/],
  ['options that are a list', (h) => void (h.options = [4]), /header\.options/],
  ['options.k "toString"', (h) => void (field(h, 'options').k = 'toString'), /header\.options\.k: expected an integer/],
  ['options.init "constructor"', (h) => void (field(h, 'options').init = 'constructor'), /header\.options\.init/],
  ['options.k -1', (h) => void (field(h, 'options').k = -1), /k/],
  ['a k of -1', (h) => void (h.k = -1), /header\.k: expected an integer in \[1, /],
  ['a k of 1.5', (h) => void (h.k = 1.5), /header\.k/],
  ['a k that disagrees with the arrays', (h) => void ((h.k = 8), (field(h, 'options').k = 8)), /centroids: expected 128 \(k·dim\) float32 values/],
  ['a dim that disagrees with the arrays', (h) => void (h.dim = 9), /centroids/],
  ['a null meta', (h) => void (h.meta = null), /header\.meta: expected an object, got null/],
  ['a meta that is a string', (h) => void (h.meta = 'patch'), /header\.meta/],
  ['null stats', (h) => void (h.stats = null), /header\.stats: expected an object, got null/],
  ['an inertia history that is not a list', (h) => void (field(h, 'stats').inertiaHistory = { length: 1e9 }), /header\.stats\.inertiaHistory/],
  ['iterations of -3', (h) => void (field(h, 'stats').iterations = -3), /header\.stats\.iterations/],
  ['centroids stored as int32', (_h, m) => void ((m.arrays as { name: string; dtype: string }[])[0].dtype = 'int32'), /centroids/],
  ['cluster sizes stored as float32', (_h, m) => void ((m.arrays as { name: string; dtype: string }[])[1].dtype = 'float32'), /clusterSizes/],
];

describe.each([
  ['Quantizer.load', (p: string) => Quantizer.load(p, { backend: 'cpu' })],
  ['PatchCodec.load', (p: string) => PatchCodec.load(p, { backend: 'cpu' })],
])('%s on checksum-valid hostile headers', (_, load) => {
  it.each(cases)('%s is E_FORMAT naming the file', async (_name, edit, message) => {
    const { e, path } = await errorOf(load, edit);
    expect(e).toBeInstanceOf(VqvidError);
    expect((e as VqvidError).code).toBe('E_FORMAT');
    expect((e as VqvidError).message.startsWith(`${path}: `)).toBe(true);
    expect((e as VqvidError).message).toMatch(message);
  });

  it('an untouched file loads (the edit helper is faithful)', async () => {
    const { e } = await errorOf(load, () => undefined);
    expect(e).toBeNull();
  });
});

// what only a patch codebook must have: its geometry and normalisation
const patchCases: [string, Edit, RegExp][] = [
  ['a patch size "toString"', (h) => void (field(h, 'meta').patch = { size: 'toString', stride: 1 }), /patch\.size/],
  ['a patch that is a list', (h) => void (field(h, 'meta').patch = [4, 4]), /patch/],
  ['a normalization "constructor"', (h) => void (field(h, 'meta').normalization = 'constructor'), /normalization/],
  ['no patch geometry', (h) => void (h.meta = {}), /meta\.patch/],
];
it.each(patchCases)('PatchCodec.load: %s is E_FORMAT naming the file', async (_name, edit, message) => {
  const { e, path } = await errorOf((p) => PatchCodec.load(p, { backend: 'cpu' }), edit);
  expect(e).toBeInstanceOf(VqvidError);
  expect((e as VqvidError).code).toBe('E_FORMAT');
  expect((e as VqvidError).message.startsWith(`${path}: `)).toBe(true);
  expect((e as VqvidError).message).toMatch(message);
});

it('a file cannot set runtime hooks or the backend', async () => {
  const path = join(dir, 'hooks.vqcb');
  await writeFile(path, editContainer(valid, (meta) => void Object.assign(field(meta.header as Record<string, unknown>, 'options'), { log: 'x', gpu: {}, onProgress: 1, backend: 'gpu' })));
  const q = await Quantizer.load(path);
  expect(q.options.backend).toBe('auto');
  q.dispose();
});
