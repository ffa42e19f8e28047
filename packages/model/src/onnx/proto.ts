/**
 * A minimal writer of ONNX models (the protobuf wire format of onnx.proto, IR version 8): just the messages a
 * one-step inference graph needs (model, graph, node, attribute, tensor, value info), with float32 / int32 /
 * int64 initializers as raw little-endian data. No reader: the runtime parses what this writes.
 */

/** ONNX TensorProto.DataType values used here. */
export const DTYPE = { float32: 1, int32: 6, int64: 7 } as const;
export type OnnxDtype = keyof typeof DTYPE;

/** Bytes of one protobuf message under construction. */
class Writer {
  private chunks: Uint8Array[] = [];
  private size = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.size += bytes.length;
  }

  /** A varint; negative int64 values take ten bytes (two's complement), as protobuf writes them. */
  varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) byte |= 0x80;
      out.push(byte);
    } while (v !== 0n);
    this.push(Uint8Array.from(out));
  }

  private key(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, value: number | bigint): void {
    this.key(field, 0);
    this.varint(value);
  }

  float(field: number, value: number): void {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
  }

  bytes(field: number, value: Uint8Array): void {
    this.key(field, 2);
    this.varint(value.length);
    this.push(value);
  }

  string(field: number, value: string): void {
    this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, body: Writer): void {
    this.bytes(field, body.finish());
  }

  /** Repeated int64 as one packed field. */
  packedInts(field: number, values: ArrayLike<number>): void {
    const inner = new Writer();
    for (let i = 0; i < values.length; i++) inner.varint(values[i]);
    this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** A constant tensor of the graph (an initializer or a Constant's value). */
export interface OnnxTensor {
  name: string;
  dtype: OnnxDtype;
  dims: number[];
  data: Float32Array | Int32Array | BigInt64Array;
}

/** An attribute of a node: a number is an int unless `float` marks it, an array is a list of ints. */
export type OnnxAttribute = { int: number } | { float: number } | { ints: number[] } | { floats: number[] } | { string: string } | { tensor: OnnxTensor };

/** One node: op type, input and output names, attributes. */
export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, OnnxAttribute>;
}

/** A graph input or output: its element type and shape (a string names a dimension that varies). */
export interface OnnxValue {
  name: string;
  dtype: OnnxDtype;
  shape: Array<number | string>;
}

/** A whole model: one graph at one opset of the default domain. */
export interface OnnxModel {
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValue[];
  outputs: OnnxValue[];
  /** Opset of the default ONNX domain (default 17). */
  opset?: number;
  name?: string;
}

function tensorProto(t: OnnxTensor): Writer {
  const w = new Writer();
  w.packedInts(1, t.dims);
  w.int(2, DTYPE[t.dtype]);
  w.string(8, t.name);
  const n = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== n) throw new RangeError(`onnx tensor ${t.name}: ${t.data.length} values for dims [${t.dims.join(', ')}]`);
  // raw_data is little-endian; every typed array here is in the platform's order, which Node's platforms share
  w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return w;
}

function attributeProto(name: string, a: OnnxAttribute): Writer {
  const w = new Writer();
  w.string(1, name);
  if ('int' in a) {
    w.int(3, a.int);
    w.int(20, 2);
  } else if ('float' in a) {
    w.float(2, a.float);
    w.int(20, 1);
  } else if ('ints' in a) {
    w.packedInts(8, a.ints);
    w.int(20, 7);
  } else if ('floats' in a) {
    for (const f of a.floats) w.float(7, f);
    w.int(20, 6);
  } else if ('string' in a) {
    w.string(4, a.string);
    w.int(20, 3);
  } else {
    w.message(5, tensorProto(a.tensor));
    w.int(20, 4);
  }
  return w;
}

function valueInfo(v: OnnxValue): Writer {
  const shape = new Writer();
  for (const d of v.shape) {
    const dim = new Writer();
    if (typeof d === 'number') dim.int(1, d);
    else dim.string(2, d);
    shape.message(1, dim);
  }
  const tensorType = new Writer();
  tensorType.int(1, DTYPE[v.dtype]);
  tensorType.message(2, shape);
  const type = new Writer();
  type.message(1, tensorType);
  const w = new Writer();
  w.string(1, v.name);
  w.message(2, type);
  return w;
}

/**
 * A graph's nodes and initializers as they are added: each adder returns the name it was given, so a constant can
 * be written where an input name goes.
 */
export class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];

  node(op: string, inputs: string[], outputs: string[], attrs?: OnnxNode['attrs']): void {
    this.nodes.push({ op, inputs, outputs, attrs });
  }

  f32(name: string, dims: number[], data: Float32Array): string {
    this.initializers.push({ name, dtype: 'float32', dims, data });
    return name;
  }

  i32(name: string, dims: number[], data: Int32Array): string {
    this.initializers.push({ name, dtype: 'int32', dims, data });
    return name;
  }

  /** int64 values (as numbers), one-dimensional unless `dims` says otherwise. */
  i64(name: string, values: ArrayLike<number>, dims = [values.length]): string {
    this.initializers.push({ name, dtype: 'int64', dims, data: BigInt64Array.from(Array.from(values, BigInt)) });
    return name;
  }
}

/** The model's bytes, as onnxruntime's InferenceSession.create takes them. */
export function encodeModel(model: OnnxModel): Uint8Array {
  const graph = new Writer();
  model.nodes.forEach((node, i) => {
    const w = new Writer();
    for (const name of node.inputs) w.string(1, name);
    for (const name of node.outputs) w.string(2, name);
    w.string(3, `${node.op}_${i}`);
    w.string(4, node.op);
    for (const [name, a] of Object.entries(node.attrs ?? {})) w.message(5, attributeProto(name, a));
    graph.message(1, w);
  });
  graph.string(2, model.name ?? 'vqvid');
  for (const t of model.initializers) graph.message(5, tensorProto(t));
  for (const v of model.inputs) graph.message(11, valueInfo(v));
  for (const v of model.outputs) graph.message(12, valueInfo(v));
  const opset = new Writer();
  opset.string(1, '');
  opset.int(2, model.opset ?? 17);
  const out = new Writer();
  out.int(1, 8);
  out.string(2, 'vqvid');
  out.message(7, graph);
  out.message(8, opset);
  return out.finish();
}
