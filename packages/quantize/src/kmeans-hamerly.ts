import { centroidMean, labelDistances } from './assign';
import { type AssignFn, type LoopOptions, type LoopResult, type Rows, gatherRows, sum, updateCentroids } from './kmeans';

/** Unit roundoff of float32; {@link backendSlack} builds the backends' error bound on it. */
const F32 = 2 ** -24;

/** Relative inflation of every float64 bound update: covers float64 rounding (≈ dim·2⁻⁵³) many times over. */
export const F64_SLACK = 1e-12;

/** Points and centroids per block of the float64 top-2 scan (as in cpu.ts: a centroid tile fits in L1/L2). */
const POINT_TILE = 256;
const CENTROID_TILE = 128;

/**
 * Bound on the difference of two squared distances a float32 backend may misjudge for a point at distance
 * ≤ `x` from the centroid mean when every centroid lies within `r` of it. One distance is off by at most
 * about (dim + 4)·2⁻²⁴·(x + r)²: the float32 dot product of length dim + 1 in any summation order (γ(dim+1) of
 * Σ|x_d c_d|), the rounding of x − m, c − m and ||c − m||², and tile merging's float32 Σ(x − c)². Twice that
 * with room, 2·(dim + 8)·2⁻²⁴·(x + r)², doubled because both distances of a comparison may be off. A point whose exact gap to its second-nearest centroid
 * exceeds this gets the same label from every backend that rounds like IEEE float32.
 */
export function backendSlack(dim: number, x: number, r: number): number {
  return 4 * (dim + 8) * F32 * (x + r) * (x + r);
}

/** What {@link hamerly} leaves behind: a {@link LoopResult} plus the share of distance evaluations it skipped. */
export interface HamerlyResult extends LoopResult {
  /** Per iteration 1..iterations: 1 − (distances computed) / (n·k); centroid–centroid distances count too. */
  skipped: number[];
}

/** The record of a loop with bounds: inertia and skipped share per iteration, progress events and the stop rule of {@link lloyd}. */
export class BoundedHistory {
  readonly inertiaHistory: number[];
  readonly skipped: number[] = [];
  iterations = 0;

  /** `dist`: the distances of the initial labels. */
  constructor(dist: Float32Array, private readonly opts: LoopOptions) {
    this.inertiaHistory = [sum(dist)];
  }

  /** Records one iteration's distances and skipped share and reports progress; true when the loop should stop. */
  record(dist: Float32Array, skipped: number): boolean {
    const { inertiaHistory: h, opts } = this;
    const prev = h[h.length - 1];
    const inertia = sum(dist);
    h.push(inertia);
    this.skipped.push(skipped);
    this.iterations++;
    opts.onProgress?.({
      stage: 'fit', done: this.iterations, total: opts.maxIter, fraction: this.iterations / opts.maxIter,
      metrics: { inertia, skipped },
    });
    return prev === 0 || (prev - inertia) / prev < opts.tol;
  }

  /** The loop's result with its final centroids and labels. */
  result(centroids: Float32Array, labels: Int32Array): HamerlyResult {
    const { inertiaHistory, iterations, skipped } = this;
    return { centroids, labels, inertia: inertiaHistory[inertiaHistory.length - 1], inertiaHistory, iterations, skipped };
  }
}

/** Per-iteration state: centroids centred on the backends' (rounded) centroid mean, in float64, and their squared norms. */
export interface Centred {
  mean: Float64Array;
  c: Float64Array;
  norms: Float64Array;
  /** Distance of each centroid to the mean. */
  rho: Float64Array;
  /** Largest rho. */
  r: number;
}

export function centre(centroids: Float32Array, k: number, dim: number): Centred {
  const mean = centroidMean(centroids, k, dim); // the backends' centre, so rho and r are what they round with
  const c = new Float64Array(k * dim);
  const norms = new Float64Array(k);
  const rho = new Float64Array(k);
  let r = 0;
  for (let j = 0; j < k; j++) {
    let s = 0;
    for (let d = 0; d < dim; d++) {
      const v = centroids[j * dim + d] - mean[d];
      c[j * dim + d] = v;
      s += v * v;
    }
    norms[j] = s;
    rho[j] = Math.sqrt(s) * (1 + F64_SLACK);
    if (rho[j] > r) r = rho[j];
  }
  return { mean, c, norms, rho, r };
}

/** Exact (float64) Euclidean distance of row i of `data` to centroid j. */
export function dist64(data: Float32Array, i: number, centroids: Float32Array, j: number, dim: number): number {
  let s = 0;
  for (let d = 0; d < dim; d++) {
    const t = data[i * dim + d] - centroids[j * dim + d];
    s += t * t;
  }
  return Math.sqrt(s);
}

/**
 * Nearest and second-nearest centroid of each listed point by ||c||² − 2x·c in float64 on centred data: for
 * point idx[t], best[t] (index), d1[t] and d2[t] (squared distances, nearest first). Blocked like cpu.ts.
 */
function top2(data: Float32Array, idx: Int32Array, m: number, cc: Centred, k: number, dim: number) {
  const best = new Int32Array(m);
  const d1 = new Float64Array(m).fill(Infinity);
  const d2 = new Float64Array(m).fill(Infinity);
  const x = new Float64Array(POINT_TILE * dim);
  const xn = new Float64Array(POINT_TILE);
  const { c, norms, mean } = cc;
  for (let p0 = 0; p0 < m; p0 += POINT_TILE) {
    const cnt = Math.min(POINT_TILE, m - p0);
    for (let t = 0; t < cnt; t++) {
      const o = idx[p0 + t] * dim;
      let s = 0;
      for (let d = 0; d < dim; d++) {
        const v = data[o + d] - mean[d];
        x[t * dim + d] = v;
        s += v * v;
      }
      xn[t] = s;
    }
    for (let c0 = 0; c0 < k; c0 += CENTROID_TILE) {
      const c1 = Math.min(k, c0 + CENTROID_TILE);
      let t = 0;
      for (; t + 2 <= cnt; t += 2) scanTwo(x, t, p0, c, norms, c0, c1, dim, best, d1, d2);
      if (t < cnt) scanOne(x, t, p0, c, norms, c0, c1, dim, best, d1, d2);
    }
    for (let t = 0; t < cnt; t++) {
      d1[p0 + t] += xn[t];
      d2[p0 + t] += xn[t];
    }
  }
  return { best, d1, d2 };
}

/** Top-2 update of points t, t+1 of the tile (rows p0+t, p0+t+1 of the result) over centroids c0..c1: two rows share each centroid load. */
function scanTwo(
  x: Float64Array, t: number, p0: number, c: Float64Array, norms: Float64Array, c0: number, c1: number, dim: number,
  best: Int32Array, d1: Float64Array, d2: Float64Array,
): void {
  const xa = t * dim, xb = xa + dim, ra = p0 + t, rb = ra + 1;
  let a1 = d1[ra], a2 = d2[ra], la = best[ra];
  let b1 = d1[rb], b2 = d2[rb], lb = best[rb];
  for (let j = c0; j < c1; j++) {
    const co = j * dim;
    let sa = 0, sb = 0;
    for (let d = 0; d < dim; d++) {
      const cv = c[co + d];
      sa += x[xa + d] * cv;
      sb += x[xb + d] * cv;
    }
    const va = norms[j] - 2 * sa, vb = norms[j] - 2 * sb;
    if (va < a1) { a2 = a1; a1 = va; la = j; } else if (va < a2) a2 = va;
    if (vb < b1) { b2 = b1; b1 = vb; lb = j; } else if (vb < b2) b2 = vb;
  }
  d1[ra] = a1; d2[ra] = a2; best[ra] = la;
  d1[rb] = b1; d2[rb] = b2; best[rb] = lb;
}

/** {@link scanTwo} for one point. */
function scanOne(
  x: Float64Array, t: number, p0: number, c: Float64Array, norms: Float64Array, c0: number, c1: number, dim: number,
  best: Int32Array, d1: Float64Array, d2: Float64Array,
): void {
  const xa = t * dim, ra = p0 + t;
  let a1 = d1[ra], a2 = d2[ra], la = best[ra];
  for (let j = c0; j < c1; j++) {
    const co = j * dim;
    let sa = 0;
    for (let d = 0; d < dim; d++) sa += x[xa + d] * c[co + d];
    const va = norms[j] - 2 * sa;
    if (va < a1) { a2 = a1; a1 = va; la = j; } else if (va < a2) a2 = va;
  }
  d1[ra] = a1; d2[ra] = a2; best[ra] = la;
}

/**
 * Half the distance of each centroid to its nearest other centroid (Hamerly's s), as a lower bound: the top-2
 * scan with the centroids as points, the second-nearest of a centroid being its nearest other one (itself is
 * first, or ties with a duplicate at 0).
 */
function halfGaps(centroids: Float32Array, cc: Centred, k: number, dim: number): Float64Array {
  const all = Int32Array.from({ length: k }, (_, j) => j);
  const { d1, d2 } = top2(centroids, all, k, cc, k, dim);
  const s = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    // the scan's own float64 error is below F64_SLACK·(2r)²; subtract it before the root
    const second = Math.max(d1[j], d2[j]) - 4 * F64_SLACK * cc.r * cc.r;
    s[j] = second > 0 ? 0.5 * Math.sqrt(second) * (1 - F64_SLACK) : 0;
  }
  return s;
}

/** How many of the farthest-moving centroids {@link Movers} bounds through their new position instead of their drift. */
const MOVERS = 32;

/**
 * Hamerly's lower bound l (on the distance to every centroid but the point's own, a) after an update. The plain
 * rule subtracts the largest drift of all, which one re-seeded empty cluster makes huge. Here the MOVERS
 * farthest-moving centroids B are bounded apart, through the new centroids: d(x, b) ≥ d(c_a, b) − u. Both
 * rules give valid bounds, so the larger is kept.
 */
class Movers {
  /** The farthest-moving centroids, largest drift first. */
  readonly far: Int32Array;
  /** [k, far.length] distance of each centroid to each mover (new positions). */
  private readonly gap: Float64Array;
  private readonly order: Int32Array;

  constructor(private readonly drift: Float64Array, centroids: Float32Array, k: number, dim: number) {
    this.order = Int32Array.from({ length: k }, (_, j) => j).sort((x, y) => drift[y] - drift[x]);
    this.far = this.order.slice(0, Math.min(MOVERS, Math.max(0, k - 2)));
    const m = this.far.length;
    this.gap = new Float64Array(k * m);
    for (let j = 0; j < k; j++) for (let t = 0; t < m; t++) this.gap[j * m + t] = dist64(centroids, j, centroids, this.far[t], dim) * (1 - F64_SLACK);
  }

  /** Largest drift among centroids other than `a`, skipping the first `from` of the drift order. */
  private largest(a: number, from: number): number {
    const j = this.order[from] === a ? this.order[from + 1] : this.order[from];
    return j === undefined ? 0 : this.drift[j];
  }

  /** The new lower bound from the old one `l`, the point's centroid `a` and its new upper bound `u`. */
  shrink(l: number, a: number, u: number): number {
    const plain = l - this.largest(a, 0);
    const m = this.far.length;
    let split = l - this.largest(a, m);
    for (let t = 0; t < m; t++) if (this.far[t] !== a) split = Math.min(split, this.gap[a * m + t] - u);
    return Math.max(0, Math.max(plain, split) * (1 - F64_SLACK));
  }
}

/**
 * Lloyd's algorithm with Hamerly's bounds (Hamerly 2010): each point keeps an upper bound u on the distance to
 * its centroid and a lower bound l on the distance to every other one; after each update u grows by its
 * centroid's drift and l shrinks by the largest other drift, and a point is re-searched only when the bounds
 * (or half the gap of its centroid to the nearest other, s) no longer prove its label.
 *
 * Identity with {@link lloyd} on the same `assign`: a label is kept or taken from the float64 search only when
 * the proven gap to every other centroid exceeds {@link backendSlack}, the most any float32 backend can
 * misjudge, so `assign` would return the same label; points inside that slack (near-ties, duplicates) go
 * through `assign` itself. Distances, inertia and centroid updates then follow from the labels exactly as in
 * `lloyd`, so every iteration's labels and centroids match bit for bit.
 */
export async function hamerly(rows: Rows, init: Float32Array, k: number, opts: LoopOptions, assign: AssignFn): Promise<HamerlyResult> {
  const { data, n, dim } = rows;
  let centroids = init;
  let { labels, dist } = await assign(data, n, centroids, k);
  const history = new BoundedHistory(dist, opts);
  const upper = new Float64Array(n);
  const lower = new Float64Array(n); // 0: nothing known yet about the other centroids
  for (let i = 0; i < n; i++) upper[i] = Math.sqrt(dist[i]) * (1 + 1e-6); // dist is float32-rounded: 2⁻²⁴ ≪ 1e-6
  while (history.iterations < opts.maxIter) {
    const next = updateCentroids(rows, k, labels, dist);
    const drift = new Float64Array(k);
    for (let j = 0; j < k; j++) drift[j] = dist64(next, j, centroids, j, dim) * (1 + F64_SLACK);
    centroids = next;
    const movers = new Movers(drift, centroids, k, dim);
    const cc = centre(centroids, k, dim);
    const s = halfGaps(centroids, cc, k, dim);
    let evaluated = k + k * k + k * movers.far.length;
    const scan: number[] = [];
    for (let i = 0; i < n; i++) {
      const a = labels[i];
      upper[i] = (upper[i] + drift[a]) * (1 + F64_SLACK);
      lower[i] = movers.shrink(lower[i], a, upper[i]);
      if (proven(upper[i], lower[i], s[a], dim, cc.rho[a], cc.r)) continue;
      upper[i] = dist64(data, i, centroids, a, dim) * (1 + F64_SLACK);
      evaluated++;
      if (proven(upper[i], lower[i], s[a], dim, cc.rho[a], cc.r)) continue;
      scan.push(i);
    }
    const idx = Int32Array.from(scan);
    const { best, d1, d2 } = top2(data, idx, idx.length, cc, k, dim);
    evaluated += k * idx.length;
    const ties: number[] = [];
    for (let t = 0; t < idx.length; t++) {
      const i = idx[t];
      const e = 4 * F64_SLACK * (Math.sqrt(Math.max(d1[t], 0)) + 2 * cc.r) ** 2; // float64 error of the scan
      const x = Math.sqrt(Math.max(d1[t], 0) + e) + cc.rho[best[t]];
      lower[i] = Math.sqrt(Math.max(0, d1[t] - e)) * (1 - F64_SLACK); // below every centroid, whichever wins
      if (d2[t] - d1[t] > backendSlack(dim, x, cc.r) + 2 * e) {
        labels[i] = best[t];
        upper[i] = Math.sqrt(d1[t] + e) * (1 + F64_SLACK);
        lower[i] = Math.sqrt(Math.max(0, d2[t] - e)) * (1 - F64_SLACK);
      } else ties.push(i);
    }
    if (ties.length) {
      const tIdx = Int32Array.from(ties);
      const got = await assign(gatherRows(rows, tIdx), tIdx.length, centroids, k);
      evaluated += k * tIdx.length;
      for (let t = 0; t < tIdx.length; t++) {
        labels[tIdx[t]] = got.labels[t];
        upper[tIdx[t]] = dist64(data, tIdx[t], centroids, got.labels[t], dim) * (1 + F64_SLACK);
      }
    }
    dist = labelDistances(data, n, centroids, dim, labels);
    if (history.record(dist, 1 - evaluated / (n * k))) break;
  }
  return history.result(centroids, labels);
}

/**
 * Whether the bounds prove that the point's centroid (distance ≤ u, distance to the mean ≤ u + rho) beats every
 * other (distance ≥ max(l, 2s − u)) by more than a float32 backend can misjudge.
 */
function proven(u: number, l: number, s: number, dim: number, rho: number, r: number): boolean {
  const other = Math.max(l, 2 * s - u);
  return other > u && other * other - u * u > backendSlack(dim, u + rho, r);
}
