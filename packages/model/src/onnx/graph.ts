import { fail } from '@vqvid/core';
import { classesFromClassOf } from '../output/classes';
import type { OutputLayer } from '../output/layer';
import type { OnnxModel, OnnxNode, OnnxTensor } from './proto';

/** Columns per block of the two-stage top search (see {@link outputGraph}). */
export const TOP_BLOCK = 16;

/** ln of a probability that is zero in the graph's padded columns: finite, so sums stay NaN-free. */
const LOG_ZERO = -1e30;

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
export function outputGraph(ow: OutputWeights, block = TOP_BLOCK, rescore = false): OutputGraph {
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

  const nodes: OnnxNode[] = [];
  const inits: OnnxTensor[] = [];
  const i64 = (name: string, values: ArrayLike<number>, dims = [values.length]): string => {
    inits.push({ name, dtype: 'int64', dims, data: BigInt64Array.from(Array.from(values, BigInt)) });
    return name;
  };
  const node = (op: string, inputs: string[], outputs: string[], attrs?: OnnxNode['attrs']): void => {
    nodes.push({ op, inputs, outputs, attrs });
  };
  inits.push({ name: 'W', dtype: 'float32', dims: [hidden, columns], data: w }, { name: 'b', dtype: 'float32', dims: [columns], data: b });
  i64('axis1', [1]);
  i64('shape3', [-1, block, nb]);
  node('MatMul', ['h', 'W'], ['hw']);
  node('Add', ['hw', 'b'], ['z']);
  node('Shape', ['h'], ['h_shape']);
  node('Slice', ['h_shape', i64('zero1', [0]), 'axis1'], ['n1']);
  // the full softmax's first run: ln q from one softmax over the row; otherwise ln q = z + the class's term
  const full = ow.kind === 'full' && !rescore;
  if (full) {
    // one softmax over the row: ln q itself (computed from the row's largest logit, exact for any logits)
    node('LogSoftmax', ['z'], ['logq'], { axis: { int: 1 } });
    node('Reshape', ['logq', 'shape3'], ['z3']);
    node('ReduceMax', ['z3'], ['block_max'], { axes: { ints: [1] }, keepdims: { int: 0 } });
    // the row's −ln Σ exp, for a later rescore: ln q − z of a real column
    node('Gather', ['logq', i64('real_col', [colOf[0]])], ['logq_real'], { axis: { int: 1 } });
    node('Gather', ['z', 'real_col'], ['z_real'], { axis: { int: 1 } });
    node('Sub', ['logq_real', 'z_real'], ['class_term']);
  } else {
    if (rescore) {
      // the class terms come in: only the logits and the search are computed
      node('Reshape', ['z', 'shape3'], ['z3']);
      node('ReduceMax', ['z3'], ['block_top3'], { axes: { ints: [1] }, keepdims: { int: 1 } });
    } else {
      classTerms(ow, nc, nb, blocksOf, firstBlock, node, i64, inits);
    }
    // a block's largest ln q: its largest logit plus its class's term
    node('Gather', ['class_term', i64('block_class', blockClass)], ['block_term'], { axis: { int: 1 } });
    node('Squeeze', ['block_top3', 'axis1'], ['block_top']);
    node('Add', ['block_top', 'block_term'], ['block_max']);
  }
  // stage 1: the blocks of highest maximum ln q
  // which blocks, not their order: unsorted
  node('TopK', ['block_max', 'blocks'], ['_bv', 'best_blocks'], { axis: { int: 1 }, sorted: { int: 0 } });
  node('Unsqueeze', ['best_blocks', 'axis1'], ['best_blocks3']);
  node('Concat', ['n1', i64('block_width', [block]), 'blocks'], ['kept_shape'], { axis: { int: 0 } });
  node('Expand', ['best_blocks3', 'kept_shape'], ['kept_index']);
  if (full) {
    node('GatherElements', ['z3', 'kept_index'], ['kept'], { axis: { int: 2 } });
  } else {
    node('GatherElements', ['z3', 'kept_index'], ['kept_z'], { axis: { int: 2 } });
    node('GatherElements', ['block_term', 'best_blocks'], ['kept_term'], { axis: { int: 1 } });
    node('Unsqueeze', ['kept_term', 'axis1'], ['kept_term3']);
    node('Add', ['kept_z', 'kept_term3'], ['kept']);
  }
  node('Reshape', ['kept', i64('keep_flat', [0, -1])], ['kept_flat']);
  // stage 2: the depth best of their columns (slot j of kept block i at j·blocks + i), mapped back to codes
  node('TopK', ['kept_flat', 'depth'], ['top_logq', 'at'], { axis: { int: 1 } });
  node('Div', ['at', 'blocks'], ['at_slot']);
  node('Mod', ['at', 'blocks'], ['at_kept']);
  node('GatherElements', ['best_blocks', 'at_kept'], ['at_block'], { axis: { int: 1 } });
  node('Mul', ['at_slot', i64('block_count', [nb])], ['slot_base']);
  node('Add', ['slot_base', 'at_block'], ['top_cols']);
  inits.push({ name: 'col_to_code', dtype: 'int32', dims: [columns], data: colToCode });
  node('Gather', ['col_to_code', 'top_cols'], ['top_codes'], { axis: { int: 0 } });
  // the extra codes: ln q read off (full), or their logit plus their class's term
  inits.push({ name: 'code_to_col', dtype: 'int32', dims: [k], data: colOf });
  node('Gather', ['code_to_col', 'extra'], ['extra_cols32'], { axis: { int: 0 } });
  node('Cast', ['extra_cols32'], ['extra_cols'], { to: { int: 7 } });
  if (full) {
    node('GatherElements', ['logq', 'extra_cols'], ['extra_logq'], { axis: { int: 1 } });
  } else {
    inits.push({ name: 'code_to_class', dtype: 'int32', dims: [k], data: classOf });
    node('GatherElements', ['z', 'extra_cols'], ['extra_z'], { axis: { int: 1 } });
    node('Gather', ['code_to_class', 'extra'], ['extra_class32'], { axis: { int: 0 } });
    node('Cast', ['extra_class32'], ['extra_class'], { to: { int: 7 } });
    node('GatherElements', ['class_term', 'extra_class'], ['extra_term'], { axis: { int: 1 } });
    node('Add', ['extra_z', 'extra_term'], ['extra_logq']);
  }
  const terms = ow.kind === 'full' ? 1 : nc;
  const model: OnnxModel = {
    nodes,
    initializers: inits,
    inputs: [
      { name: 'h', dtype: 'float32', shape: ['n', hidden] },
      { name: 'depth', dtype: 'int64', shape: [1] },
      { name: 'blocks', dtype: 'int64', shape: [1] },
      { name: 'extra', dtype: 'int32', shape: ['n', 'e'] },
      ...(rescore ? [{ name: 'class_term', dtype: 'float32' as const, shape: ['n', terms] }] : []),
    ],
    outputs: [
      { name: 'top_logq', dtype: 'float32', shape: ['n', 'depth'] },
      { name: 'top_codes', dtype: 'int32', shape: ['n', 'depth'] },
      { name: 'extra_logq', dtype: 'float32', shape: ['n', 'e'] },
      ...(rescore ? [] : [{ name: 'class_term', dtype: 'float32' as const, shape: ['n', terms] }]),
    ],
    name: `vqvid-${ow.kind}-output-k${k}`,
  };
  return { model, columns, block, colOf };
}

type NodeFn = (op: string, inputs: string[], outputs: string[], attrs?: OnnxNode['attrs']) => void;

/**
 * The factored graph's `class_term` [n, C] = ln p(class) − ln Σ exp of the class's member logits, from `z` (the
 * logits, interleaved as in {@link outputGraph}): ln Σ exp of every block from its own largest logit (`block_top3`,
 * also the next stage's), then of each class over its blocks, classes grouped by their number of blocks (a ln 0
 * column at index nb stands for a group's padding blocks).
 */
function classTerms(ow: OutputWeights, nc: number, nb: number, blocksOf: number[], firstBlock: number[], node: NodeFn, i64: (name: string, values: ArrayLike<number>, dims?: number[]) => string, inits: OnnxTensor[]): void {
  const { hidden } = ow;
  node('Reshape', ['z', 'shape3'], ['z3']);
  node('ReduceMax', ['z3'], ['block_top3'], { axes: { ints: [1] }, keepdims: { int: 1 } });
  node('Sub', ['z3', 'block_top3'], ['z3_shift']);
  node('Exp', ['z3_shift'], ['z3_exp']);
  node('ReduceSum', ['z3_exp', 'axis1'], ['block_sum'], { keepdims: { int: 0 } });
  node('Log', ['block_sum'], ['block_log']);
  node('Squeeze', ['block_top3', 'axis1'], ['block_top_z']);
  node('Add', ['block_log', 'block_top_z'], ['block_lse']);
  inits.push({ name: 'log_zero', dtype: 'float32', dims: [1, 1], data: Float32Array.of(LOG_ZERO) });
  node('Concat', ['n1', 'axis1'], ['n_by_1'], { axis: { int: 0 } });
  node('Expand', ['log_zero', 'n_by_1'], ['log_zero_col']);
  node('Concat', ['block_lse', 'log_zero_col'], ['block_lse_ext'], { axis: { int: 1 } });
  const groupOut: string[] = [];
  const classAt: number[] = [];
  blockGroups(blocksOf).forEach((group, g) => {
    const width = blocksOf[group[group.length - 1]];
    const idx: number[] = [];
    for (const c of group) for (let j = 0; j < width; j++) idx.push(j < blocksOf[c] ? firstBlock[c] + j : nb);
    node('Gather', ['block_lse_ext', i64(`group${g}`, idx, [group.length, width])], [`gl${g}`], { axis: { int: 1 } });
    if (width === 1) {
      node('Squeeze', [`gl${g}`, i64(`axis2_${g}`, [2])], [`glse${g}`]);
    } else {
      node('ReduceMax', [`gl${g}`], [`gm${g}`], { axes: { ints: [2] }, keepdims: { int: 1 } });
      node('Sub', [`gl${g}`, `gm${g}`], [`gd${g}`]);
      node('Exp', [`gd${g}`], [`ge${g}`]);
      node('ReduceSum', [`ge${g}`, i64(`axis2_${g}`, [2])], [`gs${g}`], { keepdims: { int: 0 } });
      node('Log', [`gs${g}`], [`glog${g}`]);
      node('Squeeze', [`gm${g}`, `axis2_${g}`], [`gms${g}`]);
      node('Add', [`glog${g}`, `gms${g}`], [`glse${g}`]);
    }
    groupOut.push(`glse${g}`);
    classAt.push(...group);
  });
  if (groupOut.length > 1) node('Concat', groupOut, ['lse_grouped'], { axis: { int: 1 } });
  else node('Identity', groupOut, ['lse_grouped']);
  // back to class order
  const position = new Array<number>(nc);
  classAt.forEach((c, at) => (position[c] = at));
  node('Gather', ['lse_grouped', i64('class_order', position)], ['class_lse'], { axis: { int: 1 } });
  inits.push({ name: 'Wc', dtype: 'float32', dims: [hidden, nc], data: ow.wc! }, { name: 'bc', dtype: 'float32', dims: [nc], data: ow.bc! });
  node('MatMul', ['h', 'Wc'], ['hwc']);
  node('Add', ['hwc', 'bc'], ['cz']);
  node('LogSoftmax', ['cz'], ['class_logp'], { axis: { int: 1 } });
  node('Sub', ['class_logp', 'class_lse'], ['class_term']);
}
