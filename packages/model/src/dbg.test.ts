import { Rng, sliceCodes } from '@vqvid/core';
import { initBackend, RCNN } from './index';
import { partsOf } from './internals';
import { randomCodes } from './testing';
function sticky(frames: number, change: number, seed: number, rows = 6, cols = 6, k = 6) {
  const rng = new Rng(seed);
  const v = randomCodes(frames, rows, cols, k, seed);
  const n = rows * cols;
  for (let t = 1; t < frames; t++) for (let i = 0; i < n; i++) if (rng.next() >= change) v.codes[t * n + i] = v.codes[(t - 1) * n + i];
  return v;
}
it('dbg', async () => {
  await initBackend(['wasm']);
  for (const softmax of ['full', 'factored'] as const) {
    const m = new RCNN({ k: 6, embedDim: 4, hidden: 6, seed: 2, softmax });
    await m.fit(sticky(10, 0.1, 3), { epochs: 2, stepsPerEpoch: 6, batch: 2, bptt: 4, crop: 6, lr: 0.02, workers: 1, validation: sticky(5, 0.5, 9) });
    const test = sticky(9, 0.7, 4);
    const { h, offsets } = partsOf(m).contextState(test);
    h.dispose();
    const d = m.predictDistribution(test);
    let worst = 0;
    for (let i = 0; i < 36; i++) { let s = 0; for (let c = 0; c < 6; c++) s += d.probs![i * 6 + c]; worst = Math.max(worst, Math.abs(s - 1)); }
    console.log(softmax, Array.from(offsets!), worst);
  }
});
