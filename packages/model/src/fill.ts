import * as tf from '@tensorflow/tfjs-core';
import { assertInt } from '@vqvid/core';
import type { CodeVolume } from '@vqvid/core';
import { receptiveRadius } from './config';
import type { ModelParts } from './parts';
import { readTidy } from './read';
import { topIndices } from './sample';

/**
 * Options of {@link RCNN.fill}.
 * @example
 * ```ts
 * const opts: FillOptions = { candidates: 8, sweeps: 3 };
 * ```
 */
export interface FillOptions {
  /** M: candidate codes per cell, the top-M of p(x_t | past) (default 8). */
  candidates?: number;
  /** Maximum coordinate-ascent sweeps over the grid (default 3); stops early when a sweep changes nothing. */
  sweeps?: number;
  /**
   * n: how many consecutive frames are missing between `before` and `after` (default 1). With n > 1 the
   * sweeps visit the missing frames in order (see RCNN.fill).
   */
  missing?: number;
  /**
   * Whether each cell's candidates must include its code in the frame after (and its code in the frame before),
   * each taking the place of the cell's lowest-ranked candidate when the top M lack it (never of the most probable;
   * default false). A cell whose code changes across the gap often already has its new code in the missing frame,
   * and the next frame's term scores that candidate highly (the model predicts most codes to stay), but the
   * forward prediction alone need not rank it in its top M. Measured: a gain on vtest at both K, a loss on a clip
   * whose codes flicker (balle1), where the code after is often a flicker its centroid renders badly; see the
   * package README.
   */
  anchors?: boolean;
}

/**
 * Coordinate ascent on S(x_t) = Σ_i ln p(x_t,i | past) + Σ_j ln p(x_{t+1},j | past, x_t).
 * Changing cell i moves h_t, hence p(x_{t+1},j), only for |j - i|∞ <= radius (the receptive radius, at least 1
 * with a spatial prior, whose context is the 4 neighbours' codes); cells on a lattice of step
 * 2*radius+1 touch disjoint sets of j, so one colour of the lattice is updated exactly at once: the M
 * candidate frames (colour cells set to candidate m) go through one batched recurrent step, and each colour
 * cell takes the candidate maximising its own term plus the next-frame terms of its neighbourhood.
 * With motion inputs, a candidate frame's motion channels are computed from the candidate itself and the known
 * frames before it (the history `hPrev` carries), as a forward pass over past + candidate computes them; a
 * cell's channel depends on its own code only, so the locality above and S stay exact.
 */
export function fillFrame(
  model: ModelParts,
  hPrev: tf.Tensor2D,
  present: ArrayLike<number>,
  rows: number,
  cols: number,
  next: ArrayLike<number>,
  opts: FillOptions = {},
  withScores = false,
  init?: ArrayLike<number>,
): FilledFrame {
  const k = model.config.k;
  const m = opts.candidates ?? Math.min(8, k);
  const sweeps = opts.sweeps ?? 3;
  assertInt(m, 'candidates', 1, k);
  assertInt(sweeps, 'sweeps', 0, 1000);
  const n = rows * cols;
  const lpAll = readTidy(() => model.output.logProbsAll(hPrev, model.presentTensor(present, rows, cols)));
  const cand = new Int32Array(n * m);
  for (let i = 0; i < n; i++) cand.set(topIndices(lpAll, i, k, m), i * m);
  if (opts.anchors ?? false) for (let i = 0; i < n; i++) anchorCandidates(cand, i * m, m, next[i], present[i]);
  // start from `init` where it is one of the cell's candidates, else from the most probable candidate
  const frame = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    frame[i] = cand[i * m];
    if (init) for (let j = 0; j < m; j++) if (cand[i * m + j] === init[i]) frame[i] = init[i];
  }
  // a spatial prior reads the 4 neighbours' present codes: a cell's code reaches the next frame's terms within 1
  const radius = Math.max(receptiveRadius(model.config), model.presentWidth > 1 ? 1 : 0);
  const stride = 2 * radius + 1;
  const targets = tf.tensor1d(Int32Array.from({ length: m * n }, (_, i) => next[i % n]), 'int32');
  const hTiled = model.tileState(hPrev, m);
  const scores = new Float32Array(n * m);
  const sweep = (commit: boolean) => {
    let changed = 0;
    for (let gr = 0; gr < Math.min(stride, rows); gr++) {
      for (let gc = 0; gc < Math.min(stride, cols); gc++) {
        changed += updateColour(model, { hTiled, targets, lpAll, cand, frame, scores, commit, m, rows, cols, gr, gc, stride, radius });
      }
    }
    return changed;
  };
  try {
    let changed = 1;
    for (let s = 0; s < sweeps && changed > 0; s++) changed = sweep(true);
    // the candidates' scores must all be taken at the final frame: a scoring-only pass when the last sweep moved
    if (withScores && (changed > 0 || sweeps === 0)) sweep(false);
  } finally {
    targets.dispose();
    hTiled.dispose();
  }
  return { codes: { rows, cols, frames: 1, k, codes: frame }, candidates: cand, scores, m };
}

/**
 * A gap of n ≥ 1 missing frames after the state `h0` (after the known frames; `present0` their last codes) and
 * before the known frame `after`: starts from the model's argmax roll-out, then each sweep visits the missing
 * frames in order and runs one {@link fillFrame} sweep on frame j with every other frame fixed, scoring
 * ln p(x_j | h_{j−1}) + ln p(x_{j+1} | h_j) (x_{n+1} = after). Influence of x_j on frames after j+1 through the
 * recurrent state is not scored (exact for n = 1). With `withScores`, a last pass records every frame's
 * candidate scores at the final frames before and after it (frame j is scored with frames 1..j−1 final).
 * Stops early after a sweep that changes nothing.
 * `h0` is not disposed.
 */
export function fillGap(
  model: ModelParts,
  h0: tf.Tensor2D,
  present0: ArrayLike<number>,
  rows: number,
  cols: number,
  after: ArrayLike<number>,
  opts: FillOptions = {},
  withScores = false,
): FilledFrame[] {
  const missing = opts.missing ?? 1;
  assertInt(missing, 'missing', 1, 1000);
  if (missing === 1) return [fillFrame(model, h0, present0, rows, cols, after, opts, withScores)];
  const sweeps = opts.sweeps ?? 3;
  assertInt(sweeps, 'sweeps', 0, 1000);
  const k = model.config.k;
  const n = rows * cols;
  // states[j] = h after frame j of the gap (states[0] = h0, owned by the caller)
  const states: tf.Tensor2D[] = [h0];
  const frames: Int32Array[] = [];
  const presentOf = (j: number): ArrayLike<number> => (j === 0 ? present0 : frames[j - 1]);
  try {
    for (let j = 0; j < missing; j++) {
      const lp = model.nextLogProbs(states[j], presentOf(j), rows, cols, false);
      const x = new Int32Array(n);
      for (let i = 0; i < n; i++) x[i] = topIndices(lp, i, k, 1)[0];
      frames.push(x);
      if (j < missing - 1) states.push(model.step(states[j], x, rows, cols, false));
    }
    const pass = (scores: boolean): FilledFrame[] => {
      const found: FilledFrame[] = [];
      for (let j = 0; j < missing; j++) {
        const next = j < missing - 1 ? frames[j + 1] : after;
        const f = fillFrame(model, states[j], presentOf(j), rows, cols, next, { candidates: opts.candidates, anchors: opts.anchors, sweeps: scores ? 0 : 1 }, scores, frames[j]);
        frames[j] = f.codes.codes as Int32Array;
        found.push(f);
        if (j < missing - 1) {
          states[j + 1]?.dispose();
          states[j + 1] = model.step(states[j], frames[j], rows, cols, false);
        }
      }
      return found;
    };
    let found: FilledFrame[] = [];
    for (let s = 0; s < sweeps; s++) {
      const was = frames.map((x) => x.slice());
      found = pass(false);
      if (frames.every((x, j) => x.every((c, i) => c === was[j][i]))) break; // a sweep that changed nothing
    }
    if (withScores || sweeps === 0) found = pass(true);
    return found;
  } finally {
    for (let j = 1; j < states.length; j++) states[j].dispose();
  }
}

/**
 * What {@link fillFrame} found: the filled codes, and per cell its M candidates with their scores S (in
 * nats, each with every other cell at its filled code), from which a posterior over candidates follows.
 */
export interface FilledFrame {
  codes: CodeVolume;
  /** [cells, m] candidate codes per cell. */
  candidates: Int32Array;
  /** [cells, m] ln p(x_t,i = candidate | past) + Σ_j ln p(x_{t+1},j | past, x_t), at the final frame when asked for (else as last computed). */
  scores: Float32Array;
  m: number;
}

/**
 * Per-cell posterior over each cell's candidates, softmax of their scores, as a [cells, k] probability
 * array (zero outside the candidates): p(x_t,i = c | past, x_{t+1}, other cells as filled).
 */
export function candidatePosterior(f: FilledFrame, k: number): Float32Array {
  const n = f.candidates.length / f.m;
  const probs = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let j = 0; j < f.m; j++) max = Math.max(max, f.scores[i * f.m + j]);
    let z = 0;
    for (let j = 0; j < f.m; j++) z += Math.exp(f.scores[i * f.m + j] - max);
    for (let j = 0; j < f.m; j++) probs[i * k + f.candidates[i * f.m + j]] += Math.exp(f.scores[i * f.m + j] - max) / z;
  }
  return probs;
}

/**
 * Puts `after` and then `before` among the m candidates at cand[at .. at + m) when missing, each into the last
 * slot that holds neither anchor (slot 0, the most probable code, is never replaced); an anchor already among
 * the candidates stays where it is.
 */
export function anchorCandidates(cand: Int32Array, at: number, m: number, after: number, before: number): void {
  const kept: number[] = [];
  for (const code of [after, before]) {
    let pos = -1;
    for (let j = 0; j < m; j++) if (cand[at + j] === code) pos = j;
    if (pos < 0) {
      pos = m - 1;
      while (pos >= 1 && kept.includes(pos)) pos--;
      if (pos < 1) return;
      cand[at + pos] = code;
    }
    kept.push(pos);
  }
}

interface ColourArgs {
  hTiled: tf.Tensor2D;
  targets: tf.Tensor1D;
  lpAll: Float32Array;
  cand: Int32Array;
  frame: Int32Array;
  scores: Float32Array;
  /** Whether cells take their best candidate (false: only record the scores). */
  commit: boolean;
  m: number;
  rows: number;
  cols: number;
  gr: number;
  gc: number;
  stride: number;
  radius: number;
}

/** Best candidate for every cell of one colour, all at once (scores recorded); returns how many cells changed. */
function updateColour(model: ModelParts, a: ColourArgs): number {
  const { m, rows, cols, cand, frame, radius } = a;
  const n = rows * cols;
  const cells: number[] = [];
  for (let r = a.gr; r < rows; r += a.stride) for (let c = a.gc; c < cols; c += a.stride) cells.push(r * cols + c);
  const frames = new Int32Array(m * n);
  for (let j = 0; j < m; j++) {
    frames.set(frame, j * n);
    for (const i of cells) frames[j * n + i] = cand[i * m + j];
  }
  const h = model.step(a.hTiled, frames, rows, cols, false);
  // with direct connections the next frame's terms also see each cell's own candidate code
  const lpNext = readTidy(() => model.output.logProb(h, a.targets, model.presentTensor(frames, rows, cols)));
  h.dispose();
  let changed = 0;
  for (const i of cells) {
    const r0 = Math.floor(i / cols);
    const c0 = i % cols;
    let bestJ = 0;
    let bestScore = -Infinity;
    for (let j = 0; j < m; j++) {
      let score = a.lpAll[i * model.config.k + cand[i * m + j]];
      for (let r = Math.max(0, r0 - radius); r <= Math.min(rows - 1, r0 + radius); r++) {
        for (let c = Math.max(0, c0 - radius); c <= Math.min(cols - 1, c0 + radius); c++) score += lpNext[j * n + r * cols + c];
      }
      a.scores[i * m + j] = score;
      if (score > bestScore) [bestScore, bestJ] = [score, j];
    }
    if (a.commit && frame[i] !== cand[i * m + bestJ]) {
      frame[i] = cand[i * m + bestJ];
      changed++;
    }
  }
  return changed;
}
