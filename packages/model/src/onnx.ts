/**
 * @vqvid/model/onnx — prediction's two heavy parts as ONNX graphs run by onnxruntime-node (an optional peer
 * dependency; native CPU kernels): {@link OnnxOutput}, the output layer's exact top-M search (an `AsyncTopSource`),
 * and {@link OnnxStep}, the recurrent step (an `AsyncStepper`), both for `RCNN.predictFramesAsync`;
 * {@link exportOutputOnnx} and {@link exportStepOnnx} write the graphs for another runtime.
 * @packageDocumentation
 */
import { assertInt, fail } from '@vqvid/core';
import { type RCNN, partsOf } from './rcnn';
import type { MixtureOutput } from './output';
import type { AsyncSearchMemo, AsyncTopSource, ExtraCodes, LogCandidates, OutputLayer } from './output';
import { emptyLogCandidates } from './output/top';
import { type OutputGraph, outputGraph, outputWeights, SHIFT_FLOOR, TOP_BLOCK } from './onnx/graph';
import { encodeModel } from './onnx/proto';
import { stepGraph, stepRefusal } from './onnx/step';
import type { AsyncStepper } from './rcnn';

export { encodeModel } from './onnx/proto';
export type { OnnxModel, OnnxNode, OnnxTensor, OnnxValue, OnnxAttribute, OnnxDtype } from './onnx/proto';
export { TOP_BLOCK } from './onnx/graph';
export type { AsyncStepper } from './rcnn';

/** The part of onnxruntime's JS API used here (onnxruntime-node's, or a test's stand-in). */
export interface OnnxRuntime {
  InferenceSession: { create(model: Uint8Array, options?: Record<string, unknown>): Promise<OnnxSession> };
  Tensor: new (type: 'float32' | 'int32' | 'int64', data: Float32Array | Int32Array | BigInt64Array, dims: readonly number[]) => OnnxRuntimeTensor;
}
/** A tensor of {@link OnnxRuntime}. */
export interface OnnxRuntimeTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
}
/** An inference session of {@link OnnxRuntime}. */
export interface OnnxSession {
  run(feeds: Record<string, OnnxRuntimeTensor>): Promise<Record<string, OnnxRuntimeTensor>>;
  release(): Promise<void>;
}

/** A run's outputs, each row at its place: the top lists [n, m], the extras' ln q [n, E], the class terms [n, C] (none for a rescore). */
interface GraphLists {
  logq: Float32Array;
  codes: Int32Array;
  extraLogq: Float32Array;
  terms: Float32Array | null;
}

/** What a search's first run keeps for its later passes: each row's class terms, and which rows have them. */
interface KeptTerms {
  h: Float32Array;
  scored: Uint8Array;
  terms: Float32Array;
}

/** Options of {@link OnnxOutput.create}. */
export interface OnnxOutputOptions {
  /** Intra-op threads of the session (default 1: one per worker; the prediction's own parallelism is the workers'). */
  threads?: number;
  /** Columns per block of the graph's two-stage top search (default {@link TOP_BLOCK}). */
  block?: number;
  /** The runtime module (default: `import('onnxruntime-node')`). */
  runtime?: OnnxRuntime;
  /**
   * Rows per run of the graphs (default: {@link LOGITS_PER_RUN} logits' worth, at least 16): a frame's cells go
   * through in runs of this many, so that the [rows, K] logits and their exps stay in the core's cache between the
   * graph's nodes (at K = 10,000 the first pass is 1.7-1.8x faster than in one run of 1200 rows).
   */
  rowsPerRun?: number;
}

/** Logits per run of {@link OnnxOutput}'s graphs by default (2 MB of float32): 51 rows at K = 10,000, 504 at K = 1024. */
export const LOGITS_PER_RUN = 2 ** 19;

/** The inner softmax of `model` (a model, or an output layer; a mixture's network component). */
function innerLayer(model: RCNN | OutputLayer): OutputLayer {
  // by shape, not instanceof: in CommonJS each entry bundles its own copy of the classes
  const isLayer = (x: unknown): x is OutputLayer => typeof x === 'object' && x !== null && Array.isArray((x as OutputLayer).variables) && typeof (x as OutputLayer).kind === 'string';
  const layer = isLayer(model) ? model : partsOf(model as RCNN).output;
  return (layer as Partial<MixtureOutput>).inner !== undefined && Array.isArray((layer as MixtureOutput).components) ? (layer as MixtureOutput).inner : layer;
}

/**
 * The ONNX model (bytes) of `model`'s output search: inputs h [n, hidden] float32, depth and blocks int64 [1],
 * extra int32 [n, E]; outputs top_logq, top_codes [n, depth] and extra_logq [n, E] (see {@link OnnxOutput}).
 * The weights are copied in, so it stands for the model as it is now. A copy-aware mixture's gates, copy and prior
 * components stay outside: the graph is the network's softmax q(x | h).
 * @example
 * ```ts
 * writeFileSync('output.onnx', exportOutputOnnx(model));
 * ```
 */
export function exportOutputOnnx(model: RCNN | OutputLayer, block = TOP_BLOCK): Uint8Array {
  assertInt(block, 'block', 1);
  return encodeModel(outputGraph(outputWeights(innerLayer(model)), block).model);
}

/** The session options of every graph here: `threads` intra-op threads on one inter-op thread, full graph optimisation. */
function sessionOptions(threads: number): Record<string, unknown> {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    // exp of logits far below their block's largest gives denormal numbers, which make Exp 1.5–2x slower; as
    // zeros they change no sum by more than 1e-38
    extra: { session: { set_denormal_as_zero: '1' } },
  };
}

async function loadRuntime(): Promise<OnnxRuntime> {
  try {
    const mod = (await import('onnxruntime-node')) as unknown as OnnxRuntime & { default?: OnnxRuntime };
    return mod.InferenceSession ? mod : mod.default!;
  } catch (e) {
    fail('E_STATE', 'onnxruntime-node', 'the optional peer dependency installed (npm install onnxruntime-node)', (e as Error).message);
  }
}

/**
 * The network softmax's exact top-M lists, computed by an ONNX runtime (onnxruntime-node's native kernels): all K
 * ln q per cell in one product, then the best codes of the blocks with the highest maxima. An
 * {@link AsyncTopSource}: pass it to `RCNN.predictFramesAsync` (or `topCandidatesAsync`); the mixture's gates and
 * proofs stay in @vqvid/model, so lists are exact as with the tfjs search, up to float rounding.
 * At K = 10,000 this scores all 10,000 codes of every cell in native code instead of the factored search's some 60
 * classes in wasm. A model with direct connections is refused (E_STATE). Call {@link OnnxOutput.release} when done.
 * @example
 * ```ts
 * import { OnnxOutput } from '@vqvid/model/onnx';
 * const source = await OnnxOutput.create(model);
 * const next = await model.predictFramesAsync(context, 1, { codec, reference: lastFrame, source });
 * await source.release();
 * ```
 */
export class OnnxOutput implements AsyncTopSource {
  readonly k: number;
  readonly hidden: number;
  /** Columns of the graph's padded ln q row, and its block size. */
  readonly columns: number;
  readonly block: number;
  /** Class terms per row: the classes (1 for the full softmax). */
  private readonly terms: number;
  /**
   * Rows run since creation: `rows` by the first-pass graph, `fallbackRows` of them again by the unshifted graph
   * (factored: a row where some class's ln Σ exp of its shifted logits fell below −64, so that its sum may have
   * lost terms to underflow).
   */
  readonly stats = { rows: 0, fallbackRows: 0 };

  private constructor(
    private readonly ort: OnnxRuntime,
    private session: OnnxSession | null,
    /** The graph that takes a first run's class terms (a mixture's deeper passes). */
    private rescore: OnnxSession | null,
    /** Factored: the first graph from logits shifted without a pass over them, and its rows' fallback `session`. */
    private shifted: OnnxSession | null,
    graph: OutputGraph,
    hidden: number,
    private readonly rowsPerRun: number,
  ) {
    this.k = graph.colOf.length;
    this.hidden = hidden;
    this.columns = graph.columns;
    this.block = graph.block;
    this.terms = graph.terms;
  }

  static async create(model: RCNN | OutputLayer, opts: OnnxOutputOptions = {}): Promise<OnnxOutput> {
    const threads = opts.threads ?? 1;
    assertInt(threads, 'opts.threads', 1);
    const block = opts.block ?? TOP_BLOCK;
    assertInt(block, 'opts.block', 1);
    if (opts.rowsPerRun !== undefined) assertInt(opts.rowsPerRun, 'opts.rowsPerRun', 1);
    const layer = innerLayer(model);
    // the weights read once, for both graphs
    const weights = outputWeights(layer);
    const graph = outputGraph(weights, block);
    const ort = opts.runtime ?? (await loadRuntime());
    const session = await ort.InferenceSession.create(encodeModel(graph.model), sessionOptions(threads));
    const rescore = await ort.InferenceSession.create(encodeModel(outputGraph(weights, block, true).model), sessionOptions(threads));
    const shifted = weights.kind === 'factored' ? await ort.InferenceSession.create(encodeModel(outputGraph(weights, block, false, true).model), sessionOptions(threads)) : null;
    const rowsPerRun = opts.rowsPerRun ?? Math.max(16, Math.round(LOGITS_PER_RUN / graph.columns));
    return new OnnxOutput(ort, session, rescore, shifted, graph, layer.hidden, rowsPerRun);
  }

  /**
   * With `memo` (one per search, passed to each of its passes with the same `h`), the first run keeps each row's
   * class terms, and a later pass over rows it ran takes the lighter graph that reuses them (the logits and the
   * search only): the same lists up to float rounding.
   */
  async logCandidatesAsync(h: Float32Array, cells: Int32Array, m: number, extras: ExtraCodes, memo?: AsyncSearchMemo): Promise<LogCandidates> {
    const session = this.session;
    const rescore = this.rescore;
    if (session === null || rescore === null) fail('E_STATE', 'OnnxOutput', 'a session not released', 'released');
    const { hidden, k, terms } = this;
    assertInt(m, 'm', 1, k);
    const n = cells.length;
    if (h.length % hidden !== 0) fail('E_SHAPE', 'h', `rows of ${hidden} values`, h.length);
    if (extras.start.length !== n + 1) fail('E_SHAPE', 'extras.start', `${n + 1} offsets`, extras.start.length);
    const rowsOfH = h.length / hidden;
    for (let r = 0; r < n; r++) if (!(cells[r] >= 0 && cells[r] < rowsOfH)) fail('E_RANGE', `cells[${r}]`, `a row of h in [0, ${rowsOfH - 1}]`, cells[r]);
    for (let j = 0; j < extras.codes.length; j++) if (!(extras.codes[j] >= 0 && extras.codes[j] < k)) fail('E_RANGE', `extras.codes[${j}]`, `a code in [0, ${k - 1}]`, extras.codes[j]);
    const out = emptyLogCandidates(n, m, extras.codes.length);
    if (n === 0) return out;
    let e = 1;
    let everyRow = n === rowsOfH;
    for (let r = 0; r < n; r++) {
      e = Math.max(e, extras.start[r + 1] - extras.start[r]);
      everyRow &&= cells[r] === r;
    }
    // a frame's first pass asks for every row in order: h as it is; a later pass's rows are gathered (element
    // loops, not a subarray a row: this runs for every cell of every pass)
    let hs = h;
    if (!everyRow) {
      hs = new Float32Array(n * hidden);
      for (let r = 0; r < n; r++) {
        const from = cells[r] * hidden;
        for (let j = 0; j < hidden; j++) hs[r * hidden + j] = h[from + j];
      }
    }
    // extras padded to E a row (code 0, read back by no one)
    const extra = new Int32Array(n * e);
    for (let r = 0; r < n; r++) for (let j = extras.start[r]; j < extras.start[r + 1]; j++) extra[r * e + j - extras.start[r]] = extras.codes[j];
    const kept = memo?.state as KeptTerms | undefined;
    const reuse = kept !== undefined && kept.h === h && cells.every((i) => kept.scored[i] === 1);
    let ct: Float32Array | null = null;
    if (reuse) {
      ct = new Float32Array(n * terms);
      for (let r = 0; r < n; r++) for (let j = 0; j < terms; j++) ct[r * terms + j] = kept.terms[cells[r] * terms + j];
    }
    const lists: GraphLists = {
      logq: new Float32Array(n * m),
      codes: new Int32Array(n * m),
      extraLogq: new Float32Array(n * e),
      terms: reuse ? null : new Float32Array(n * terms),
    };
    const first = reuse ? rescore : this.shifted ?? session;
    const low = await this.runRows(first, hs, extra, ct, m, e, null, lists);
    if (!reuse) this.stats.rows += n;
    if (low) {
      // rows where a class's shifted sum may have underflowed: again from the graph that subtracts each block's largest logit
      const again: number[] = [];
      for (let r = 0; r < n; r++) if (!(low[r] >= SHIFT_FLOOR)) again.push(r);
      if (again.length > 0) await this.runRows(session, hs, extra, null, m, e, again, lists);
      this.stats.fallbackRows += again.length;
    }
    if (memo && lists.terms) {
      const state: KeptTerms = kept !== undefined && kept.h === h ? kept : { h, scored: new Uint8Array(rowsOfH), terms: new Float32Array(rowsOfH * terms) };
      const ct = lists.terms;
      for (let r = 0; r < n; r++) {
        state.scored[cells[r]] = 1;
        for (let j = 0; j < terms; j++) state.terms[cells[r] * terms + j] = ct[r * terms + j];
      }
      memo.state = state;
    }
    const logq = lists.logq;
    const extraLogq = lists.extraLogq;
    out.codes.set(lists.codes);
    out.logq.set(logq);
    for (let r = 0; r < n; r++) {
      for (let j = extras.start[r]; j < extras.start[r + 1]; j++) out.extraLogq[j] = extraLogq[r * e + j - extras.start[r]];
      out.bound[r] = m < k ? logq[r * m + m - 1] : -Infinity;
    }
    return out;
  }

  /**
   * Runs `session` over the rows `only` of hs (all when null) in runs of at most `rowsPerRun`, writing each row's
   * outputs at its place in `into`; returns the rows' `shift_low` where the graph has it.
   */
  private async runRows(session: OnnxSession, hs: Float32Array, extra: Int32Array, ct: Float32Array | null, m: number, e: number, only: number[] | null, into: GraphLists): Promise<Float32Array | null> {
    const { hidden, terms } = this;
    const T = this.ort.Tensor;
    const n = only ? only.length : hs.length / hidden;
    const depth = new T('int64', BigInt64Array.of(BigInt(m)), [1]);
    const blocks = new T('int64', BigInt64Array.of(BigInt(Math.min(m, this.columns / this.block))), [1]);
    let low: Float32Array | null = null;
    for (let a = 0; a < n; a += this.rowsPerRun) {
      const c = Math.min(this.rowsPerRun, n - a);
      // consecutive rows are fed as views; a list of rows (the fallback's) is gathered
      const rows = (from: Float32Array | Int32Array, width: number) => {
        if (!only) return from.subarray(a * width, (a + c) * width);
        const to = new (from.constructor as Float32ArrayConstructor | Int32ArrayConstructor)(c * width);
        for (let j = 0; j < c; j++) to.set(from.subarray(only[a + j] * width, (only[a + j] + 1) * width), j * width);
        return to;
      };
      const feeds: Record<string, OnnxRuntimeTensor> = { h: new T('float32', rows(hs, hidden), [c, hidden]), depth, blocks, extra: new T('int32', rows(extra, e), [c, e]) };
      if (ct) feeds.class_term = new T('float32', rows(ct, terms), [c, terms]);
      const res = await session.run(feeds);
      const put = (to: Float32Array | Int32Array | null, from: Float32Array | Int32Array | undefined, width: number) => {
        if (!to || !from) return;
        if (!only) to.set(from, a * width);
        else for (let j = 0; j < c; j++) to.set(from.subarray(j * width, (j + 1) * width), only[a + j] * width);
      };
      put(into.logq, res.top_logq.data as Float32Array, m);
      put(into.codes, res.top_codes.data as Int32Array, m);
      put(into.extraLogq, res.extra_logq.data as Float32Array, e);
      put(into.terms, res.class_term?.data as Float32Array | undefined, terms);
      const sl = res.shift_low?.data as Float32Array | undefined;
      if (sl) (low ??= new Float32Array(n)).set(sl, a);
    }
    return low;
  }

  /** Frees the native sessions (E_STATE on later calls). */
  async release(): Promise<void> {
    const s = [this.session, this.rescore, this.shifted];
    this.session = null;
    this.rescore = null;
    this.shifted = null;
    for (const x of s) await x?.release();
  }
}

/**
 * The ONNX graph of a model's recurrent step (embedding, 'same' convolutions as ONNX Conv, the tanh or GRU
 * cell), written for another runtime. E_STATE for models with motion inputs or two scales.
 * @example
 * ```ts
 * writeFileSync('step.onnx', exportStepOnnx(model));
 * ```
 */
export function exportStepOnnx(model: RCNN): Uint8Array {
  const parts = partsOf(model);
  return encodeModel(stepGraph(model.config, parts.net.snapshot()));
}

/**
 * A model's recurrent step run by an ONNX runtime: an {@link AsyncStepper} for `RCNN.predictFramesAsync` (its
 * `stepper`), with the convolutions in native kernels instead of wasm. The states are those of the tfjs step up to
 * float rounding. Single-scale models that read codes only (E_STATE otherwise). Call {@link OnnxStep.release} when
 * done.
 * @example
 * ```ts
 * const stepper = await OnnxStep.create(model);
 * const frames = await model.predictFramesAsync(context, 4, { codec, reference, source, stepper });
 * ```
 */
export class OnnxStep implements AsyncStepper {
  private constructor(
    private readonly ort: OnnxRuntime,
    private session: OnnxSession | null,
    /** Codes K and the state width it reads and writes. */
    readonly k: number,
    readonly hidden: number,
  ) {}

  /**
   * Whether the step graph holds this model's step (single-scale, codes only): where it does not, {@link create}
   * refuses the model (E_STATE) and the tfjs step runs instead (leave `stepper` out of `predictFramesAsync`).
   * @example
   * ```ts
   * const stepper = OnnxStep.supports(model) ? await OnnxStep.create(model) : undefined;
   * ```
   */
  static supports(model: RCNN): boolean {
    return stepRefusal(model.config) === null;
  }

  static async create(model: RCNN, opts: Pick<OnnxOutputOptions, 'threads' | 'runtime'> = {}): Promise<OnnxStep> {
    const threads = opts.threads ?? 1;
    assertInt(threads, 'opts.threads', 1);
    const graph = exportStepOnnx(model);
    const ort = opts.runtime ?? (await loadRuntime());
    const session = await ort.InferenceSession.create(graph, sessionOptions(threads));
    return new OnnxStep(ort, session, model.config.k, model.config.hidden);
  }

  async stepAsync(h: Float32Array, codes: Int32Array, rows: number, cols: number): Promise<Float32Array> {
    const session = this.session;
    if (session === null) fail('E_STATE', 'OnnxStep', 'a session not released', 'released');
    assertInt(rows, 'rows', 1);
    assertInt(cols, 'cols', 1);
    const n = rows * cols;
    if (!(codes instanceof Int32Array) || codes.length !== n) fail('E_SHAPE', 'codes', `an Int32Array of ${n} codes (rows x cols)`, codes?.length);
    for (let i = 0; i < n; i++) if (!(codes[i] >= 0 && codes[i] < this.k)) fail('E_RANGE', `codes[${i}]`, `a code in [0, ${this.k - 1}]`, codes[i]);
    if (!(h instanceof Float32Array) || h.length !== n * this.hidden) fail('E_SHAPE', 'h', `a Float32Array of ${n} x ${this.hidden} values`, h?.length);
    const T = this.ort.Tensor;
    const res = await session.run({ codes: new T('int32', codes, [1, rows, cols]), h: new T('float32', h, [n, this.hidden]) });
    return res.h_next.data as Float32Array;
  }

  /** Frees the native session (E_STATE on later calls). */
  async release(): Promise<void> {
    const s = this.session;
    this.session = null;
    await s?.release();
  }
}
