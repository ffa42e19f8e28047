// The training settings of the model benches (those of bench/throughput.mjs) and their random codes, so that
// bench/workers.mjs and bench/profile.mjs time the same work.

/** Grid, fit options, timed steps and model size; `quick` shrinks them. */
export function benchSettings(quick) {
  return {
    grid: quick ? { rows: 8, cols: 8 } : { rows: 16, cols: 16 },
    fit: { bptt: 4, batch: quick ? 2 : 4, crop: 16 },
    steps: quick ? 2 : 5,
    model: { embedDim: quick ? 32 : 64, hidden: quick ? 32 : 64, kernel: 3, layers: 2 },
  };
}

/** Uniform random codes (xorshift32, seeded) on `grid`. */
export function randomCodes(grid, frames, k, seed) {
  let s = seed >>> 0 || 1;
  const codes = new Int32Array(frames * grid.rows * grid.cols);
  for (let i = 0; i < codes.length; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    codes[i] = (s >>> 0) % k;
  }
  return { ...grid, frames, k, codes };
}
