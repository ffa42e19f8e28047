import { Rng, assertInt, assertNumber, fail } from '@vqvid/core';
import type { Video } from '@vqvid/core';

/** Options of {@link syntheticVideo}. */
export interface SyntheticVideoOptions {
  /** 'bouncing' textured shapes, a sub-pixel 'pan' over a natural-like texture, or one shape that 'translate's by `step`. */
  kind: 'bouncing' | 'pan' | 'translate';
  /** Frame width in pixels. */
  width: number;
  /** Frame height in pixels. */
  height: number;
  /** Number of frames. */
  frames: number;
  /** Every random choice derives from this. Default 0. */
  seed?: number;
  /** Stored as video.fps. Default 25. */
  fps?: number;
  /** bouncing: number of shapes. Default 3. */
  shapes?: number;
  /** pan: camera velocity in pixels per frame [vx, vy]; default a random direction at 0.75..1.75 px/frame. */
  velocity?: [number, number];
  /** translate: pixels moved per frame (exact, wrapping around). Default 8. */
  step?: number;
  /** translate: side of the square shape in pixels. Default 2*step (at least 1), clamped to the frame. */
  size?: number;
  /** translate: direction of motion. Default 'right'. */
  direction?: 'right' | 'left' | 'down' | 'up';
}

/**
 * Smooth value noise: random values on a grid of `cell`-pixel spacing, interpolated with smoothstep.
 * Summing octaves with amplitude proportional to cell size gives a 1/f-like spectrum.
 */
function addValueNoise(out: Float32Array, w: number, h: number, cell: number, amp: number, rng: Rng): void {
  const gw = Math.ceil(w / cell) + 2;
  const gh = Math.ceil(h / cell) + 2;
  const grid = new Float32Array(gw * gh);
  for (let i = 0; i < grid.length; i++) grid[i] = rng.next() * 2 - 1;
  const sx = new Float32Array(w);
  const ix = new Int32Array(w);
  for (let x = 0; x < w; x++) {
    const g = x / cell;
    ix[x] = Math.floor(g);
    const f = g - ix[x];
    sx[x] = f * f * (3 - 2 * f);
  }
  for (let y = 0; y < h; y++) {
    const g = y / cell;
    const iy = Math.floor(g);
    const f = g - iy;
    const ty = f * f * (3 - 2 * f);
    const r0 = iy * gw;
    const r1 = r0 + gw;
    for (let x = 0; x < w; x++) {
      const a = grid[r0 + ix[x]] + sx[x] * (grid[r0 + ix[x] + 1] - grid[r0 + ix[x]]);
      const b = grid[r1 + ix[x]] + sx[x] * (grid[r1 + ix[x] + 1] - grid[r1 + ix[x]]);
      out[y * w + x] += amp * (a + ty * (b - a));
    }
  }
}

/** A w x h natural-like texture (octaves of value noise, amplitude ∝ scale), rescaled to [lo, hi]. */
function naturalTexture(w: number, h: number, rng: Rng, cells: number[], lo: number, hi: number): Float32Array {
  const t = new Float32Array(w * h);
  for (const c of cells) addValueNoise(t, w, h, c, c, rng);
  let min = Infinity;
  let max = -Infinity;
  for (const v of t) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const k = max > min ? (hi - lo) / (max - min) : 0;
  for (let i = 0; i < t.length; i++) t[i] = lo + (t[i] - min) * k;
  return t;
}

interface Shape {
  disc: boolean;
  w: number;
  h: number;
  x: number;
  y: number;
  vx: number;
  vy: number;
  /** Own texture, w*h, moving with the shape. */
  tex: Float32Array;
}

function shapeTexture(w: number, h: number, rng: Rng, disc: boolean): Float32Array {
  // Bright or dark so shapes stand out from the mid-gray background; base ± amp stays inside 0..255.
  const base = rng.next() < 0.5 ? 150 + rng.next() * 60 : 45 + rng.next() * 40;
  const amp = 15 + rng.next() * 25;
  const tex = new Float32Array(w * h);
  const angle = rng.next() * Math.PI;
  const period = 3 + rng.next() * 5;
  const cell = 2 + rng.int(3);
  for (let v = 0; v < h; v++) {
    for (let u = 0; u < w; u++) {
      const wave = disc
        ? Math.sin((2 * Math.PI * (u * Math.cos(angle) + v * Math.sin(angle))) / period)
        : ((Math.floor(u / cell) + Math.floor(v / cell)) & 1) * 2 - 1;
      tex[v * w + u] = base + amp * wave;
    }
  }
  return tex;
}

function makeShape(width: number, height: number, rng: Rng): Shape {
  const lo = Math.max(3, Math.floor(Math.min(width, height) / 8));
  const hi = Math.max(lo, Math.floor(Math.min(width, height) / 4));
  const disc = rng.next() < 0.5;
  const w = Math.min(width, lo + rng.int(hi - lo + 1));
  const h = disc ? w : Math.min(height, lo + rng.int(hi - lo + 1));
  const speed = 0.7 + rng.next() * 1.5;
  const a = rng.next() * 2 * Math.PI;
  return {
    disc, w, h: Math.min(h, height),
    x: rng.next() * Math.max(0, width - w),
    y: rng.next() * Math.max(0, height - h),
    vx: speed * Math.cos(a),
    vy: speed * Math.sin(a),
    tex: shapeTexture(w, h, rng, disc),
  };
}

/** Reflects a coordinate off the walls [0, room]. */
function bounce(p: number, v: number, room: number): [number, number] {
  if (room <= 0) return [0, v];
  if (p < 0) return [Math.min(room, -p), -v];
  if (p > room) return [Math.max(0, 2 * room - p), -v];
  return [p, v];
}

function drawShape(frame: Float32Array, width: number, height: number, s: Shape): void {
  const x0 = Math.round(s.x);
  const y0 = Math.round(s.y);
  const r = s.w / 2;
  for (let v = 0; v < s.h; v++) {
    const y = y0 + v;
    if (y < 0 || y >= height) continue;
    for (let u = 0; u < s.w; u++) {
      const x = x0 + u;
      if (x < 0 || x >= width) continue;
      if (s.disc && (u + 0.5 - r) ** 2 + (v + 0.5 - r) ** 2 > r * r) continue;
      frame[y * width + x] = s.tex[v * s.w + u];
    }
  }
}

function bouncing(o: Required<Pick<SyntheticVideoOptions, 'width' | 'height' | 'frames' | 'shapes'>>, rng: Rng): Float32Array {
  const { width, height, frames } = o;
  const n = width * height;
  const background = naturalTexture(width, height, rng, [16, 8, 4], 60, 130);
  const shapes = Array.from({ length: o.shapes }, () => makeShape(width, height, rng));
  const data = new Float32Array(n * frames);
  for (let t = 0; t < frames; t++) {
    const frame = data.subarray(t * n, (t + 1) * n);
    frame.set(background);
    for (const s of shapes) {
      drawShape(frame, width, height, s);
      [s.x, s.vx] = bounce(s.x + s.vx, s.vx, width - s.w);
      [s.y, s.vy] = bounce(s.y + s.vy, s.vy, height - s.h);
    }
  }
  return data;
}

function pan(o: { width: number; height: number; frames: number; velocity?: [number, number] }, rng: Rng): Float32Array {
  const { width, height, frames } = o;
  let v = o.velocity;
  if (!v) {
    const a = rng.next() * 2 * Math.PI;
    const speed = 0.75 + rng.next();
    v = [speed * Math.cos(a), speed * Math.sin(a)];
  }
  const [vx, vy] = v;
  // Camera offsets span [min(0, vx*(T-1)), max(0, vx*(T-1))]; shift so texture coordinates start at 0.
  const spanX = Math.abs(vx) * (frames - 1);
  const spanY = Math.abs(vy) * (frames - 1);
  const tw = width + Math.ceil(spanX) + 2;
  const th = height + Math.ceil(spanY) + 2;
  const tex = naturalTexture(tw, th, rng, [32, 16, 8, 4, 2], 10, 245);
  const data = new Float32Array(width * height * frames);
  for (let t = 0; t < frames; t++) {
    const ox = t * vx + (vx < 0 ? spanX : 0);
    const oy = t * vy + (vy < 0 ? spanY : 0);
    const ix = Math.floor(ox);
    const iy = Math.floor(oy);
    const fx = ox - ix;
    const fy = oy - iy;
    let k = t * width * height;
    for (let y = 0; y < height; y++) {
      const r0 = (y + iy) * tw + ix;
      const r1 = r0 + tw;
      for (let x = 0; x < width; x++, k++) {
        const a = tex[r0 + x] + fx * (tex[r0 + x + 1] - tex[r0 + x]);
        const b = tex[r1 + x] + fx * (tex[r1 + x + 1] - tex[r1 + x]);
        data[k] = a + fy * (b - a);
      }
    }
  }
  return data;
}

const DIRECTIONS = { right: [1, 0], left: [-1, 0], down: [0, 1], up: [0, -1] } as const;

function translate(o: { width: number; height: number; frames: number; step: number; size: number; direction: keyof typeof DIRECTIONS }, rng: Rng): Float32Array {
  const { width, height, frames, step, size } = o;
  const n = width * height;
  const tex = new Float32Array(size * size);
  for (let i = 0; i < tex.length; i++) tex[i] = 128 + rng.int(128);
  // Start on the step grid so, with patches of side `step`, the shape fills whole patches.
  const cell = Math.max(1, step);
  const x0 = cell * rng.int(Math.max(1, Math.floor((width - size) / cell) + 1));
  const y0 = cell * rng.int(Math.max(1, Math.floor((height - size) / cell) + 1));
  const [dx, dy] = DIRECTIONS[o.direction];
  const data = new Float32Array(n * frames).fill(32);
  for (let t = 0; t < frames; t++) {
    for (let v = 0; v < size; v++) {
      const y = (((y0 + v + dy * step * t) % height) + height) % height;
      for (let u = 0; u < size; u++) {
        const x = (((x0 + u + dx * step * t) % width) + width) % width;
        data[t * n + y * width + x] = tex[v * size + u];
      }
    }
  }
  return data;
}

/**
 * A deterministic synthetic gray clip (values 0..255), the project's embedded default input:
 * - 'bouncing': a few textured discs/rectangles with constant velocities bouncing off the walls and
 *   occluding each other over a textured background;
 * - 'pan': a camera panning with sub-pixel velocity (bilinear sampling) over a 1/f-like value-noise texture;
 * - 'translate': one randomly textured square moving exactly `step` pixels per frame (wrapping) over a flat
 *   background of 32, starting on the step grid.
 * @example
 * ```ts
 * const clip = syntheticVideo({ kind: 'bouncing', width: 64, height: 64, frames: 20, seed: 1 });
 * const moving = syntheticVideo({ kind: 'translate', width: 64, height: 32, frames: 8, step: 8 });
 * ```
 */
export function syntheticVideo(opts: SyntheticVideoOptions): Video {
  if (typeof opts !== 'object' || opts === null) fail('E_SHAPE', 'opts', 'an options object', opts);
  const { kind, width, height, frames } = opts;
  assertInt(width, 'width', 1, 1 << 14);
  assertInt(height, 'height', 1, 1 << 14);
  assertInt(frames, 'frames', 1, 1 << 20);
  const seed = opts.seed ?? 0;
  const fps = opts.fps ?? 25;
  assertNumber(fps, 'fps', 1e-3);
  const rng = new Rng(seed);
  let data: Float32Array;
  if (kind === 'bouncing') {
    const shapes = opts.shapes ?? 3;
    assertInt(shapes, 'shapes', 0, 1000);
    data = bouncing({ width, height, frames, shapes }, rng);
  } else if (kind === 'pan') {
    if (opts.velocity !== undefined) {
      if (!Array.isArray(opts.velocity) || opts.velocity.length !== 2) fail('E_SHAPE', 'velocity', '[vx, vy]', opts.velocity);
      opts.velocity.forEach((c, i) => assertNumber(c, `velocity[${i}]`, -1000, 1000));
    }
    data = pan({ width, height, frames, velocity: opts.velocity }, rng);
  } else if (kind === 'translate') {
    const step = opts.step ?? 8;
    assertInt(step, 'step', 0, 1 << 14);
    const size = opts.size ?? Math.min(width, height, Math.max(1, 2 * step));
    assertInt(size, 'size', 1, Math.min(width, height));
    const direction = opts.direction ?? 'right';
    if (!(direction in DIRECTIONS)) fail('E_RANGE', 'direction', "'right', 'left', 'down' or 'up'", direction);
    data = translate({ width, height, frames, step, size, direction }, rng);
  } else {
    fail('E_RANGE', 'kind', "'bouncing', 'pan' or 'translate'", kind);
  }
  return { width, height, frames, fps, data };
}
