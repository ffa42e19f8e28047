import { assertInt, assertVideo, fail, Rng, type Video } from '@vqvid/core';
import { copyPatch } from './extract';
import { gridShape, resolvePatchOptions, type PatchOptions, type ResolvedPatchOptions } from './grid';

/** A set of patch vectors: `count` rows of `dim` = size*size values; what `Quantizer.fit` takes. */
export interface PatchSample {
  /** Patch side in pixels. */
  size: number;
  /** Values per patch vector: size * size. */
  dim: number;
  /** Number of patches drawn (at most the `count` asked for, fewer when the videos hold fewer patches). */
  count: number;
  /** Patch vectors, [count*dim] row-major: patch i is `data[i*dim .. (i+1)*dim)`, row-major inside the patch. */
  data: Float32Array;
}

/** Options of {@link samplePatches} and {@link PatchReservoir}. */
export interface SampleOptions extends PatchOptions {
  /** How many patches to draw (without replacement where there are enough). */
  count: number;
  /** Seed of the draw. */
  seed: number;
}

/**
 * Uniform sample of patch positions from frames that arrive one by one (reservoir sampling, Algorithm R):
 * memory stays at `count` patches however long the stream, and the result is the same for the same seed
 * and frame sequence.
 * @example
 * ```ts
 * const res = new PatchReservoir({ count: 100000, seed: 1, size: 8 });
 * for await (const frame of streamVideo('clip.avi')) res.add({ ...frame, frames: 1 });
 * const sample = res.result();
 * ```
 */
export class PatchReservoir {
  private readonly opts: ResolvedPatchOptions;
  private readonly count: number;
  private readonly rng: Rng;
  private readonly data: Float32Array;
  private seen = 0;

  /**
   * Creates an empty reservoir holding at most `opts.count` patches of `opts.size`² values, drawn with `opts.seed`.
   * @param opts sample size, seed and patch grid (size, stride, edge) used for every added frame.
   */
  constructor(opts: SampleOptions) {
    assertInt(opts.count, 'count', 1);
    this.opts = resolvePatchOptions(opts);
    this.count = opts.count;
    this.rng = new Rng(opts.seed);
    this.data = new Float32Array(opts.count * this.opts.size ** 2);
  }

  /** Offers every patch position of every frame of `video` to the reservoir. */
  add(video: Video): void {
    assertVideo(video, 'video');
    const { size, stride, edge } = this.opts;
    const { rows, cols } = gridShape(video.width, video.height, this.opts);
    const dim = size * size;
    for (let t = 0; t < video.frames; t++) {
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const slot = this.seen < this.count ? this.seen : this.rng.int(this.seen + 1);
          this.seen++;
          if (slot < this.count) copyPatch(video, t, r * stride, c * stride, size, edge, this.data, slot * dim);
        }
      }
    }
  }

  /** The sample so far (fewer than `count` rows when fewer patches were seen). */
  result(): PatchSample {
    const n = Math.min(this.seen, this.count);
    if (n === 0) fail('E_STATE', 'PatchReservoir', 'at least one frame added', 0);
    const dim = this.opts.size ** 2;
    return { size: this.opts.size, dim, count: n, data: this.data.slice(0, n * dim) };
  }
}

/**
 * Draws `count` patches uniformly (without replacement) from the patch grids of one or more videos, copying only
 * the drawn patches, so no full PatchGrid is ever built.
 * @example
 * ```ts
 * const sample = samplePatches([videoA, videoB], { count: 50000, seed: 7, size: 8, stride: 4 });
 * await quantizer.fit(sample);
 * ```
 */
export function samplePatches(videos: Video | Video[], opts: SampleOptions): PatchSample {
  const list = Array.isArray(videos) ? videos : [videos];
  if (list.length === 0) fail('E_SHAPE', 'videos', 'at least one video', list);
  list.forEach((v, i) => assertVideo(v, `videos[${i}]`));
  assertInt(opts.count, 'count', 1);
  const po = resolvePatchOptions(opts);
  const sizes = list.map((v) => {
    const { rows, cols } = gridShape(v.width, v.height, po);
    return { rows, cols, total: rows * cols * v.frames };
  });
  const total = sizes.reduce((s, x) => s + x.total, 0);
  const n = Math.min(opts.count, total);
  const rng = new Rng(opts.seed);
  const picks = pickDistinct(total, n, rng);
  const dim = po.size ** 2;
  const data = new Float32Array(n * dim);
  picks.forEach((flat, i) => {
    let v = 0;
    while (flat >= sizes[v].total) flat -= sizes[v++].total;
    const { rows, cols } = sizes[v];
    const t = Math.floor(flat / (rows * cols));
    const r = Math.floor(flat / cols) % rows;
    const c = flat % cols;
    copyPatch(list[v], t, r * po.stride, c * po.stride, po.size, po.edge, data, i * dim);
  });
  return { size: po.size, dim, count: n, data };
}

/** n distinct integers from [0, total), sorted: Floyd's algorithm for sparse draws, a partial shuffle for dense ones. */
function pickDistinct(total: number, n: number, rng: Rng): Float64Array {
  let out: Float64Array;
  if (n * 4 > total) {
    const all = new Float64Array(total);
    for (let i = 0; i < total; i++) all[i] = i;
    for (let i = 0; i < n; i++) {
      const j = i + rng.int(total - i);
      const tmp = all[i]; all[i] = all[j]; all[j] = tmp;
    }
    out = all.slice(0, n);
  } else {
    const chosen = new Set<number>();
    for (let j = total - n; j < total; j++) {
      const t = rng.int(j + 1);
      chosen.add(chosen.has(t) ? j : t);
    }
    out = Float64Array.from(chosen);
  }
  return out.sort();
}
