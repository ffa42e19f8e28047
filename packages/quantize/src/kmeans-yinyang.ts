import { Rng, assertInt } from '@vqvid/core';
import { type AssignBackend, type Top2Result, type Top2Task, augmentedRows, labelDistances, scoreMatrix, top2Reference } from './assign';
import { type AssignFn, type LoopOptions, type Rows, gatherRows, lloyd, seedRandom, updateCentroids } from './kmeans';
import { BoundedHistory, type Centred, F64_SLACK, type HamerlyResult, backendSlack, centre, dist64 } from './kmeans-hamerly';

/** A batched top-2 search (an {@link AssignBackend.top2} or `top2Reference`). */
export type Top2Fn = (tasks: Top2Task[]) => Promise<Top2Result[]>;

/**
 * Centroids per group: Ding et al. suggest k/10 groups, but here each searched group is one GEMM block of the
 * backend, which wants wide blocks (64 columns keep XNNPACK's tiles full), and the per-group lower bounds take
 * n·k/64 floats (200,000 points at k = 10,000: 125 MB).
 */
export const GROUP_SIZE = 64;

/** Most per-group lower bounds kept (float32): 2^26 = 256 MB; beyond n·ceil(k / GROUP_SIZE) of them the groups grow. */
export const MAX_BOUNDS = 2 ** 26;

/** Most points per top-2 task, so the calling thread and the workers share the tasks evenly. */
const TASK_ROWS = 4096;

/** Lloyd iterations that group the initial centroids (as in the paper: a few iterations of k-means on them). */
const GROUP_ITERATIONS = 5;

/**
 * Options of {@link yinyang}: the loop options plus the number of centroid groups (default ceil(k / {@link GROUP_SIZE}),
 * fewer when n times that exceeds {@link MAX_BOUNDS}).
 */
export interface YinyangOptions extends LoopOptions {
  groups?: number;
  /** Called with the bounds after every search (iteration 0 included); tests check them against brute force. */
  inspect?: (bounds: BoundsView) => void;
}

/** The bounds of every point: `upper[i]` on its distance to centroid labels[i], `lower[i·t + g]` on its distance to every other centroid of group g. */
export interface BoundsView {
  labels: Int32Array;
  upper: Float64Array;
  lower: Float32Array;
  t: number;
  /** Group of each centroid. */
  group: Int32Array;
  centroids: Float32Array;
}

/** Centroids cut into groups: `order` lists the centroids group by group, group g holding order[starts[g]..starts[g + 1]). */
export interface CentroidGroups {
  order: Int32Array;
  /** t + 1 entries, the last one k. */
  starts: Int32Array;
  /** Group of each centroid. */
  group: Int32Array;
}

/**
 * Groups the `k` centroids into at most `t` groups of nearby centroids by a few Lloyd iterations on the
 * centroids themselves (seeded, so the grouping is reproducible); empty groups are dropped. Any grouping keeps
 * {@link yinyang} exact; close centroids in one group keep its bounds tight.
 */
export async function groupCentroids(centroids: Float32Array, k: number, dim: number, t: number, assign: AssignFn): Promise<CentroidGroups> {
  const rows: Rows = { data: centroids, n: k, dim };
  const g = Math.max(1, Math.min(t, k));
  const labels = g === 1 ? new Int32Array(k) : (await lloyd(rows, seedRandom(rows, g, new Rng(1)), g, { maxIter: GROUP_ITERATIONS, tol: 0 }, assign)).labels;
  const count = new Int32Array(g);
  for (let j = 0; j < k; j++) count[labels[j]]++;
  const renum = new Int32Array(g).fill(-1);
  let used = 0;
  for (let c = 0; c < g; c++) if (count[c] > 0) renum[c] = used++;
  const starts = new Int32Array(used + 1);
  const group = new Int32Array(k);
  for (let j = 0; j < k; j++) {
    group[j] = renum[labels[j]];
    starts[group[j] + 1]++;
  }
  for (let c = 0; c < used; c++) starts[c + 1] += starts[c];
  const fill = starts.slice(0, used);
  const order = new Int32Array(k);
  for (let j = 0; j < k; j++) order[fill[group[j]]++] = j;
  return { order, starts, group };
}

/** Largest float32 not above v ≥ 0 (lower bounds are stored in float32). */
const down = (v: number) => Math.fround(v * (1 - 2 ** -23));

/** The searched part of one iteration: per task, the point of each row and the group of each segment. */
interface Plan {
  tasks: Top2Task[];
  points: Int32Array[];
  groups: Int32Array[];
}

/**
 * Lloyd's algorithm with Yinyang bounds (Ding et al. 2015): the centroids are grouped once, each point keeps an
 * upper bound on the distance to its centroid and one lower bound per group on the distance to every other
 * centroid of that group. After an update the upper bound grows by the centroid's drift and each group's
 * lower bound shrinks by the group's largest drift; a point is searched only in the groups whose bound no
 * longer proves them farther than its centroid (the group filter), and the searched groups of all points go
 * to the backend's top-2 GEMM search (`top2`) in blocks, one block per group.
 *
 * Identity with {@link lloyd} on the same `assign`: a group is skipped, or a searched label taken, only when
 * the proven gap to every other centroid exceeds what a float32 backend can misjudge for the two centroids
 * compared ({@link backendSlack}, split per centroid by its distance to the centroid mean), plus the search's
 * own float32 error, so `assign` would return the same label; points inside that margin go through `assign`. Distances,
 * inertia and centroid updates follow from the labels exactly as in `lloyd`: every iteration's labels,
 * centroids and inertia match bit for bit.
 */
export async function yinyang(
  rows: Rows, init: Float32Array, k: number, opts: YinyangOptions, assign: AssignFn, top2: Top2Fn = top2Reference,
): Promise<HamerlyResult> {
  const { data, n, dim } = rows;
  const w = dim + 1;
  if (opts.groups !== undefined) assertInt(opts.groups, 'groups', 1, k);
  const groups = opts.groups ?? Math.max(1, Math.min(Math.ceil(k / GROUP_SIZE), Math.floor(MAX_BOUNDS / n)));
  const { order, starts, group } = await groupCentroids(init, k, dim, groups, assign);
  const t = starts.length - 1;
  const labels = new Int32Array(n);
  const upper = new Float64Array(n);
  const lower = new Float32Array(n * t);
  const state = new Search(rows, k, t, order, starts, group, labels, upper, lower);
  let centroids = init;

  // iteration 0: every point against every group
  state.prepare(centroids);
  const all: Plan = { tasks: [], points: [], groups: [] };
  const segs = starts.slice(0, t);
  const b = state.matrix(0, k);
  for (let p0 = 0; p0 < n; p0 += TASK_ROWS) {
    const m = Math.min(TASK_ROWS, n - p0);
    all.tasks.push({ a: state.ax.slice(p0 * w, (p0 + m) * w), rows: m, b, cols: k, starts: segs });
    all.points.push(Int32Array.from({ length: m }, (_, r) => p0 + r));
    all.groups.push(Int32Array.from({ length: t }, (_, g) => g));
  }
  const active0 = Int32Array.from({ length: n }, (_, i) => i);
  await state.search(all, active0, null, top2, assign);
  const inspect = () => opts.inspect?.({ labels, upper, lower, t, group, centroids });
  inspect();
  let dist = labelDistances(data, n, centroids, dim, labels);
  const history = new BoundedHistory(dist, opts);
  while (history.iterations < opts.maxIter) {
    const next = updateCentroids(rows, k, labels, dist);
    const drift = new Float64Array(k);
    for (let j = 0; j < k; j++) drift[j] = dist64(next, j, centroids, j, dim) * (1 + F64_SLACK);
    centroids = next;
    state.prepare(centroids);
    const { plan, active, wasLabel, evaluated } = state.filter(drift);
    const searched = await state.search(plan, active, wasLabel, top2, assign);
    inspect();
    dist = labelDistances(data, n, centroids, dim, labels);
    if (history.record(dist, 1 - (k + evaluated + searched) / (n * k))) break;
  }
  return history.result(centroids, labels);
}

/** The bounds of every point and the two steps of an iteration that use them: the group filter and the search. */
class Search {
  /** Points minus the centroid mean, each followed by a 1 ([n, dim + 1]), rebuilt when the mean moves. */
  ax: Float32Array = new Float32Array(0);
  private axMean: Float64Array | null = null;
  private centroids: Float32Array = new Float32Array(0);
  /** Centroids in group order. */
  private grouped: Float32Array = new Float32Array(0);
  private cc!: Centred;
  /** Per point (scratch): ||x − m||², the best candidate's squared distance, centroid and error-widened values (see search), a state. */
  private readonly xn: Float64Array;
  private readonly d1: Float64Array;
  private readonly j1: Int32Array;
  private readonly h1: Float64Array;
  private readonly l1: Float64Array;
  private readonly low2: Float64Array;
  /** 1: label decided by the search, 2: left to `assign` (within the backends' margin). */
  private readonly outcome: Uint8Array;

  constructor(
    private readonly rows: Rows, private readonly k: number, private readonly t: number, private readonly order: Int32Array,
    private readonly starts: Int32Array, private readonly group: Int32Array, private readonly labels: Int32Array,
    private readonly upper: Float64Array, private readonly lower: Float32Array,
  ) {
    const { n } = rows;
    this.xn = new Float64Array(n);
    this.d1 = new Float64Array(n);
    this.j1 = new Int32Array(n);
    this.h1 = new Float64Array(n);
    this.l1 = new Float64Array(n);
    this.low2 = new Float64Array(n);
    this.outcome = new Uint8Array(n);
  }

  /** Takes this iteration's centroids: their centre (the backends' rounded mean), group order and the augmented points. */
  prepare(centroids: Float32Array): void {
    const { data, n, dim } = this.rows;
    this.centroids = centroids;
    this.cc = centre(centroids, this.k, dim);
    this.grouped = gatherRows({ data: centroids, n: this.k, dim }, this.order);
    const m = this.cc.mean;
    if (!this.axMean || this.axMean.some((v, d) => v !== m[d])) {
      this.ax = augmentedRows(data, 0, n, dim, m);
      this.axMean = m;
    }
  }

  /** Per group, the largest distance of its centroids to the centroid mean (float32 errors grow with it). */
  groupRho(): Float64Array {
    const out = new Float64Array(this.t);
    for (let g = 0; g < this.t; g++) for (let q = this.starts[g]; q < this.starts[g + 1]; q++) out[g] = Math.max(out[g], this.cc.rho[this.order[q]]);
    return out;
  }

  /** The score matrix of the grouped centroids count columns from `from`. */
  matrix(from: number, count: number): Float32Array {
    return scoreMatrix(this.grouped, from, count, this.rows.dim, this.cc.mean);
  }

  /**
   * Moves every bound by the drifts and keeps, per point, the groups the bounds no longer rule out (after
   * tightening the upper bound to the exact distance once). Returns the plan of GEMM blocks, the points in it,
   * for each of them whether its own centroid's group is searched, and the distances computed here.
   */
  filter(drift: Float64Array) {
    const { data, n, dim } = this.rows;
    const { t, starts, group, labels, upper, lower, centroids } = this;
    const { rho, r } = this.cc;
    const gd = new Float64Array(t);
    for (let g = 0; g < t; g++) for (let q = starts[g]; q < starts[g + 1]; q++) gd[g] = Math.max(gd[g], drift[this.order[q]]);
    const lists: number[][] = Array.from({ length: t }, () => []);
    const active: number[] = [];
    const wasLabel = new Uint8Array(n);
    let evaluated = 0;
    const rhoMax = this.groupRho();
    const c = misjudgeScale(dim);
    /** Whether some group of point i is not ruled out with upper bound u and ||x − m|| ≤ x (squared gaps beyond both misjudgements). */
    const open = (o: number, u: number, x: number) => {
      const own = c * (x + Math.min(r, x + u)) ** 2; // the label found, whichever, is within u of x
      for (let g = 0; g < t; g++) if (!clear(lower[o + g], u, own + c * (x + rhoMax[g]) ** 2)) return true;
      return false;
    };
    for (let i = 0; i < n; i++) {
      const a = labels[i];
      let u = (upper[i] + drift[a]) * (1 + F64_SLACK);
      let least = Infinity;
      const o = i * t;
      for (let g = 0; g < t; g++) {
        const v = lower[o + g] - gd[g];
        const l = v > 0 ? down(v * (1 - F64_SLACK)) : 0;
        lower[o + g] = l;
        if (l < least) least = l;
      }
      upper[i] = u;
      let x = u + rho[a];
      if (clear(least, u, 2 * c * (x + r) ** 2) || !open(o, u, x)) continue;
      u = upper[i] = dist64(data, i, centroids, a, dim) * (1 + F64_SLACK);
      x = u + rho[a];
      evaluated++;
      if (!open(o, u, x)) continue;
      active.push(i);
      const own = c * (x + Math.min(r, x + u)) ** 2;
      for (let g = 0; g < t; g++) {
        if (clear(lower[o + g], u, own + c * (x + rhoMax[g]) ** 2)) continue;
        lists[g].push(i);
        if (g === group[a]) wasLabel[i] = 1;
      }
    }
    const plan: Plan = { tasks: [], points: [], groups: [] };
    const w = dim + 1;
    for (let g = 0; g < t; g++) {
      const pts = lists[g];
      if (!pts.length) continue;
      const cols = starts[g + 1] - starts[g];
      const b = this.matrix(starts[g], cols);
      for (let p0 = 0; p0 < pts.length; p0 += TASK_ROWS) {
        const m = Math.min(TASK_ROWS, pts.length - p0);
        const a = new Float32Array(m * w);
        const ax = this.ax;
        for (let q = 0; q < m; q++) for (let d = 0, o = pts[p0 + q] * w; d < w; d++) a[q * w + d] = ax[o + d]; // no view per row
        plan.tasks.push({ a, rows: m, b, cols, starts: new Int32Array(1) });
        plan.points.push(Int32Array.from(pts.slice(p0, p0 + m)));
        plan.groups.push(Int32Array.of(g));
      }
    }
    return { plan, active: Int32Array.from(active), wasLabel, evaluated };
  }

  /**
   * Runs the plan's top-2 searches and decides the label of every active point: the best candidate (its
   * searched groups, and its old centroid when that one's group was not searched) when every other candidate
   * is farther by more than the backends' slack plus the search's own error, else by `assign`. Updates the
   * bounds; returns the number of point–centroid distances computed.
   */
  async search(plan: Plan, active: Int32Array, wasLabel: Uint8Array | null, top2: Top2Fn, assign: AssignFn): Promise<number> {
    const { data, dim } = this.rows;
    const { t, k, order, starts, group, labels, upper, lower, centroids, xn, d1, j1, outcome } = this;
    const { mean, rho } = this.cc;
    const rhoMax = this.groupRho();
    const c = misjudgeScale(dim);
    const h1 = this.h1, l1 = this.l1, low2 = this.low2;
    for (const i of active) {
      let s = 0;
      for (let d = 0; d < dim; d++) {
        const v = data[i * dim + d] - mean[d];
        s += v * v;
      }
      xn[i] = s;
      const x = Math.sqrt(s);
      d1[i] = h1[i] = l1[i] = low2[i] = Infinity;
      j1[i] = -1;
      if (wasLabel && !wasLabel[i]) { // the old centroid, when its group is not searched: exact distance, misjudged by the backend only
        const a = labels[i], da = (upper[i] / (1 + F64_SLACK)) ** 2, err = c * (x + rho[a]) ** 2;
        d1[i] = da;
        j1[i] = a;
        h1[i] = da + err;
        l1[i] = da - err;
      }
    }
    const found = await top2(plan.tasks);
    const computed = plan.tasks.reduce((sum, task) => sum + task.rows * task.cols, 0);
    const each = (visit: (i: number, g: number, j: number, a: number, b: number, x: number) => void) => eachResult(plan, found, xn, order, starts, visit);
    // pass 1: per point the best candidate (squared distance d1, centroid j1, d1 plus its errors h1, minus them l1),
    // and the least "minus errors" of all others (low2): the label is proven when low2 > h1
    each((i, g, j, a, b, x) => {
      const errA = 1.5 * c * (x + rho[j]) ** 2; // the search's error (half a misjudgement) and the backend's
      low2[i] = Math.min(low2[i], b - 1.5 * c * (x + rhoMax[g]) ** 2);
      if (a < d1[i]) {
        low2[i] = Math.min(low2[i], l1[i]);
        d1[i] = a;
        j1[i] = j;
        h1[i] = a + errA;
        l1[i] = a - errA;
      } else low2[i] = Math.min(low2[i], a - errA);
    });
    const ties: number[] = [];
    for (const i of active) {
      const previous = labels[i];
      if (low2[i] > h1[i]) {
        outcome[i] = 1;
        labels[i] = j1[i];
      } else {
        outcome[i] = 2;
        ties.push(i);
      }
      j1[i] = previous; // from here on: the label before this search
    }
    // pass 2: lower bounds of the searched groups (without the new label in its own group), minus the search's own error
    each((i, g, j, a, b, x) => {
      const v = (outcome[i] === 1 && j === labels[i] ? b : a) - 0.5 * c * (x + rhoMax[g]) ** 2;
      lower[i * t + g] = v > 0 ? down(Math.sqrt(v) * (1 - F64_SLACK)) : 0;
    });
    let extra = 0;
    if (ties.length) {
      const idx = Int32Array.from(ties);
      const got = await assign(gatherRows(this.rows, idx), idx.length, centroids, k);
      idx.forEach((i, q) => (labels[i] = got.labels[q]));
      extra = k * idx.length;
    }
    for (const i of active) {
      const a = j1[i], now = labels[i];
      upper[i] = dist64(data, i, centroids, now, dim) * (1 + F64_SLACK);
      // the old centroid joins the "others" of its group when that group was not searched
      if (wasLabel && !wasLabel[i] && now !== a) {
        const o = i * t + group[a];
        lower[o] = Math.min(lower[o], down(dist64(data, i, centroids, a, dim) * (1 - F64_SLACK)));
      }
    }
    return computed + extra;
  }
}

/**
 * Calls `visit` for every (point, group) result of a plan's search: the point i, the group g, the centroid j of
 * the group's smallest score, the smallest and second-smallest score plus ||x − m||² (squared distances as the
 * search saw them) and x = ||x − m||.
 */
function eachResult(
  plan: Plan, found: Top2Result[], xn: Float64Array, order: Int32Array, starts: Int32Array,
  visit: (i: number, g: number, j: number, a: number, b: number, x: number) => void,
): void {
  plan.tasks.forEach((task, q) => {
    const { best, v1, v2 } = found[q];
    const pts = plan.points[q], gs = plan.groups[q];
    const segs = gs.length;
    for (let row = 0; row < task.rows; row++) {
      const i = pts[row];
      const x = Math.sqrt(xn[i]);
      for (let s = 0; s < segs; s++) {
        const e = row * segs + s;
        visit(i, gs[s], order[starts[gs[s]] + best[e]], v1[e] + xn[i], v2[e] + xn[i], x);
      }
    }
  });
}

/**
 * c such that c·(x + ρ)² bounds how far a float32 backend may misjudge the squared distance of a point at
 * distance ≤ x from the centroid mean to a centroid at distance ≤ ρ from it: half of {@link backendSlack},
 * which bounds a comparison of two such distances. Split per centroid so that far-out centroids do not widen
 * the margin of points that never meet them.
 */
const misjudgeScale = (dim: number) => backendSlack(dim, 1, 0) / 2;

/** Whether a lower bound `l` on the other centroids' distances beats the upper bound `u` by more than the slack (squared). */
function clear(l: number, u: number, slack: number): boolean {
  return l > u && l * l - u * u > slack;
}

/** The full k-means loops: identical results, different work (see `pickAlgorithm`). */
export type FitAlgorithm = 'lloyd' | 'hamerly' | 'yinyang';

/** Smallest k at which 'auto' takes {@link yinyang} (on a backend with a blocked search). */
export const YINYANG_MIN_K = 1024;

/**
 * The loop an algorithm request runs: 'auto' is {@link yinyang} when the backend has a blocked top-2 search
 * (tfjs-wasm) and k ≥ {@link YINYANG_MIN_K}, else plain Lloyd. On vtest patches (bench/kmeans.mjs, tfjs-wasm,
 * 200,000 points, 20 iterations, identical results) Yinyang took 0.71× Lloyd's time at k = 1024 and 0.22× at
 * 10,000 (bench/results/kmeans-vtest), but 1.6× at k = 256 (a development run), where a full GEMM pass costs
 * less than Yinyang's per-iteration bookkeeping. Without the blocked search its float64 TypeScript fallback is slower than the GEMM backends'
 * full passes, and Hamerly's single bound prunes too little at large k (see the package README).
 * @example
 * ```ts
 * pickAlgorithm('auto', 10000, backend); // 'yinyang' on tfjs-wasm
 * ```
 */
export function pickAlgorithm(algorithm: FitAlgorithm | 'auto', k: number, backend: Pick<AssignBackend, 'top2'>): FitAlgorithm {
  if (algorithm !== 'auto') return algorithm;
  return backend.top2 && k >= YINYANG_MIN_K ? 'yinyang' : 'lloyd';
}
