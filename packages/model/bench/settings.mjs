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

/**
 * Steps of a pooled fit (workers > 1) left out of its timing. Every fit starts fresh worker threads, and a fresh
 * thread runs its first steps slowly: the first two 2–4x (the wasm heap grows, kernels are first set up), and then
 * about 10–25% slower for some 30 steps while V8 compiles the hot JavaScript (kernels, the tfjs engine, the output
 * layer's bookkeeping) to optimised code in background threads, which on a 2-core machine compete with the other
 * worker. Measured on vtest codes (AMD EPYC VM, 2 cores, factored at K = 10,000, batch 4): each worker's gradient
 * of its 2 windows took 80–111 ms at steps 8–22 of a pool and 68–78 ms from step 36 on, as long as one thread
 * alone. A training run takes thousands of steps, so the steady state is what the figures compare; the warm-up is
 * reported apart (steadyFit's startSeconds and warmupSecondsPerStep, and stepSeconds).
 */
export function poolWarmup(quick) {
  return quick ? 3 : 30;
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
 * workers' start), `warmupSecondsPerStep` = that time over `warmup`. `seconds` covers the `steps` timed steps;
 * `stepSeconds` lists every step of the faster fit (its warm-up first), so the warm-up's course can be read.
 */
export async function steadyFit(m, codes, fit, workers, warmup, steps) {
  let seconds = Infinity;
  let startSeconds = Infinity;
  let warmupSeconds = Infinity;
  let stepSeconds = [];
  for (let rep = 0; rep < 2; rep++) {
    const ends = [];
    const t0 = performance.now();
    await m.fit(codes, { ...fit, epochs: 1, stepsPerEpoch: warmup + steps, workers, onProgress: (e) => e.stage === 'train' && ends.push(performance.now()) });
    const perStep = (ends[warmup + steps - 1] - ends[warmup - 1]) / 1000 / steps;
    if (perStep * steps < seconds) stepSeconds = ends.map((e, i) => +((e - (i > 0 ? ends[i - 1] : t0)) / 1000).toFixed(3));
    seconds = Math.min(seconds, perStep * steps);
    startSeconds = Math.min(startSeconds, (ends[warmup - 1] - t0) / 1000 - warmup * perStep);
    warmupSeconds = Math.min(warmupSeconds, (ends[warmup - 1] - t0) / 1000 / warmup);
  }
  return { seconds, startSeconds: Math.max(0, startSeconds), warmupSecondsPerStep: warmupSeconds, stepSeconds };
}
