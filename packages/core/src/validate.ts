import { fail } from './errors';
import type { CodeGeometry, CodeVolume, Codebook, PatchGrid, Video } from './types';

/**
 * Asserts `v` is an integer in [min, max]; names `arg` in the error.
 * @example
 * ```ts
 * assertInt(opts.k, 'k', 1);
 * ```
 */
export function assertInt(v: unknown, arg: string, min = -Infinity, max = Infinity): asserts v is number {
  if (typeof v !== 'number' || !Number.isInteger(v)) fail('E_RANGE', arg, 'an integer', v);
  if (v < min || v > max) fail('E_RANGE', arg, `an integer in [${min}, ${max}]`, v);
}

/**
 * Asserts `v` is a finite number in [min, max].
 * @example
 * ```ts
 * assertNumber(opts.lr, 'lr', 0);
 * ```
 */
export function assertNumber(v: unknown, arg: string, min = -Infinity, max = Infinity): asserts v is number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail('E_RANGE', arg, 'a finite number', v);
  if (v < min || v > max) fail('E_RANGE', arg, `a number in [${min}, ${max}]`, v);
}

/**
 * Asserts every element of `a` is finite (no NaN, no Infinity).
 * @example
 * ```ts
 * assertFinite(video.data, 'video.data');
 * ```
 */
export function assertFinite(a: ArrayLike<number>, arg: string): void {
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    if (!Number.isFinite(x)) fail('E_RANGE', `${arg}[${i}]`, 'a finite number', x);
  }
}

function assertF32(a: unknown, arg: string, length: number): void {
  if (!(a instanceof Float32Array)) fail('E_DTYPE', arg, 'a Float32Array', a);
  if (a.length !== length) fail('E_SHAPE', `${arg}.length`, `${length}`, a.length);
}

function assertObject(v: unknown, arg: string, what: string): asserts v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) fail('E_SHAPE', arg, what, v);
}

/**
 * Asserts `v` is a well-formed {@link Video} (positive integer sizes, Float32Array of the right length).
 * @example
 * ```ts
 * assertVideo(video, 'video');
 * ```
 */
export function assertVideo(v: unknown, arg = 'video'): asserts v is Video {
  assertObject(v, arg, 'a Video { width, height, frames, data }');
  assertInt(v.width, `${arg}.width`, 1);
  assertInt(v.height, `${arg}.height`, 1);
  assertInt(v.frames, `${arg}.frames`, 1);
  if (v.fps !== undefined) assertNumber(v.fps, `${arg}.fps`, 0);
  assertF32(v.data, `${arg}.data`, (v.width as number) * (v.height as number) * (v.frames as number));
}

/**
 * Asserts `g` is a well-formed {@link PatchGrid}.
 * @example
 * ```ts
 * assertPatchGrid(grid, 'grid');
 * ```
 */
export function assertPatchGrid(g: unknown, arg = 'grid'): asserts g is PatchGrid {
  assertObject(g, arg, 'a PatchGrid { size, stride, rows, cols, frames, data }');
  assertInt(g.size, `${arg}.size`, 1);
  assertInt(g.stride, `${arg}.stride`, 1);
  assertInt(g.rows, `${arg}.rows`, 1);
  assertInt(g.cols, `${arg}.cols`, 1);
  assertInt(g.frames, `${arg}.frames`, 1);
  const n = (g.frames as number) * (g.rows as number) * (g.cols as number) * (g.size as number) ** 2;
  assertF32(g.data, `${arg}.data`, n);
}

/**
 * Asserts `c` is a well-formed {@link Codebook} with finite centroids.
 * @example
 * ```ts
 * assertCodebook(codebook, 'codebook');
 * ```
 */
export function assertCodebook(c: unknown, arg = 'codebook'): asserts c is Codebook {
  assertObject(c, arg, 'a Codebook { k, dim, centroids, meta }');
  assertInt(c.k, `${arg}.k`, 1);
  assertInt(c.dim, `${arg}.dim`, 1);
  assertF32(c.centroids, `${arg}.centroids`, (c.k as number) * (c.dim as number));
  assertFinite(c.centroids as Float32Array, `${arg}.centroids`);
  assertObject(c.meta, `${arg}.meta`, 'an object');
}

/**
 * Asserts `v` is a well-formed {@link CodeVolume}: every code an integer in [0, k), and, when it carries a
 * {@link CodeGeometry}, a patch of at most 256px and a frame size (sides at most 32768) whose grid is rows x cols
 * (E_SHAPE naming `geometry.width` or `geometry.height` otherwise).
 * @example
 * ```ts
 * assertCodeVolume(codes, 'codes');
 * ```
 */
export function assertCodeVolume(v: unknown, arg = 'codes'): asserts v is CodeVolume {
  assertObject(v, arg, 'a CodeVolume { rows, cols, frames, k, codes }');
  assertInt(v.rows, `${arg}.rows`, 1);
  assertInt(v.cols, `${arg}.cols`, 1);
  assertInt(v.frames, `${arg}.frames`, 1);
  assertInt(v.k, `${arg}.k`, 1);
  const codes = v.codes;
  if (!(codes instanceof Uint16Array || codes instanceof Int32Array)) {
    fail('E_DTYPE', `${arg}.codes`, 'a Uint16Array or Int32Array', codes);
  }
  const n = (v.rows as number) * (v.cols as number) * (v.frames as number);
  if (codes.length !== n) fail('E_SHAPE', `${arg}.codes.length`, `${n}`, codes.length);
  const k = v.k as number;
  for (let i = 0; i < n; i++) {
    if (codes[i] < 0 || codes[i] >= k) fail('E_RANGE', `${arg}.codes[${i}]`, `a code in [0, ${k})`, codes[i]);
  }
  if (v.geometry !== undefined) assertGeometry(v.geometry, `${arg}.geometry`, v.rows as number, v.cols as number);
}

/**
 * Largest frame side a geometry may state: the bound of the video readers (Y4M headers and resizing in
 * @vqvid/video), so a codes file never asks for frames no reader could have produced.
 */
const MAX_FRAME_SIDE = 1 << 15;
/** Largest patch side: the bound of @vqvid/patches and PatchCodec. */
const MAX_PATCH = 256;

/**
 * The side lengths (pixels) on which the 'replicate' grid has `cells` cells: [1, patch] for one cell, else
 * (patch + (cells - 2) * stride, patch + (cells - 1) * stride]. This inverts the formula of `gridShape` in
 * @vqvid/patches, cells = n <= patch ? 1 : ceil((n - patch) / stride) + 1 (core may not import it);
 * codec.test.ts checks they agree.
 */
function sidesWith(cells: number, patch: number, stride: number): [number, number] {
  return cells === 1 ? [1, patch] : [patch + (cells - 2) * stride + 1, patch + (cells - 1) * stride];
}

function assertGeometry(g: unknown, arg: string, rows: number, cols: number): asserts g is CodeGeometry {
  assertObject(g, arg, 'a CodeGeometry { patch, stride, width, height, std }');
  assertInt(g.patch, `${arg}.patch`, 1, MAX_PATCH);
  assertInt(g.stride, `${arg}.stride`, 1, g.patch as number);
  assertInt(g.width, `${arg}.width`, 1, MAX_FRAME_SIDE);
  assertInt(g.height, `${arg}.height`, 1, MAX_FRAME_SIDE);
  assertNumber(g.std, `${arg}.std`, Number.MIN_VALUE);
  if (g.codebook !== undefined && (typeof g.codebook !== 'string' || !/^[0-9a-f]{8}$/.test(g.codebook))) {
    fail('E_SHAPE', `${arg}.codebook`, 'a codebook checksum of 8 hex digits', g.codebook);
  }
  // rows and cols are what the codes array holds, so a frame size that does not fit them is the field to blame
  const { patch, stride, width, height } = g as unknown as CodeGeometry;
  const grid = `the ${rows} x ${cols} grid of ${patch}px patches at stride ${stride}`;
  const [h0, h1] = sidesWith(rows, patch, stride);
  if (height < h0 || height > h1) fail('E_SHAPE', `${arg}.height`, `${h0}..${h1} pixels (${grid})`, height);
  const [w0, w1] = sidesWith(cols, patch, stride);
  if (width < w0 || width > w1) fail('E_SHAPE', `${arg}.width`, `${w0}..${w1} pixels (${grid})`, width);
}
