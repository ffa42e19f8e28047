import { fail } from '@vqvid/core';
import { classesFromClassOf } from '../output/classes';
import type { OutputLayer } from '../output/layer';
// the padded columns' logit: a probability of zero (exp underflows to 0), as the mixture writes it
import { LOG_ZERO } from '../output/mixture';
import { GraphBuilder, type OnnxModel } from './proto';

/** Columns per block of the two-stage top search (see {@link outputGraph}). */
export const TOP_BLOCK = 16;


/** An inner (non-mixture) output layer's weights as plain arrays, read once from its variables. */
export interface OutputWeights {
  kind: 'full' | 'factored';
  k: number;
  hidden: number;
  /** Full: W [hidden, K] and b [K] by code. Factored: the member weights [hidden, K] and biases [K] in class-contiguous order. */
  w: Float32Array;
  b: Float32Array;
  /** Factored only: class weights [hidden, C], biases [C], and each class's codes ascending (the column order of `w`). */
  wc?: Float32Array;
  bc?: Float32Array;
  members?: Int32Array[];
}

/** Reads `layer`'s weights (a full or factored softmax without direct connections; E_STATE otherwise). */
export function outputWeights(layer: OutputLayer): OutputWeights {
  if (layer.direct) fail('E_STATE', 'layer', 'an output layer without direct connections (the ONNX graph has no [K, K] table)', 'direct: true');
  const data = layer.variables.map((v) => v.dataSync() as Float32Array);
  const { k, hidden } = layer;
  if (layer.kind === 'full') return { kind: 'full', k, hidden, w: data[0], b: data[1] };
  const json = layer.toJSON();
  const { members } = classesFromClassOf(json.classOf, k, 'layer.classOf');
  return { kind: 'factored', k, hidden, wc: data[0], bc: data[1], w: data[2], b: data[3], members };
}

/** A graph for {@link outputWeights}. */
export interface OutputGraph {
  model: OnnxModel;
  /** Columns of the padded ln q row: each class's members, then ln 0 padding up to whole blocks. */
  columns: number;
  block: number;
  /** colOf[code]: the code's column. */
  colOf: Int32Array;
  /** Width of `class_term`: the classes, 1 for the full softmax. */
  terms: number;
}

/**
 * Classes grouped by their count of blocks: sorted by it, a group closes when the next class has more than 1.25x
 * the blocks of its first; each class of a group is padded with empty blocks to the group's largest.
 */
function blockGroups(blocksOf: number[]): number[][] {
  const order = blocksOf.map((_, c) => c).sort((a, b) => blocksOf[a] - blocksOf[b] || a - b);
  const groups: number[][] = [];
  for (const c of order) {
    const g = groups[groups.length - 1];
    if (g && blocksOf[c] <= 1.25 * blocksOf[g[0]]) g.push(c);
    else groups.push([c]);
  }
  return groups;
}

/**
 * The ONNX graph of an output layer's top-M search: each row's `depth` codes of highest ln q(x | h), exactly, and
 * ln q of given extra codes.
 *
 * Inputs: `h` float32 [n, hidden]; `depth` int64 [1]; `blocks` int64 [1] (how many blocks stage 1 keeps:
 * min(depth, number of blocks)); `extra` int32 [n, E] codes. Outputs: `top_logq` float32 [n, depth] descending,
 * `top_codes` int32 [n, depth] (−1 for a padding column, only when depth exceeds K), `extra_logq` float32 [n, E]
 * and `class_term` float32 [n, C] (C = 1 for the full softmax): with z = h·W + b, ln q(x) = z_x + class_term[class
 * of x], class_term = ln p(class) − ln Σ exp of the class's member logits (the full softmax: −ln Σ exp of the row).
 * With `rescore`, `class_term` is an input instead (a first run's, for the same states): the graph computes only
 * the logits and the search, for a deeper list of cells already scored once.
 *
 * The full softmax is the factored one with a single class. Each class's members take whole blocks of `block`
 * codes (the last one padded with ln 0), so one product gives every logit and each block belongs to one class.
 * Columns are interleaved (slot j of block b at column j·blocks + b), so that a reduction over a block's slots
 * runs over contiguous rows of the [block, blocks] matrix of each state.
 * - ln Σ exp of each block (from its own largest logit: safe for any weights), then of each class over its blocks
 *   (classes grouped by their number of blocks: one gather and one reduction a group, over a few hundred values a
 *   row).
 * - Stage 1: a block's largest ln q is its largest logit plus its class's term; the `depth` best codes lie in the
 *   `depth` blocks of highest maximum (each is at most its block's maximum). Stage 2 takes the best of those blocks.
 * Ties between equal values may be ordered differently from the tfjs search (which takes the lower code first).
 */
export function outputGraph(ow: OutputWeights, block = TOP_BLOCK, rescore = false, shifted = false): OutputGraph {
  const { k, hidden } = ow;
  const members = ow.kind === 'full' ? [Int32Array.from({ length: k }, (_, i) => i)] : ow.members!;
  const nc = members.length;
  const blocksOf = members.map((m) => Math.ceil(m.length / block));
  const firstBlock: number[] = [];
  const nb = blocksOf.reduce((at, c) => (firstBlock.push(at), at + c), 0);
  const columns = nb * block;
  const w = new Float32Array(hidden * columns);
  const b = new Float32Array(columns).fill(LOG_ZERO);
  const colToCode = new Int32Array(columns).fill(-1);
  const colOf = new Int32Array(k);
  const classOf = new Int32Array(k);
  const blockClass: number[] = [];
  // the source's member columns: full, the codes; factored, class-contiguous
  let src = 0;
  members.forEach((codes, c) => {
    for (let j = 0; j < blocksOf[c]; j++) blockClass.push(c);
    codes.forEach((code, j) => {
      const col = (j % block) * nb + firstBlock[c] + Math.floor(j / block);
      for (let r = 0; r < hidden; r++) w[r * columns + col] = ow.w[r * k + src];
      b[col] = ow.b[src++];
      colToCode[col] = code;
      colOf[code] = col;
      classOf[code] = c;
    });
  });

  const g = new GraphBuilder();
  g.i64('axis1', [1]);
  g.i64('shape3', [-1, block, nb]);
  g.node('Shape', ['h'], ['h_shape']);
  g.node('Slice', ['h_shape', g.i64('zero1', [0]), 'axis1'], ['n1']);
  // the full softmax's first run: ln q from one softmax over the row; otherwise ln q = z + the class's term
  const full = ow.kind === 'full' && !rescore;
  const shift = shifted && !full && !rescore;
  if (shift) {
    shiftedGraph(g, ow, w, b, columns, nb, blockClass);
  } else {
    g.f32('W', [hidden, columns], w);
    g.f32('b', [columns], b);
    g.node('MatMul', ['h', 'W'], ['hw']);
    g.node('Add', ['hw', 'b'], ['z']);
  }
  if (full) {
    // one softmax over the row: ln q itself (computed from the row's largest logit, exact for any logits)
    g.node('LogSoftmax', ['z'], ['logq'], { axis: { int: 1 } });
    g.node('Reshape', ['logq', 'shape3'], ['z3']);
    g.node('ReduceMax', ['z3'], ['block_max'], { axes: { ints: [1] }, keepdims: { int: 0 } });
    // the row's −ln Σ exp, for a later rescore: ln q − z of a real column
    g.node('Gather', ['logq', g.i64('real_col', [colOf[0]])], ['logq_real'], { axis: { int: 1 } });
    g.node('Gather', ['z', 'real_col'], ['z_real'], { axis: { int: 1 } });
    g.node('Sub', ['logq_real', 'z_real'], ['class_term']);
  } else {
    if (!shift) {
      if (rescore) {
        // the class terms come in: only the logits and the search are computed
        g.node('Reshape', ['z', 'shape3'], ['z3']);
        g.node('ReduceMax', ['z3'], ['block_top3'], { axes: { ints: [1] }, keepdims: { int: 1 } });
      } else {
        classTerms(g, ow, nb, blocksOf, firstBlock);
      }
      // a block's addend: its class's term (shiftedGraph adds the class's shift too)
      g.node('Gather', ['class_term', g.i64('block_class', blockClass)], ['block_add'], { axis: { int: 1 } });
      g.node('Squeeze', ['block_top3', 'axis1'], ['block_top']);
    }
    // a block's largest ln q: its largest logit plus its addend
    g.node('Add', ['block_top', 'block_add'], ['block_max']);
  }
  // stage 1: the blocks of highest maximum ln q
  // which blocks, not their order: unsorted
  g.node('TopK', ['block_max', 'blocks'], ['_bv', 'best_blocks'], { axis: { int: 1 }, sorted: { int: 0 } });
  g.node('Unsqueeze', ['best_blocks', 'axis1'], ['best_blocks3']);
  g.node('Concat', ['n1', g.i64('block_width', [block]), 'blocks'], ['kept_shape'], { axis: { int: 0 } });
  g.node('Expand', ['best_blocks3', 'kept_shape'], ['kept_index']);
  if (full) {
    g.node('GatherElements', ['z3', 'kept_index'], ['kept'], { axis: { int: 2 } });
  } else {
    // a kept column's ln q: its (shifted) logit plus its block's addend
    g.node('GatherElements', ['z3', 'kept_index'], ['kept_z'], { axis: { int: 2 } });
    g.node('GatherElements', ['block_add', 'best_blocks'], ['kept_term'], { axis: { int: 1 } });
    g.node('Unsqueeze', ['kept_term', 'axis1'], ['kept_term3']);
    g.node('Add', ['kept_z', 'kept_term3'], ['kept']);
  }
  g.node('Reshape', ['kept', g.i64('keep_flat', [0, -1])], ['kept_flat']);
  // stage 2: the depth best of their columns (slot j of kept block i at j·blocks + i), mapped back to codes
  g.node('TopK', ['kept_flat', 'depth'], ['top_logq', 'at'], { axis: { int: 1 } });
  g.node('Div', ['at', 'blocks'], ['at_slot']);
  g.node('Mod', ['at', 'blocks'], ['at_kept']);
  g.node('GatherElements', ['best_blocks', 'at_kept'], ['at_block'], { axis: { int: 1 } });
  g.node('Mul', ['at_slot', g.i64('block_count', [nb])], ['slot_base']);
  g.node('Add', ['slot_base', 'at_block'], ['top_cols']);
  g.i32('col_to_code', [columns], colToCode);
  g.node('Gather', ['col_to_code', 'top_cols'], ['top_codes'], { axis: { int: 0 } });
  // the extra codes: ln q read off (full), or their logit plus their class's term
  g.i32('code_to_col', [k], colOf);
  g.node('Gather', ['code_to_col', 'extra'], ['extra_cols32'], { axis: { int: 0 } });
  g.node('Cast', ['extra_cols32'], ['extra_cols'], { to: { int: 7 } });
  if (full) {
    g.node('GatherElements', ['logq', 'extra_cols'], ['extra_logq'], { axis: { int: 1 } });
  } else {
    g.i32('code_to_class', [k], classOf);
    g.node('GatherElements', ['z', 'extra_cols'], ['extra_z'], { axis: { int: 1 } });
    g.node('Gather', ['code_to_class', 'extra'], ['extra_class32'], { axis: { int: 0 } });
    g.node('Cast', ['extra_class32'], ['extra_class'], { to: { int: 7 } });
    g.node('GatherElements', [shift ? 'class_add' : 'class_term', 'extra_class'], ['extra_term'], { axis: { int: 1 } });
    g.node('Add', ['extra_z', 'extra_term'], ['extra_logq']);
  }
  const model: OnnxModel = {
    nodes: g.nodes,
    initializers: g.initializers,
    inputs: [
      { name: 'h', dtype: 'float32', shape: ['n', hidden] },
      { name: 'depth', dtype: 'int64', shape: [1] },
      { name: 'blocks', dtype: 'int64', shape: [1] },
      { name: 'extra', dtype: 'int32', shape: ['n', 'e'] },
      ...(rescore ? [{ name: 'class_term', dtype: 'float32' as const, shape: ['n', nc] }] : []),
    ],
    outputs: [
      { name: 'top_logq', dtype: 'float32', shape: ['n', 'depth'] },
      { name: 'top_codes', dtype: 'int32', shape: ['n', 'depth'] },
      { name: 'extra_logq', dtype: 'float32', shape: ['n', 'e'] },
      ...(rescore ? [] : [{ name: 'class_term', dtype: 'float32' as const, shape: ['n', nc] }]),
      ...(shift ? [{ name: 'shift_low', dtype: 'float32' as const, shape: ['n'] }] : []),
    ],
    name: `vqvid-${ow.kind}-output-k${k}`,
  };
  return { model, columns, block, colOf, terms: nc };
}

/**
 * The factored graph's `class_term` [n, C] = ln p(class) − ln Σ exp of the class's member logits, from `z` (the
 * logits, interleaved as in {@link outputGraph}): ln Σ exp of every block from its own largest logit (`block_top3`,
 * also the next stage's), then of each class over its blocks, classes grouped by their number of blocks (a ln 0
 * column at index nb stands for a group's padding blocks).
 */
function classTerms(g: GraphBuilder, ow: OutputWeights, nb: number, blocksOf: number[], firstBlock: number[]): void {
  const nc = blocksOf.length;
  g.node('Reshape', ['z', 'shape3'], ['z3']);
  g.node('ReduceMax', ['z3'], ['block_top3'], { axes: { ints: [1] }, keepdims: { int: 1 } });
  g.node('Sub', ['z3', 'block_top3'], ['z3_shift']);
  g.node('Exp', ['z3_shift'], ['z3_exp']);
  g.node('ReduceSum', ['z3_exp', 'axis1'], ['block_sum'], { keepdims: { int: 0 } });
  g.node('Log', ['block_sum'], ['block_log']);
  g.node('Squeeze', ['block_top3', 'axis1'], ['block_top_z']);
  g.node('Add', ['block_log', 'block_top_z'], ['block_lse']);
  g.f32('log_zero', [1, 1], Float32Array.of(LOG_ZERO));
  g.node('Concat', ['n1', 'axis1'], ['n_by_1'], { axis: { int: 0 } });
  g.node('Expand', ['log_zero', 'n_by_1'], ['log_zero_col']);
  g.node('Concat', ['block_lse', 'log_zero_col'], ['block_lse_ext'], { axis: { int: 1 } });
  const groupOut: string[] = [];
  const classAt: number[] = [];
  blockGroups(blocksOf).forEach((group, q) => {
    const width = blocksOf[group[group.length - 1]];
    const idx: number[] = [];
    for (const c of group) for (let j = 0; j < width; j++) idx.push(j < blocksOf[c] ? firstBlock[c] + j : nb);
    g.node('Gather', ['block_lse_ext', g.i64(`group${q}`, idx, [group.length, width])], [`gl${q}`], { axis: { int: 1 } });
    if (width === 1) {
      g.node('Squeeze', [`gl${q}`, g.i64(`axis2_${q}`, [2])], [`glse${q}`]);
    } else {
      g.node('ReduceMax', [`gl${q}`], [`gm${q}`], { axes: { ints: [2] }, keepdims: { int: 1 } });
      g.node('Sub', [`gl${q}`, `gm${q}`], [`gd${q}`]);
      g.node('Exp', [`gd${q}`], [`ge${q}`]);
      g.node('ReduceSum', [`ge${q}`, g.i64(`axis2_${q}`, [2])], [`gs${q}`], { keepdims: { int: 0 } });
      g.node('Log', [`gs${q}`], [`glog${q}`]);
      g.node('Squeeze', [`gm${q}`, `axis2_${q}`], [`gms${q}`]);
      g.node('Add', [`glog${q}`, `gms${q}`], [`glse${q}`]);
    }
    groupOut.push(`glse${q}`);
    classAt.push(...group);
  });
  if (groupOut.length > 1) g.node('Concat', groupOut, ['lse_grouped'], { axis: { int: 1 } });
  else g.node('Identity', groupOut, ['lse_grouped']);
  // back to class order
  const position = new Array<number>(nc);
  classAt.forEach((c, at) => (position[c] = at));
  g.node('Gather', ['lse_grouped', g.i64('class_order', position)], ['class_lse'], { axis: { int: 1 } });
  classTerm(g, ow, nc);
}

/** `class_term` [n, C] = ln p(class | h) − `class_lse` (each class's ln Σ exp of its members' logits). */
function classTerm(g: GraphBuilder, ow: OutputWeights, nc: number): void {
  g.f32('Wc', [ow.hidden, nc], ow.wc!);
  g.f32('bc', [nc], ow.bc!);
  g.node('MatMul', ['h', 'Wc'], ['hwc']);
  g.node('Add', ['hwc', 'bc'], ['cz']);
  g.node('LogSoftmax', ['cz'], ['class_logp'], { axis: { int: 1 } });
  g.node('Sub', ['class_logp', 'class_lse'], ['class_term']);
}

/** A row's ln Σ exp of a class's shifted logits may fall this low before the sum loses precision (exp underflows below about −87). */
export const SHIFT_FLOOR = -64;

/**
 * The factored first graph from shifted logits, without a pass over the [n, columns] logits to shift them:
 * z_s = [h, ‖h‖]·[W; −m_C] + (b − c_C) = z − s_C, with m_C the largest ‖w_x‖ and c_C the largest bias of the
 * column's class C, so that by Cauchy–Schwarz z_s ≤ 0 for any h (exp cannot overflow) and `class_shift` [n, C] =
 * ‖h‖·m_C + c_C restores z. Each block's Σ exp(z_s), then each class's as one product with the [blocks, C] 0/1
 * membership matrix (the classes share no scale to subtract); the per-block and per-class addends (shift plus class
 * term) likewise. Outputs: `class_term`, `block_top` (each block's largest shifted logit), `block_add` [n, nb] and
 * `class_add` [n, C] (a code's ln q is its shifted logit plus its block's or class's addend), and `shift_low`, a
 * row's lowest ln Σ exp(z_s) over its classes: a row below {@link SHIFT_FLOOR} may have lost a class's sum to
 * underflow and is run again by the unshifted graph.
 */
function shiftedGraph(g: GraphBuilder, ow: OutputWeights, w: Float32Array, b: Float32Array, columns: number, nb: number, blockClass: number[]): void {
  const { hidden } = ow;
  const nc = ow.wc!.length / hidden;
  const classOfCol = (c: number) => blockClass[c % nb];
  const norm = new Float64Array(columns);
  for (let r = 0; r < hidden; r++) for (let c = 0; c < columns; c++) norm[c] += w[r * columns + c] * w[r * columns + c];
  const mc = new Float32Array(nc);
  const cc = new Float32Array(nc).fill(-Infinity);
  for (let c = 0; c < columns; c++) {
    const k = classOfCol(c);
    // norms rounded up, so that the bound holds in float
    mc[k] = Math.max(mc[k], Math.fround(Math.sqrt(norm[c]) * (1 + 1e-5)));
    if (b[c] > LOG_ZERO / 2) cc[k] = Math.max(cc[k], b[c]);
  }
  const wa = new Float32Array((hidden + 1) * columns);
  wa.set(w);
  const ba = new Float32Array(columns);
  for (let c = 0; c < columns; c++) {
    wa[hidden * columns + c] = -mc[classOfCol(c)];
    ba[c] = b[c] - cc[classOfCol(c)];
  }
  // membership of block in class, both ways
  const member = new Float32Array(nb * nc);
  const memberT = new Float32Array(nc * nb);
  blockClass.forEach((k, bl) => {
    member[bl * nc + k] = 1;
    memberT[k * nb + bl] = 1;
  });
  g.f32('W', [hidden + 1, columns], wa);
  g.f32('b', [columns], ba);
  g.f32('class_norm', [1, nc], mc);
  g.f32('class_bias', [1, nc], cc);
  g.f32('member', [nb, nc], member);
  g.f32('member_t', [nc, nb], memberT);
  g.node('ReduceL2', ['h'], ['h_norm'], { axes: { ints: [1] }, keepdims: { int: 1 } });
  g.node('Concat', ['h', 'h_norm'], ['h_aug'], { axis: { int: 1 } });
  g.node('MatMul', ['h_aug', 'W'], ['hw']);
  g.node('Add', ['hw', 'b'], ['z']);
  g.node('Mul', ['h_norm', 'class_norm'], ['shift_scaled']);
  g.node('Add', ['shift_scaled', 'class_bias'], ['class_shift']);
  g.node('Reshape', ['z', 'shape3'], ['z3']);
  g.node('ReduceMax', ['z3'], ['block_top'], { axes: { ints: [1] }, keepdims: { int: 0 } });
  g.node('Exp', ['z3'], ['z3_exp']);
  g.node('ReduceSum', ['z3_exp', 'axis1'], ['block_sum'], { keepdims: { int: 0 } });
  g.node('MatMul', ['block_sum', 'member'], ['class_sum']);
  g.node('Log', ['class_sum'], ['class_log']);
  g.node('ReduceMin', ['class_log'], ['shift_low'], { axes: { ints: [1] }, keepdims: { int: 0 } });
  g.node('Add', ['class_log', 'class_shift'], ['class_lse']);
  classTerm(g, ow, nc);
  g.node('Add', ['class_shift', 'class_term'], ['class_add']);
  // each block's addend: its class's (one 1 a row of member_t, so the product is the value itself)
  g.node('MatMul', ['class_add', 'member_t'], ['block_add']);
}
