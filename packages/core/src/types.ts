/**
 * A gray-scale video: `frames` frames of `height` x `width` pixels, frame-major then row-major.
 * Pixel values are 0..255 as read, or in standard-deviation units after `normalize`.
 */
export interface Video {
  width: number;
  height: number;
  frames: number;
  fps?: number;
  /** length = frames * height * width; index = (t * height + y) * width + x. */
  data: Float32Array;
}

/**
 * Patches cut on a regular grid: one `size*size` vector per (frame, row, col) cell.
 * Cell (t, r, c) covers pixels y in [r*stride, r*stride+size), x in [c*stride, c*stride+size).
 */
export interface PatchGrid {
  size: number;
  stride: number;
  rows: number;
  cols: number;
  frames: number;
  /** length = frames * rows * cols * size * size; patch vectors are row-major inside a patch. */
  data: Float32Array;
}

/** k centroids of dimension `dim`, centroid j at `centroids[j*dim .. (j+1)*dim)`. */
export interface Codebook {
  k: number;
  dim: number;
  centroids: Float32Array;
  /** Free-form, JSON-serialisable provenance: patch size, stride, normalisation, inertia, seed... */
  meta: Record<string, unknown>;
}

/** Integer codes in [0, k) on a rows x cols grid per frame, frame-major then row-major. */
export interface CodeVolume {
  rows: number;
  cols: number;
  frames: number;
  k: number;
  codes: Uint16Array | Int32Array;
}

/** One report of long-running work; `fraction` is in [0, 1] when known. */
export interface ProgressEvent {
  /** What is running: 'fit', 'encode', 'train', 'read', ... */
  stage: string;
  /** Units done and total (iterations, frames, batches...). */
  done: number;
  total?: number;
  fraction?: number;
  /** Stage-specific numbers, e.g. { loss, bitsPerCode, inertia, epoch }. */
  metrics?: Record<string, number>;
  message?: string;
}

/** The progress callback every long operation accepts as `onProgress`. */
export type OnProgress = (event: ProgressEvent) => void;
