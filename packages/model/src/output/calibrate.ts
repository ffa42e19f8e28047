import { assertInt, fail } from '@vqvid/core';

/**
 * What {@link fitGateOffsets} found: the offsets to add to the gate biases and the mean negative log-likelihood
 * (nats per cell) of the cells before and after.
 * @example
 * ```ts
 * const { offsets, nllBefore, nllAfter }: GateOffsets = fitGateOffsets(logits, comps, 3);
 * ```
 */
export interface GateOffsets {
  /** One offset per component, the first (the network's) 0: the gate's softmax is unchanged by a common shift. */
  offsets: Float64Array;
  /** Mean nll of the cells with the gates as they were, nats per cell. */
  nllBefore: number;
  /** Mean nll with the offsets added (≤ nllBefore). */
  nllAfter: number;
  /** Newton steps taken. */
  iterations: number;
}

/** Largest |offset| {@link fitGateOffsets} returns: a component the held-out cells never use is turned down, not off. */
export const MAX_GATE_OFFSET = 8;

/**
 * Cell i's log-likelihood under the mixture with gate logits `logits` (+ `delta`) and component log-likelihoods
 * `comps` (both [cells, m] row-major): ln Σ_j softmax(logits_i + delta)_j · exp(comps_ij), computed with both sums
 * shifted by their maxima. Writes the mixture weights into `pi` and the posterior responsibilities into `r` (m each).
 */
export function cellMixture(logits: ArrayLike<number>, comps: ArrayLike<number>, i: number, m: number, delta: ArrayLike<number>, pi: Float64Array, r: Float64Array): number {
  let ma = -Infinity;
  let mb = -Infinity;
  for (let j = 0; j < m; j++) {
    const a = logits[i * m + j] + delta[j];
    ma = Math.max(ma, a);
    mb = Math.max(mb, a + comps[i * m + j]);
  }
  let sa = 0;
  let sb = 0;
  for (let j = 0; j < m; j++) {
    const a = logits[i * m + j] + delta[j];
    pi[j] = Math.exp(a - ma);
    r[j] = Math.exp(a + comps[i * m + j] - mb);
    sa += pi[j];
    sb += r[j];
  }
  for (let j = 0; j < m; j++) {
    pi[j] /= sa;
    r[j] /= sb;
  }
  return mb + Math.log(sb) - ma - Math.log(sa);
}

/**
 * Mean nll of the cells under the mixture with gate logits a_ij + δ_j: −mean_i [ln Σ_j e^(a_ij + δ_j + l_ij) −
 * ln Σ_j e^(a_ij + δ_j)], and its gradient and Hessian in δ_1.. (δ_0 = 0): with π_ij the gate weights and r_ij the
 * posterior responsibilities of cell i, ∂/∂δ_j = mean_i (π_ij − r_ij) and ∂²/∂δ_j∂δ_k = mean_i [π_ij([j = k] − π_ik) −
 * r_ij([j = k] − r_ik)].
 */
export function gateOffsetObjective(logits: ArrayLike<number>, comps: ArrayLike<number>, m: number, delta: ArrayLike<number>): { nll: number; grad: Float64Array; hess: Float64Array } {
  // three components (the copy-aware output's network, copy and prior): the same arithmetic in the same order as
  // the general loop, unrolled, so the result is bit for bit the same, about twice as fast
  return objectiveMeans(logits, comps, m, delta, m === 3 ? objective3 : objectiveAny);
}

/** {@link gateOffsetObjective} through the general loop at every m (never the unrolled one). Exported for tests (not from the package). */
export function gateOffsetObjectiveLoop(logits: ArrayLike<number>, comps: ArrayLike<number>, m: number, delta: ArrayLike<number>): { nll: number; grad: Float64Array; hess: Float64Array } {
  return objectiveMeans(logits, comps, m, delta, objectiveAny);
}

/** Sums over a frame's cells: −Σ ln-likelihood returned, Σ gradient and Hessian added into grad and hess. */
type ObjectiveSums = (logits: ArrayLike<number>, comps: ArrayLike<number>, m: number, delta: ArrayLike<number>, n: number, grad: Float64Array, hess: Float64Array) => number;

/** The objective's means over the n cells from `sums`. */
function objectiveMeans(logits: ArrayLike<number>, comps: ArrayLike<number>, m: number, delta: ArrayLike<number>, sums: ObjectiveSums): { nll: number; grad: Float64Array; hess: Float64Array } {
  const n = logits.length / m;
  const grad = new Float64Array(m);
  const hess = new Float64Array(m * m);
  const nll = sums(logits, comps, m, delta, n, grad, hess);
  for (let j = 0; j < m; j++) grad[j] /= n;
  for (let j = 0; j < m * m; j++) hess[j] /= n;
  return { nll: nll / n, grad, hess };
}

/** The sums of {@link gateOffsetObjective} over its n cells, any m: −Σ ln-likelihood returned, Σ gradient and Hessian added into grad, hess. */
function objectiveAny(logits: ArrayLike<number>, comps: ArrayLike<number>, m: number, delta: ArrayLike<number>, n: number, grad: Float64Array, hess: Float64Array): number {
  const pi = new Float64Array(m);
  const r = new Float64Array(m);
  let nll = 0;
  for (let i = 0; i < n; i++) {
    nll -= cellMixture(logits, comps, i, m, delta, pi, r);
    for (let j = 0; j < m; j++) {
      grad[j] += pi[j] - r[j];
      for (let k = 0; k < m; k++) hess[j * m + k] += pi[j] * ((j === k ? 1 : 0) - pi[k]) - r[j] * ((j === k ? 1 : 0) - r[k]);
    }
  }
  return nll;
}

/** {@link objectiveAny} at m = 3, unrolled: {@link cellMixture}'s and objectiveAny's operations in their order. */
function objective3(logits: ArrayLike<number>, comps: ArrayLike<number>, _m: number, delta: ArrayLike<number>, n: number, grad: Float64Array, hess: Float64Array): number {
  const d0 = delta[0];
  const d1 = delta[1];
  const d2 = delta[2];
  let nll = 0;
  let g0 = grad[0], g1 = grad[1], g2 = grad[2];
  let h00 = hess[0], h01 = hess[1], h02 = hess[2], h10 = hess[3], h11 = hess[4], h12 = hess[5], h20 = hess[6], h21 = hess[7], h22 = hess[8];
  for (let i = 0; i < n; i++) {
    const a0 = logits[3 * i] + d0;
    const a1 = logits[3 * i + 1] + d1;
    const a2 = logits[3 * i + 2] + d2;
    const b0 = a0 + comps[3 * i];
    const b1 = a1 + comps[3 * i + 1];
    const b2 = a2 + comps[3 * i + 2];
    const ma = Math.max(Math.max(Math.max(-Infinity, a0), a1), a2);
    const mb = Math.max(Math.max(Math.max(-Infinity, b0), b1), b2);
    let p0 = Math.exp(a0 - ma);
    const q0 = Math.exp(b0 - mb);
    let p1 = Math.exp(a1 - ma);
    const q1 = Math.exp(b1 - mb);
    let p2 = Math.exp(a2 - ma);
    const q2 = Math.exp(b2 - mb);
    const sa = 0 + p0 + p1 + p2;
    const sb = 0 + q0 + q1 + q2;
    p0 /= sa;
    p1 /= sa;
    p2 /= sa;
    const r0 = q0 / sb;
    const r1 = q1 / sb;
    const r2 = q2 / sb;
    nll -= mb + Math.log(sb) - ma - Math.log(sa);
    g0 += p0 - r0;
    h00 += p0 * (1 - p0) - r0 * (1 - r0);
    h01 += p0 * (0 - p1) - r0 * (0 - r1);
    h02 += p0 * (0 - p2) - r0 * (0 - r2);
    g1 += p1 - r1;
    h10 += p1 * (0 - p0) - r1 * (0 - r0);
    h11 += p1 * (1 - p1) - r1 * (1 - r1);
    h12 += p1 * (0 - p2) - r1 * (0 - r2);
    g2 += p2 - r2;
    h20 += p2 * (0 - p0) - r2 * (0 - r0);
    h21 += p2 * (0 - p1) - r2 * (0 - r1);
    h22 += p2 * (1 - p2) - r2 * (1 - r2);
  }
  grad[0] = g0;
  grad[1] = g1;
  grad[2] = g2;
  hess.set([h00, h01, h02, h10, h11, h12, h20, h21, h22]);
  return nll;
}

/** Solves the d x d system A x = b (Gaussian elimination with partial pivoting); null when A is singular. */
function solve(a: Float64Array, b: Float64Array, d: number): Float64Array | null {
  const A = Float64Array.from(a);
  const x = Float64Array.from(b);
  for (let c = 0; c < d; c++) {
    let p = c;
    for (let r = c + 1; r < d; r++) if (Math.abs(A[r * d + c]) > Math.abs(A[p * d + c])) p = r;
    if (!(Math.abs(A[p * d + c]) > 1e-12)) return null;
    for (let k = 0; k < d; k++) [A[c * d + k], A[p * d + k]] = [A[p * d + k], A[c * d + k]];
    [x[c], x[p]] = [x[p], x[c]];
    for (let r = c + 1; r < d; r++) {
      const f = A[r * d + c] / A[c * d + c];
      for (let k = c; k < d; k++) A[r * d + k] -= f * A[c * d + k];
      x[r] -= f * x[c];
    }
  }
  for (let c = d - 1; c >= 0; c--) {
    let s = x[c];
    for (let k = c + 1; k < d; k++) s -= A[c * d + k] * x[k];
    x[c] = s / A[c * d + c];
  }
  return x;
}

/**
 * Newton steps on the free offsets δ_1.. (δ_0 stays) of `objective` from `delta` (updated in place): a gradient step
 * where the Hessian is not positive definite; a trust region of 1 per offset and step (the objective need not be
 * convex, and a long first step can land in a worse basin at the bounds); backtracking until the objective falls;
 * within ±{@link MAX_GATE_OFFSET}; until a step moves less than 1e-6 or `maxSteps` steps. Returns the objective at
 * the end and the steps taken. Exported for tests (not from the package).
 */
export function newtonOffsets(delta: Float64Array, m: number, objective: (d: Float64Array) => { nll: number; grad: Float64Array; hess: Float64Array }, maxSteps: number): { nll: number; iterations: number } {
  const d = m - 1;
  let cur = objective(delta);
  let iterations = 0;
  for (; iterations < maxSteps; iterations++) {
    const g = cur.grad.subarray(1);
    const h = new Float64Array(d * d);
    for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) h[j * d + k] = cur.hess[(j + 1) * m + (k + 1)];
    let step = solve(h, g, d);
    if (step === null || step.reduce((s, v, j) => s + v * g[j], 0) <= 0) step = Float64Array.from(g);
    const longest = step.reduce((s, v) => Math.max(s, Math.abs(v)), 0);
    let t = Math.min(1, 1 / longest);
    let moved = false;
    for (let back = 0; back < 30; back++, t /= 2) {
      const next = Float64Array.from(delta);
      for (let j = 0; j < d; j++) next[j + 1] = Math.min(MAX_GATE_OFFSET, Math.max(-MAX_GATE_OFFSET, delta[j + 1] - t * step[j]));
      const cand = objective(next);
      if (cand.nll < cur.nll) {
        const size = next.reduce((s, v, j) => Math.max(s, Math.abs(v - delta[j])), 0);
        delta.set(next);
        cur = cand;
        moved = size >= 1e-6;
        break;
      }
    }
    if (!moved) break;
  }
  return { nll: cur.nll, iterations };
}

/**
 * Offsets δ for the gate biases of a copy-aware output that minimise the mean nll of held-out cells, given per
 * cell the gate logits a_ij = h_i·Wg + bg (`logits`, [n, m] row-major) and each component's log-likelihood of
 * the cell's true code l_ij (`comps`, [n, m]; a huge negative number where a component gives it probability
 * 0). It is the held-out estimate of interpolation weights (Jelinek and Mercer 1980) applied to a gated
 * mixture: training fits the gate on frames the counted prior has seen and on the training clip's rate of
 * change, and the held-out frames correct both. δ_0 = 0 (the network's), the others within ±{@link MAX_GATE_OFFSET}:
 * Newton steps of at most 1 per offset with a backtracking line search (a gradient step where the Hessian is not
 * positive definite), from the best point of a coarse grid (step 1 within ±4; 0 included) until the step is below 1e-6 or 100 steps. Deterministic; the nll never increases.
 * @example
 * ```ts
 * const { offsets } = fitGateOffsets(logits, comps, 3); // then add offsets to the gate biases
 * ```
 */
export function fitGateOffsets(logits: ArrayLike<number>, comps: ArrayLike<number>, m: number): GateOffsets {
  assertInt(m, 'm', 2);
  if (logits.length === 0 || logits.length % m !== 0) fail('E_SHAPE', 'logits.length', `a positive multiple of m = ${m}`, logits.length);
  if (comps.length !== logits.length) fail('E_SHAPE', 'comps.length', `${logits.length} (as logits)`, comps.length);
  const d = m - 1;
  const delta = new Float64Array(m);
  const nllBefore = gateOffsetObjective(logits, comps, m, delta).nll;
  // the objective need not be convex: start from the best point of a coarse grid (step 1 within ±4 per offset)
  let bestStart = nllBefore;
  const start = new Float64Array(m);
  const probe = new Float64Array(m);
  for (let idx = 0; idx < 9 ** d; idx++) {
    for (let j = 0, rest = idx; j < d; j++, rest = Math.floor(rest / 9)) probe[j + 1] = (rest % 9) - 4;
    const v = gateOffsetObjective(logits, comps, m, probe).nll;
    if (v < bestStart) {
      bestStart = v;
      start.set(probe);
    }
  }
  delta.set(start);
  const { nll, iterations } = newtonOffsets(delta, m, (x) => gateOffsetObjective(logits, comps, m, x), 100);
  return { offsets: delta, nllBefore, nllAfter: nll, iterations };
}

/**
 * How a copy-aware output adapts its mixture weights to the clip it reads (see `OnlineGateOffsets` in
 * `@vqvid/model/internals`).
 * @example
 * ```ts
 * const a: GateAdaptation = { decay: 0.8, strength: 1 };
 * ```
 */
export interface GateAdaptation {
  /** Weight of a frame read `age` frames ago: decay^age, in (0, 1); frames below 1e-3 are forgotten. */
  decay: number;
  /** L2 pull of the offsets toward the trained gate (0 = none), in nats per unit² of offset. */
  strength: number;
}

/**
 * The default {@link GateAdaptation}, chosen on vtest and tree.avi (see the package README).
 * @example
 * ```ts
 * const m = new RCNN({ k: 1024, adapt: { ...DEFAULT_GATE_ADAPTATION, strength: 10 } });
 * ```
 */
export const DEFAULT_GATE_ADAPTATION: Readonly<GateAdaptation> = Object.freeze({ decay: 0.8, strength: 1 });

/**
 * Gate offsets fitted online to the frames a model has read so far: the offsets δ (δ_0 = 0) that minimise
 * Σ_f decay^(age f) Σ_(cells i of f) nll_i(δ) + strength/2·|δ|² over the frames observed, each cell's nll as in
 * {@link gateOffsetObjective}. Before any frame the offsets are 0 (the trained gate). After each frame, Newton
 * steps from the offsets before (trust region 1 per offset, backtracking, within ±{@link MAX_GATE_OFFSET}) until
 * the step is below 1e-6 or 30 steps. Used prequentially, the offsets that score frame t are fitted on frames
 * before t only, so the likelihood stays exact and normalised: it is the interpolation-weight half of dynamic
 * evaluation (Krause et al. 2018) and of cache language models, done on the mixture's m − 1 free weights, where a
 * clip whose motion differs from the training frames (a pan that speeds up) would otherwise pay for trusting the
 * wrong component all clip long. Deterministic.
 * @example
 * ```ts
 * const online = new OnlineGateOffsets(3, DEFAULT_GATE_ADAPTATION);
 * online.observe(terms.logits, terms.comps); // one frame's cells, [cells, 3] each
 * online.offsets; // for the next frame
 * ```
 */
export class OnlineGateOffsets {
  private readonly frames: HeldFrame[] = [];
  private readonly keep: number;
  /** The current offsets, m values, the first 0. */
  readonly offsets: Float64Array;

  constructor(
    readonly m: number,
    readonly adaptation: Readonly<GateAdaptation>,
  ) {
    assertInt(m, 'm', 2);
    checkAdaptation(adaptation, 'adaptation');
    this.offsets = new Float64Array(m);
    this.keep = Math.max(1, Math.ceil(Math.log(1e-3) / Math.log(adaptation.decay)));
  }

  /** Frames held (the last ones whose weight is at least 1e-3). */
  get held(): number {
    return this.frames.length;
  }

  /** Reads one frame's cells: gate logits without offsets and component log-likelihoods, [cells, m] each. */
  observe(logits: Float32Array, comps: Float32Array): void {
    const m = this.m;
    if (logits.length === 0 || logits.length % m !== 0) fail('E_SHAPE', 'logits.length', `a positive multiple of m = ${m}`, logits.length);
    if (comps.length !== logits.length) fail('E_SHAPE', 'comps.length', `${logits.length} (as logits)`, comps.length);
    this.frames.push({ logits, comps, at: null });
    if (this.frames.length > this.keep) this.frames.shift();
    const seen: Array<{ delta: Float64Array; terms: FrameTerms[] }> = [];
    newtonOffsets(this.offsets, m, (x) => this.weighted(x, seen), 30);
    // each frame keeps its terms at the offsets reached: the next frame's Newton starts there, and the frames held
    // over then need not be scored again at that point (the same numbers, so the same result)
    const final = seen.find((e) => sameDelta(e.delta, this.offsets));
    this.frames.forEach((f, i) => (f.at = final ? { delta: final.delta, terms: final.terms[i] } : null));
  }

  /** The weighted objective (sums over cells, not means) and its gradient and Hessian at `delta`. */
  objective(delta: ArrayLike<number>): { nll: number; grad: Float64Array; hess: Float64Array } {
    return this.weighted(delta, null);
  }

  /** {@link OnlineGateOffsets.objective}, each frame's terms appended to `seen` (with a copy of `delta`) when given. */
  private weighted(delta: ArrayLike<number>, seen: Array<{ delta: Float64Array; terms: FrameTerms[] }> | null): { nll: number; grad: Float64Array; hess: Float64Array } {
    const m = this.m;
    const { decay, strength } = this.adaptation;
    let nll = 0;
    const grad = new Float64Array(m);
    const hess = new Float64Array(m * m);
    const terms: FrameTerms[] = [];
    for (let f = 0; f < this.frames.length; f++) {
      const frame = this.frames[f];
      const w = decay ** (this.frames.length - 1 - f) * (frame.logits.length / m);
      const o = frame.at && sameDelta(frame.at.delta, delta) ? frame.at.terms : gateOffsetObjective(frame.logits, frame.comps, m, delta);
      terms.push(o);
      nll += w * o.nll;
      for (let j = 0; j < m; j++) grad[j] += w * o.grad[j];
      for (let j = 0; j < m * m; j++) hess[j] += w * o.hess[j];
    }
    for (let j = 1; j < m; j++) {
      nll += 0.5 * strength * delta[j] * delta[j];
      grad[j] += strength * delta[j];
      hess[j * m + j] += strength;
    }
    seen?.push({ delta: Float64Array.from(delta), terms });
    return { nll, grad, hess };
  }
}

/** One frame's {@link gateOffsetObjective} (means over its cells). */
type FrameTerms = { nll: number; grad: Float64Array; hess: Float64Array };

/** A frame {@link OnlineGateOffsets} holds, with its terms at the offsets its last Newton run ended at. */
interface HeldFrame {
  logits: Float32Array;
  comps: Float32Array;
  at: { delta: Float64Array; terms: FrameTerms } | null;
}

/** Whether two offset vectors are the same numbers (Object.is: +0 and −0 differ, as they could in the sums). */
function sameDelta(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let j = 0; j < a.length; j++) if (!Object.is(a[j], b[j])) return false;
  return true;
}

/**
 * E_RANGE naming `name` unless `a` is a {@link GateAdaptation} (decay in (0, 1), strength ≥ 0, both finite).
 * @example
 * ```ts
 * checkAdaptation({ decay: 0.8, strength: 1 }, 'adapt'); // passes; { decay: 1 } throws E_RANGE naming adapt.decay
 * ```
 */
export function checkAdaptation(a: unknown, name: string): asserts a is GateAdaptation {
  const o = a as Partial<GateAdaptation> | null;
  if (typeof o !== 'object' || o === null) fail('E_RANGE', name, '{ decay, strength }', a);
  if (!(typeof o.decay === 'number' && o.decay > 0 && o.decay < 1)) fail('E_RANGE', `${name}.decay`, 'a number in (0, 1)', o.decay);
  if (!(typeof o.strength === 'number' && o.strength >= 0 && Number.isFinite(o.strength))) fail('E_RANGE', `${name}.strength`, 'a finite number ≥ 0', o.strength);
}
