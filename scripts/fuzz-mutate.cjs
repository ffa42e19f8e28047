'use strict';
/**
 * Mutations of the files vqvid reads, for the fuzz test (tests/fuzz.test.ts) and `npm run fuzz`: each takes
 * valid bytes and a seeded Rng (@vqvid/core's) and returns damaged bytes plus a description of the damage, so a
 * failing case can be read and replayed. Plain CommonJS so that jest and node load it alike.
 *
 * Container layout (packages/core/src/container.ts): "VQVD" | u32 version | u32 headerBytes | header JSON |
 * pad to 4 | arrays, each padded to 4 | u32 CRC-32 of all preceding bytes.
 */
const { crc32 } = require('@vqvid/core');

const NUMBERS = [-1, 0, 1, 2, 3, 1.5, 0.5, -0.5, 7, 255, 256, 4096, 65535, 65536, 2 ** 24, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53, 1e9, 1e15, 1e300, -(2 ** 31)];
const STRINGS = ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf', 'prototype', '', 'x', 'float64', 'uint32', 'NaN', '1', 'full', 'RNN', 'RCNN', 'x'.repeat(4096)];
/** Values JSON cannot write but JSON.parse reads from text: Infinity, -0, an inexact integer, deep nesting. */
const RAW = ['1e999', '-1e999', '-0', '9007199254740993', '1e-400', '[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]', '"\\ud800"', '"\\u0000"'];

const pick = (rng, list) => list[rng.int(list.length)];

/** A fresh interesting JSON value (objects are new each time, so edits never share them). */
function interestingValue(rng) {
  const r = rng.next();
  if (r < 0.4) return pick(rng, NUMBERS);
  if (r < 0.7) return pick(rng, STRINGS);
  return pick(rng, [() => null, () => true, () => false, () => [], () => [1, 2, 3], () => ({}), () => ({ length: 3 }), () => [[[]]], () => JSON.parse('{"__proto__":{"polluted":1}}'), () => new Array(1000).fill(0)])();
}

/** Every place in a JSON tree as a path of keys; arrays contribute their first 3 elements. */
function jsonPaths(value, path = [], out = []) {
  out.push(path);
  if (out.length > 2000) return out;
  if (Array.isArray(value)) value.slice(0, 3).forEach((v, i) => jsonPaths(v, [...path, i], out));
  else if (value && typeof value === 'object') for (const k of Object.keys(value)) jsonPaths(value[k], [...path, k], out);
  return out;
}

const describePath = (path) => (path.length ? path.map(String).join('.') : '(root)');
const show = (v) => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 40 ? `${s.slice(0, 40)}…(${s.length} chars)` : s;
};

/**
 * One structural edit of a parsed JSON value: replace a node by an interesting value, nudge a number, delete a
 * key, add a key, or swap an object for an array. Returns the new root and what was done.
 */
function editJson(rng, root) {
  const paths = jsonPaths(root);
  // Edits deep in the tree are the ones a loader's own checks must catch: prefer them over the root.
  const path = paths.length > 1 && rng.next() < 0.95 ? paths[1 + rng.int(paths.length - 1)] : [];
  const parent = path.length ? path.slice(0, -1).reduce((o, k) => o[k], root) : null;
  const key = path[path.length - 1];
  const old = parent ? parent[key] : root;
  const set = (v) => {
    if (parent) parent[key] = v;
    else root = v;
  };
  const r = rng.next();
  let what;
  if (typeof old === 'number' && r < 0.35) {
    const nudged = pick(rng, [old + 1, old - 1, -old, old * 2, old * 65536, old + 0.5, old * 1e6, Math.floor(old / 2)]);
    set(nudged);
    what = `${describePath(path)}: ${old} -> ${nudged}`;
  } else if (r < 0.75) {
    const v = interestingValue(rng);
    set(v);
    what = `${describePath(path)} = ${show(v)}`;
  } else if (r < 0.85 && parent && !Array.isArray(parent)) {
    delete parent[key];
    what = `delete ${describePath(path)}`;
  } else if (r < 0.95 && old && typeof old === 'object' && !Array.isArray(old)) {
    const k = pick(rng, [...STRINGS.slice(0, 7), 'arrays', 'config', 'extra']);
    const v = interestingValue(rng);
    Object.defineProperty(old, k, { value: v, enumerable: true, writable: true, configurable: true });
    what = `${describePath(path)}.${k} = ${show(v)} (own key)`;
  } else {
    const v = Array.isArray(old) ? Object.assign({}, old) : old && typeof old === 'object' ? Object.values(old) : [old];
    set(v);
    what = `${describePath(path)}: ${Array.isArray(old) ? 'array -> object' : 'wrapped in a list'}`;
  }
  return { root, what };
}

/**
 * Sets most integer fields of one object in the tree to large but plausible sizes (a model config of k 65536,
 * hidden 4096, embedDim 4096 ...): each value alone may pass a validator's limits while together they ask for gigabytes.
 */
function inflate(rng, root) {
  const objects = jsonPaths(root).filter((p) => {
    const v = p.reduce((o, k) => o[k], root);
    return v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).some(Number.isInteger);
  });
  if (objects.length === 0) return 'inflate: no object with integers';
  const integers = (p) => Object.values(p.reduce((o, k) => o[k], root)).filter(Number.isInteger).length;
  // half the time the object with the most integer fields: a model's config
  const path = rng.next() < 0.5 ? objects.reduce((a, b) => (integers(b) > integers(a) ? b : a)) : pick(rng, objects);
  const target = path.reduce((o, k) => o[k], root);
  const set = [];
  for (const [k, v] of Object.entries(target)) {
    // some fields keep their value, so that a kernel size or layer count stays within its limits
    if (!Number.isInteger(v) || rng.next() < 0.4) continue;
    target[k] = pick(rng, [1024, 4096, 4096, 65536]);
    set.push(`${k} ${target[k]}`);
  }
  return `inflate ${describePath(path)}: ${set.join(', ')}`;
}

const pad4 = (n) => (n + 3) & ~3;

/** The parts of a container: its JSON text and the bytes between the padded JSON and the CRC. */
function splitContainer(bytes) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const jsonLen = dv.getUint32(8, true);
  const json = new TextDecoder().decode(bytes.subarray(12, 12 + jsonLen));
  return { version: dv.getUint32(4, true), json, payload: bytes.subarray(12 + pad4(jsonLen), bytes.length - 4) };
}

/** A container from its parts, with a correct CRC-32 (so the edit gets past the checksum). */
function joinContainer(version, jsonBytes, payload) {
  const size = 12 + pad4(jsonBytes.length) + payload.length;
  const out = new Uint8Array(size + 4);
  const dv = new DataView(out.buffer);
  out.set([0x56, 0x51, 0x56, 0x44], 0);
  dv.setUint32(4, version, true);
  dv.setUint32(8, jsonBytes.length, true);
  out.set(jsonBytes, 12);
  out.set(payload, 12 + pad4(jsonBytes.length));
  dv.setUint32(size, crc32(out.subarray(0, size)), true);
  return out;
}

/** Recomputes the last 4 bytes as the CRC-32 of the rest (for edits of fixed-size fields). */
function fixCrc(bytes) {
  if (bytes.length < 4) return bytes;
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(bytes.length - 4, crc32(bytes.subarray(0, bytes.length - 4)), true);
  return bytes;
}

const BYTES_PER = { float32: 4, int32: 4, uint16: 2, uint8: 1 };

/** Mutations any file gets: flipped bytes, a truncation, a spliced or deleted stretch. */
function byteMutation(rng, bytes) {
  const out = bytes.slice();
  const r = rng.next();
  if (r < 0.4) {
    const n = 1 + rng.int(4);
    const at = [];
    for (let j = 0; j < n; j++) {
      const p = rng.int(out.length);
      out[p] ^= 1 + rng.int(255);
      at.push(p);
    }
    return { bytes: out, what: `flip bytes at ${at.join(',')}` };
  }
  if (r < 0.7) {
    const keep = rng.int(bytes.length);
    return { bytes: bytes.slice(0, keep), what: `truncate to ${keep} of ${bytes.length} bytes` };
  }
  const a = rng.int(bytes.length);
  const b = Math.min(bytes.length, a + 1 + rng.int(64));
  if (r < 0.85) {
    const joined = new Uint8Array(bytes.length - (b - a));
    joined.set(bytes.subarray(0, a));
    joined.set(bytes.subarray(b), a);
    return { bytes: joined, what: `delete bytes ${a}..${b}` };
  }
  const joined = new Uint8Array(bytes.length + (b - a));
  joined.set(bytes.subarray(0, b));
  joined.set(bytes.subarray(a), b);
  return { bytes: joined, what: `duplicate bytes ${a}..${b}` };
}

/**
 * A damaged copy of a vqvid container: byte damage (with or without the CRC fixed), the version or header-length
 * word set, a JSON edit of the kind/header/array layout, an array resized with its layout entry (so the layout still
 * matches the bytes), raw JSON text no writer makes, or a truncation with the CRC recomputed.
 */
function mutateContainer(rng, bytes) {
  const r = rng.next();
  if (r < 0.2) return byteMutation(rng, bytes);
  if (r < 0.3) {
    const m = byteMutation(rng, bytes);
    return { bytes: fixCrc(m.bytes), what: `${m.what}, CRC fixed` };
  }
  if (r < 0.4) {
    const offset = pick(rng, [4, 8, 8, 12 + 4 * rng.int(4)]);
    const value = pick(rng, [0, 1, 2, 3, 0xffffffff, 0x7fffffff, 0x80000000, bytes.length, bytes.length - 12, bytes.length - 15, rng.nextUint32()]) >>> 0;
    const out = bytes.slice();
    new DataView(out.buffer).setUint32(offset, value, true);
    const crc = rng.next() < 0.7;
    return { bytes: crc ? fixCrc(out) : out, what: `u32 at ${offset} = ${value}${crc ? ', CRC fixed' : ''}` };
  }
  const { version, json, payload } = splitContainer(bytes);
  const enc = (s) => new TextEncoder().encode(s);
  if (r < 0.75) {
    let root = JSON.parse(json);
    const whats = [];
    const t = rng.next();
    if (t < 0.3) whats.push(inflate(rng, root));
    for (let n = t < 0.3 ? 0 : t < 0.8 ? 1 : 2 + rng.int(3); n > 0; n--) {
      const edit = editJson(rng, root);
      root = edit.root;
      whats.push(edit.what);
    }
    const text = JSON.stringify(root);
    return { bytes: joinContainer(version, enc(text === undefined ? 'null' : text), payload), what: `json ${whats.join('; ')}, CRC fixed` };
  }
  if (r < 0.87) return resizeArray(rng, version, JSON.parse(json), payload);
  if (r < 0.95) {
    const raw = pick(rng, RAW);
    const numbers = [...json.matchAll(/-?\d+(\.\d+)?([eE][-+]?\d+)?/g)];
    if (numbers.length && rng.next() < 0.8) {
      const m = pick(rng, numbers);
      const text = json.slice(0, m.index) + raw + json.slice(m.index + m[0].length);
      return { bytes: joinContainer(version, enc(text), payload), what: `json text: number ${m[0]} at ${m.index} -> ${raw}, CRC fixed` };
    }
    const whole = pick(rng, ['null', '[]', '"x"', '1', '{}', '{"kind":null}', raw, '['.repeat(100000) + ']'.repeat(100000), `[${'0,'.repeat(200000)}0]`]);
    return { bytes: joinContainer(version, enc(whole), payload), what: `json text replaced by ${show(whole)}, CRC fixed` };
  }
  // invalid UTF-8 in the header, or a truncation that still has a valid CRC
  if (rng.next() < 0.3) {
    const text = enc(json);
    text[rng.int(text.length)] = 0xff;
    return { bytes: joinContainer(version, text, payload), what: 'invalid UTF-8 byte in the JSON, CRC fixed' };
  }
  const keep = 4 + rng.int(bytes.length - 4);
  return { bytes: fixCrc(bytes.slice(0, keep)), what: `truncate to ${keep} of ${bytes.length} bytes, CRC fixed` };
}

/** One stored array gets another length (and dtype, sometimes), its bytes resized to match: the layout stays valid. */
function resizeArray(rng, version, meta, payload) {
  const infos = Array.isArray(meta.arrays) ? meta.arrays : [];
  if (infos.length === 0) return { bytes: joinContainer(version, new TextEncoder().encode(JSON.stringify(meta)), payload), what: 'no arrays to resize, CRC fixed' };
  const j = rng.int(infos.length);
  const info = infos[j];
  const oldLength = info.length;
  const length = Math.max(0, pick(rng, [0, 1, oldLength - 1, oldLength + 1, oldLength * 2, Math.floor(oldLength / 2), oldLength + 4, 3]));
  const dtype = rng.next() < 0.25 ? pick(rng, Object.keys(BYTES_PER)) : info.dtype;
  const parts = [];
  let off = 0;
  for (let i = 0; i < infos.length; i++) {
    const n = infos[i].length * BYTES_PER[infos[i].dtype];
    let part = payload.subarray(off, off + n);
    off += pad4(n);
    if (i === j) {
      const fresh = new Uint8Array(length * BYTES_PER[dtype]);
      fresh.set(part.subarray(0, fresh.length));
      for (let b = part.length; b < fresh.length; b++) fresh[b] = rng.int(256);
      part = fresh;
    }
    parts.push(part);
  }
  info.length = length;
  info.dtype = dtype;
  const total = parts.reduce((s, p) => s + pad4(p.length), 0);
  const joined = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    joined.set(p, at);
    at += pad4(p.length);
  }
  return { bytes: joinContainer(version, new TextEncoder().encode(JSON.stringify(meta)), joined), what: `array ${show(info.name)}: length ${oldLength} -> ${length}, dtype ${dtype}, bytes resized, CRC fixed` };
}

const Y4M_VALUES = {
  W: ['0', '-1', '1', '1.5', '65536', '99999999999', 'abc', '', '3', '00008'],
  H: ['0', '-1', '1', '2.5', '65536', '99999999999', 'x', '', '5'],
  F: ['0:0', '1:0', '0:1', '-1:1', '30000:1001', '1e9:1', 'x', '25', '', '4294967296:1'],
  C: ['mono', '420', '444', '422', '420jpeg', '444alpha', 'weird', '', 'mono16'],
  I: ['p', 't', '?', 'z', ''],
  A: ['1:1', '0:0', 'x'],
  X: ['', 'comment', 'x'.repeat(2000)],
};

/** A damaged copy of a Y4M file: byte damage, an edited header token, or an edited FRAME line. */
function mutateY4m(rng, bytes) {
  const r = rng.next();
  if (r < 0.4) return byteMutation(rng, bytes);
  const headEnd = bytes.indexOf(10);
  // Buffer's latin1 maps bytes to characters one to one (TextDecoder's 'latin1' is windows-1252 and does not).
  const latin1 = (s) => new Uint8Array(Buffer.from(s, 'latin1'));
  const header = Buffer.from(bytes.subarray(0, Math.max(0, headEnd))).toString('latin1');
  const rest = bytes.subarray(Math.max(0, headEnd));
  const join = (h, tail) => {
    const out = new Uint8Array(h.length + tail.length);
    out.set(h);
    out.set(tail, h.length);
    return out;
  };
  if (r < 0.8) {
    const tokens = header.split(' ');
    const i = 1 + rng.int(tokens.length - 1);
    const t = rng.next();
    let what;
    if (t < 0.7) {
      const letter = rng.next() < 0.8 ? tokens[i][0] : pick(rng, Object.keys(Y4M_VALUES));
      const value = pick(rng, Y4M_VALUES[letter] ?? ['', 'x']);
      tokens[i] = letter + value;
      what = `header token ${i} = ${show(letter + value)}`;
    } else if (t < 0.8) {
      what = `header token ${i} (${tokens[i]}) deleted`;
      tokens.splice(i, 1);
    } else if (t < 0.9) {
      what = `header token ${i} (${tokens[i]}) repeated`;
      tokens.splice(i, 0, tokens[i]);
    } else {
      tokens[i] = `${tokens[i]}\r`;
      what = `header token ${i} ends in CR`;
    }
    return { bytes: join(latin1(tokens.join(' ')), rest), what };
  }
  // a FRAME line: renamed, given parameters, made long, or its newline dropped
  const text = Buffer.from(bytes).toString('latin1');
  const frames = [...text.matchAll(/FRAME[^\n]*\n/g)];
  if (frames.length === 0) return byteMutation(rng, bytes);
  const m = pick(rng, frames);
  const line = pick(rng, ['FRAMF\n', 'FRAME Ixx\n', `FRAME X${'y'.repeat(5000)}\n`, 'FRAME', 'FRAME \n', 'frame\n', 'FRAME\nFRAME\n']);
  const out = text.slice(0, m.index) + line + text.slice(m.index + m[0].length);
  return { bytes: latin1(out), what: `FRAME line at ${m.index} -> ${show(line)}` };
}

module.exports = { mutateContainer, mutateY4m, byteMutation, editJson, joinContainer, splitContainer, fixCrc };
