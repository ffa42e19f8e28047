import { fail } from '@vqvid/core';
import { coarseWidth, type ModelConfig, usesMotion } from '../config';
import { GraphBuilder, type OnnxModel } from './proto';

/** Why the step graph cannot hold a model's step ([what it needs, what the model has]), or null where it can. */
export function stepRefusal(cfg: ModelConfig): [string, unknown] | null {
  if (usesMotion(cfg)) return ['a model that reads codes only (the ONNX step has no motion channels)', cfg.inputs];
  if (coarseWidth(cfg) > 0) return ['a single-scale model (the ONNX step has no coarse branch)', `scales: ${cfg.scales}`];
  return null;
}

/**
 * The ONNX graph of one recurrent step of a single-scale model that reads codes only (the network of
 * `ModelParts.step`): embedding → `layers` 'same' convolutions (zero padding, tanh between) → the 1x1 recurrent
 * cell (tanh or GRU). Inputs: `codes` int32 [1, rows, cols] (rows and cols free), `h` float32 [rows·cols, hidden]
 * (zeros: the start of a sequence, which is what the tfjs step's null state computes). Output: `h_next` float32
 * [rows·cols, hidden]. `weights`: the network's weights by name (`Network.snapshot()`). E_STATE for a model with
 * motion inputs or two scales (their frame history and coarse branch are not in the graph).
 */
export function stepGraph(cfg: ModelConfig, weights: Map<string, Float32Array>): OnnxModel {
  const why = stepRefusal(cfg);
  if (why) fail('E_STATE', 'model', why[0], why[1]);
  const { k, embedDim, hidden, kernel, layers, cell } = cfg;
  const gates = cell === 'gru' ? 3 : 1;
  const g = new GraphBuilder();
  const w = (name: string): Float32Array => {
    const v = weights.get(name);
    if (!v) fail('E_STATE', 'weights', `the network weight '${name}'`, 'missing');
    return v;
  };
  g.node('Gather', [g.f32('embedding', [k, embedDim], w('embedding')), 'codes'], ['x_nhwc'], { axis: { int: 0 } });
  g.node('Transpose', ['x_nhwc'], ['x0'], { perm: { ints: [0, 3, 1, 2] } });
  const pad = Math.floor(kernel / 2);
  let cin = embedDim;
  let x = 'x0';
  for (let l = 0; l < layers; l++) {
    const last = l === layers - 1;
    const cout = last ? gates * hidden : hidden;
    // the tfjs weight is [k·k·cin, cout] in (y, x, ci) order (HWIO); ONNX's Conv wants [cout, cin, y, x]
    const src = w(`conv${l}.w`);
    const oihw = new Float32Array(cout * cin * kernel * kernel);
    for (let y = 0; y < kernel; y++) {
      for (let xx = 0; xx < kernel; xx++) {
        for (let i = 0; i < cin; i++) {
          for (let o = 0; o < cout; o++) oihw[((o * cin + i) * kernel + y) * kernel + xx] = src[((y * kernel + xx) * cin + i) * cout + o];
        }
      }
    }
    const inputs = [x, g.f32(`conv${l}_w`, [cout, cin, kernel, kernel], oihw)];
    if (!last) inputs.push(g.f32(`conv${l}_b`, [cout], w(`conv${l}.b`)));
    g.node('Conv', inputs, [`conv${l}`], { kernel_shape: { ints: [kernel, kernel] }, pads: { ints: [pad, pad, pad, pad] } });
    if (!last) g.node('Tanh', [`conv${l}`], [`act${l}`]);
    x = last ? `conv${l}` : `act${l}`;
    cin = cout;
  }
  // [1, G·H, rows, cols] → [rows·cols, G·H], plus the recurrent bias
  g.node('Transpose', [x], ['drive_nhwc'], { perm: { ints: [0, 2, 3, 1] } });
  g.node('Reshape', ['drive_nhwc', g.i64('rows_by_gates', [-1, gates * hidden])], ['drive']);
  g.node('Add', ['drive', g.f32('rec_b', [gates * hidden], w('rec.b'))], ['pre']);
  if (cell === 'tanh') {
    g.node('MatMul', ['h', g.f32('rec_w', [hidden, hidden], w('rec.w'))], ['rec']);
    g.node('Add', ['pre', 'rec'], ['pre_h']);
    g.node('Tanh', ['pre_h'], ['h_next']);
  } else {
    // GRU: [z | r] = σ(pre_zr + h·Wzr), n = tanh(pre_n + (r ⊙ h)·Wn), h' = (1 − z) ⊙ n + z ⊙ h
    g.node('Split', ['pre', g.i64('zr_n', [2 * hidden, hidden])], ['pre_zr', 'pre_n'], { axis: { int: 1 } });
    g.node('MatMul', ['h', g.f32('rec_wzr', [hidden, 2 * hidden], w('rec.wzr'))], ['rec_zr']);
    g.node('Add', ['pre_zr', 'rec_zr'], ['zr_in']);
    g.node('Sigmoid', ['zr_in'], ['zr']);
    g.node('Split', ['zr', g.i64('z_r', [hidden, hidden])], ['z', 'r'], { axis: { int: 1 } });
    g.node('Mul', ['r', 'h'], ['rh']);
    g.node('MatMul', ['rh', g.f32('rec_wn', [hidden, hidden], w('rec.wn'))], ['rec_n']);
    g.node('Add', ['pre_n', 'rec_n'], ['n_in']);
    g.node('Tanh', ['n_in'], ['cand']);
    g.node('Sub', ['h', 'cand'], ['h_minus_cand']);
    g.node('Mul', ['z', 'h_minus_cand'], ['z_step']);
    // (1 − z)·n + z·h = n + z·(h − n)
    g.node('Add', ['cand', 'z_step'], ['h_next']);
  }
  return {
    nodes: g.nodes,
    initializers: g.initializers,
    inputs: [
      { name: 'codes', dtype: 'int32', shape: [1, 'rows', 'cols'] },
      { name: 'h', dtype: 'float32', shape: ['cells', hidden] },
    ],
    outputs: [{ name: 'h_next', dtype: 'float32', shape: ['cells', hidden] }],
    name: `vqvid-step-${cell}-k${k}`,
  };
}
