// The training settings of the model benches (those of bench/throughput.mjs), their random codes and the steady-state
// timing of a pooled fit, so that bench/workers.mjs, bench/profile.mjs and bench/throughput.mjs time the same work.

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

/**
 * `m.fit(codes, { ...fit, workers })` timed in the steady state: the faster of two fits of `warmup + steps` steps
 * (interference only ever adds time), each timed from the end of its `warmup`-th step to the end of its last. The
 * warm-up is reported apart: `startSeconds` = the time to the end of the warm-up less `warmup` steady steps (the
 * workers' start), `warmupSecondsPerStep` = that time over `warmup`. `seconds` covers the `steps` timed steps.
 */
export async function steadyFit(m, codes, fit, workers, warmup, steps) {
  let seconds = Infinity;
  let startSeconds = Infinity;
  let warmupSeconds = Infinity;
  for (let rep = 0; rep < 2; rep++) {
    const ends = [];
    const t0 = performance.now();
    await m.fit(codes, { ...fit, epochs: 1, stepsPerEpoch: warmup + steps, workers, onProgress: (e) => e.stage === 'train' && ends.push(performance.now()) });
    const perStep = (ends[warmup + steps - 1] - ends[warmup - 1]) / 1000 / steps;
    seconds = Math.min(seconds, perStep * steps);
    startSeconds = Math.min(startSeconds, (ends[warmup - 1] - t0) / 1000 - warmup * perStep);
    warmupSeconds = Math.min(warmupSeconds, (ends[warmup - 1] - t0) / 1000 / warmup);
  }
  return { seconds, startSeconds: Math.max(0, startSeconds), warmupSecondsPerStep: warmupSeconds };
}
