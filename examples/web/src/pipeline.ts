import type { CodeVolume, Video } from '@vqvid/core';
import { sliceCodes, sliceVideo } from '@vqvid/core';
import { bitsPerCode, psnr } from '@vqvid/metrics';
import { RCNN, initBackend } from '@vqvid/model';
import { PatchCodec } from '@vqvid/quantize';
import { locateTfjsWasm } from './tfjs-wasm';

/** Sizes of the demo run; small enough to train in seconds on a laptop CPU. */
export const DEMO = { patch: 8, k: 32, epochs: 20, lr: 0.02, hidden: 32, embedDim: 16, seed: 1 } as const;

/** What the page shows after one run. */
export interface DemoResult {
  /** Quantizer assignment backend that actually ran (webgl2, webgpu, webasm or wasm-simd). */
  backend: string;
  /** Why it is not the first choice ('auto' prefers webgpu), or null. */
  backendReason: string | null;
  /** tfjs backend the code model trained on. */
  modelBackend: string;
  /** Last frame: original, quantized, predicted (0..255 gray, width x height). */
  original: Video;
  quantized: Video;
  predicted: Video;
  /** Entropy in bits of the predicted distribution of every cell of the last frame, rows x cols. */
  entropy: Float32Array;
  rows: number;
  cols: number;
  /** PSNR (dB, peak 255) of the quantized and of the predicted last frame against the original. */
  psnrQuantized: number;
  psnrPredicted: number;
  /** Mean -log2 p(true code) of the last frame's cells under the model. */
  bitsPerCode: number;
  /** Mean entropy (bits) of the cells whose code changes into the last frame, and of those whose code stays. */
  entropyChanging: number;
  entropySteady: number;
  /** Seconds per stage: k-means fit + encode, model training, prediction. */
  seconds: { quantize: number; train: number; predict: number };
}

/** Progress line for the page. */
export type Say = (message: string) => void;

/**
 * The whole pipeline on one clip: a PatchCodec normalises, cuts 8x8 patches, fits k-means on the GPU backend
 * and encodes; train a small rCNN on every frame but the last, predict the last frame's codes and their
 * distribution; the codec decodes them back to pixels.
 */
export async function runDemo(video: Video, say: Say): Promise<DemoResult> {
  const clock = stopwatch();
  say(`k-means: ${DEMO.patch}x${DEMO.patch} patches of ${video.frames} frames of ${video.width}x${video.height}, K = ${DEMO.k}`);
  const codec = await PatchCodec.fit(video, { k: DEMO.k, patch: DEMO.patch, seed: DEMO.seed, backend: 'auto' });
  const quantizer = codec.quantizer;
  try {
    const codes = await codec.encode(video);
    // Predicted codes come without geometry: they continue the clip's grid.
    const toPixels = (c: CodeVolume) => codec.decode({ ...c, geometry: codes.geometry });
    const last = video.frames - 1;
    const lastOf = (v: Video) => sliceVideo(v, v.frames - 1, v.frames);
    const original = lastOf(video);
    const quantized = lastOf(toPixels(codes));
    const quantizeSeconds = clock();

    say('training the rCNN on the codes of all frames but the last');
    const context = sliceCodes(codes, 0, last);
    const { model, backendName } = await trainModel(context, say);
    const trainSeconds = clock();
    try {
      const { entropy } = model.predictDistribution(context, { probs: false });
      // ln p of every cell of frames 1..T-1 given the frames before it; the last frame's cells come last.
      const lastFrameLogProbs = model.logProb(codes).subarray((last - 1) * codes.rows * codes.cols);
      const predicted = toPixels(model.predictNext(context));
      const predictSeconds = clock();
      return {
        seconds: { quantize: quantizeSeconds, train: trainSeconds, predict: predictSeconds },
        backend: quantizer.backend ?? 'none',
        backendReason: quantizer.backendReason,
        modelBackend: backendName,
        original,
        quantized,
        predicted,
        entropy,
        rows: codes.rows,
        cols: codes.cols,
        psnrQuantized: psnr(quantized, original),
        psnrPredicted: psnr(predicted, original),
        bitsPerCode: bitsPerCode(lastFrameLogProbs),
        ...entropyByChange(entropy, sliceCodes(codes, last - 1, last + 1)),
      };
    } finally {
      model.dispose();
    }
  } finally {
    codec.dispose();
  }
}

/**
 * Splits the per-cell entropy by whether the cell's code changes between the two frames of `pair`: a model
 * that has learnt the clip is unsure where things move and sure where they stay.
 */
function entropyByChange(entropy: Float32Array, pair: CodeVolume): { entropyChanging: number; entropySteady: number } {
  const n = pair.rows * pair.cols;
  const sum = [0, 0];
  const count = [0, 0];
  for (let i = 0; i < n; i++) {
    const changes = pair.codes[i] !== pair.codes[n + i] ? 0 : 1;
    sum[changes] += entropy[i];
    count[changes]++;
  }
  return { entropyChanging: sum[0] / count[0], entropySteady: sum[1] / count[1] };
}

/** Returns a function that gives the seconds since it was last called (or created). */
export function stopwatch(): () => number {
  let t = performance.now();
  return () => {
    const now = performance.now();
    const s = (now - t) / 1000;
    t = now;
    return s;
  };
}

async function trainModel(codes: CodeVolume, say: Say): Promise<{ model: RCNN; backendName: string }> {
  locateTfjsWasm();
  const { backend } = await initBackend(['wasm', 'cpu']);
  const model = new RCNN({ k: DEMO.k, hidden: DEMO.hidden, embedDim: DEMO.embedDim, seed: DEMO.seed });
  await model.fit(codes, {
    epochs: DEMO.epochs,
    lr: DEMO.lr,
    bptt: Math.min(6, codes.frames - 1),
    onProgress: (e) => {
      if (e.stage === 'epoch') say(`training the rCNN: epoch ${e.done}/${e.total}`);
    },
  });
  return { model, backendName: backend };
}
