import { assertFinite, assertInt, fail } from '@vqvid/core';

/** Which class each code belongs to, and each class's codes in ascending code order. */
export interface ClassAssignment {
  /** classOf[code] = class index, [K]. */
  classOf: Int32Array;
  /** members[class] = its codes, ascending; every code appears in exactly one class, no class is empty. */
  members: Int32Array[];
}

/**
 * Groups codes 0..k-1 into at most `classes` classes by frequency binning (Goodman 2001; Mikolov et al.
 * 2011): codes are taken in decreasing frequency (ties: lower code first) and a class is closed once the
 * cumulative frequency before a code reaches the next multiple of total/classes, so each class holds about
 * 1/classes of the total frequency and frequent codes sit in small classes. Without frequencies (or all zero)
 * every code counts the same, which gives contiguous classes of equal size (±1). A code frequent enough to span
 * several shares still advances the class by one only, so no class is ever empty (and, with extreme
 * frequencies, fewer than `classes` classes may come back).
 * @param k number of codes (K >= 1).
 * @param classes wanted number of classes, 1..k (√K is the usual choice).
 * @param frequencies optional non-negative counts or probabilities, [K].
 * @example
 * ```ts
 * const { classOf, members } = assignClasses(10000, 100, counts);
 * ```
 */
export function assignClasses(k: number, classes: number, frequencies?: ArrayLike<number>): ClassAssignment {
  assertInt(k, 'k', 1);
  assertInt(classes, 'classes', 1, k);
  const freq = checkedFrequencies(k, frequencies);
  let total = 0;
  for (let i = 0; i < k; i++) total += freq[i];
  const order = Array.from({ length: k }, (_, i) => i).sort((a, b) => freq[b] - freq[a] || a - b);
  const classOf = new Int32Array(k);
  let cls = 0;
  let before = 0;
  for (const code of order) {
    // Share reached by the frequency before this code; the small slack keeps i·C/K from rounding below an integer.
    const share = Math.min(classes - 1, Math.floor((before / total) * classes + 1e-9));
    if (share > cls) cls++;
    classOf[code] = cls;
    before += freq[code];
  }
  const used = cls + 1;
  return { classOf, members: membersOf(classOf, used) };
}

function checkedFrequencies(k: number, frequencies?: ArrayLike<number>): ArrayLike<number> {
  if (frequencies === undefined) return new Float64Array(k).fill(1);
  if (frequencies.length !== k) fail('E_SHAPE', 'frequencies.length', `k = ${k}`, frequencies.length);
  assertFinite(frequencies, 'frequencies');
  let total = 0;
  for (let i = 0; i < k; i++) {
    if (frequencies[i] < 0) fail('E_RANGE', `frequencies[${i}]`, 'a non-negative number', frequencies[i]);
    total += frequencies[i];
  }
  return total > 0 ? frequencies : new Float64Array(k).fill(1);
}

/** Members of each class in ascending code order (so a saved `classOf` alone restores the same layout). */
function membersOf(classOf: Int32Array, classes: number): Int32Array[] {
  const counts = new Int32Array(classes);
  for (const c of classOf) counts[c]++;
  const members = Array.from(counts, (n) => new Int32Array(n));
  const fill = new Int32Array(classes);
  classOf.forEach((c, code) => {
    members[c][fill[c]++] = code;
  });
  return members;
}

/**
 * Rebuilds a {@link ClassAssignment} from a saved `classOf` array, checking it covers 0..C-1 with no empty class.
 * @example
 * ```ts
 * const a = classesFromClassOf(config.classOf, 10000, 'config.classOf');
 * ```
 */
export function classesFromClassOf(classOf: unknown, k: number, arg: string): ClassAssignment {
  if (!Array.isArray(classOf) && !(classOf instanceof Int32Array)) fail('E_FORMAT', arg, 'an array of class indices', classOf);
  if (classOf.length !== k) fail('E_SHAPE', `${arg}.length`, `k = ${k}`, classOf.length);
  const out = new Int32Array(k);
  for (let i = 0; i < k; i++) {
    assertInt(classOf[i], `${arg}[${i}]`, 0, k - 1);
    out[i] = classOf[i] as number;
  }
  const classes = out.reduce((m, c) => Math.max(m, c), 0) + 1;
  const members = membersOf(out, classes);
  const empty = members.findIndex((m) => m.length === 0);
  if (empty >= 0) fail('E_FORMAT', arg, `every class 0..${classes - 1} to have a member`, `class ${empty} empty`);
  return { classOf: out, members };
}
