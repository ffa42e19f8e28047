import { sliceCodes, sliceVideo } from '@vqvid/core';
import { RCNN, initBackend } from '@vqvid/model';
import { DECODERS, PatchCodec, fitDecoder } from '@vqvid/quantize';
import { syntheticVideo } from '@vqvid/video';
import { chooseDecoder, fitDecoderOnContext, fitFillDecoderOnContext } from './evaluation';

describe('--decoder auto (fitDecoderOnContext)', () => {
  const video = syntheticVideo({ kind: 'bouncing', width: 32, height: 24, frames: 10, seed: 3 });
  let codec: PatchCodec;
  let model: RCNN;
  beforeAll(async () => {
    await initBackend(['cpu']);
    codec = await PatchCodec.fit(video, { k: 8, seed: 1 });
    model = new RCNN({ k: 8, embedDim: 4, hidden: 8, kernel: 3, layers: 1, seed: 2 });
    await model.fit(await codec.encode(video), { epochs: 1, stepsPerEpoch: 3, bptt: 3, batch: 2, crop: 3, workers: 1 });
  });
  afterAll(() => model.dispose());

  it('picks what fitDecoder picks on one-step predictions made frame by frame with predictDistribution', async () => {
    const codes = await codec.encode(video);
    // the last 3 frames, the video kept from frame 6 on (so frame 7's reference, frame 6, is there)
    const kept = sliceVideo(video, 6, 10);
    const fit = fitDecoderOnContext(model, codec, codes, kept, 6, { targets: 3 })!;
    expect(fit.frames).toEqual([7, 8, 9]);
    // the slow reference: each target predicted from scratch from all frames before it (chooseDecoder)
    const ref = chooseDecoder({ video, codes, codec }, model, [7, 8, 9]);
    expect(fit.decoder).toBe(ref.decoder);
    expect(fit.alpha).toBe(ref.alpha);
    expect(Object.keys(fit.scores)).toEqual([...DECODERS]);
    for (const d of DECODERS) {
      expect(fit.scores[d].alpha).toBe(ref.scores[d].alpha);
      expect(fit.scores[d].mse).toBeCloseTo(ref.scores[d].mse, 10);
    }
    // and it is the least error among them
    expect(fit.scores[fit.decoder].mse).toBe(Math.min(...DECODERS.map((d) => fit.scores[d].mse)));
  });

  it('fits with the motion search on the moved patches of each target\'s previous frame', async () => {
    const codes = await codec.encode(video);
    const fit = fitDecoderOnContext(model, codec, codes, video, 0, { targets: 2, search: 1 })!;
    expect(fit.frames).toEqual([8, 9]);
    expect(fit.search).toBe(1);
    const n = codes.rows * codes.cols;
    const { k, dim, centroids } = codec.codebook;
    const samples = [8, 9].map((t) => {
      const motion = codec.motionPatches(sliceVideo(video, t - 1), codes.geometry!, 1);
      return {
        probs: model.predictDistribution({ ...codes, frames: t, codes: codes.codes.subarray(0, t * n) }).probs!,
        k, dim, centroids,
        present: codes.codes.subarray((t - 1) * n, t * n),
        reference: codec.referencePatches(sliceVideo(video, t - 1), codes.geometry!),
        truth: codec.referencePatches(sliceVideo(video, t), codes.geometry!),
        motion: motion.patches,
        motionCount: motion.count,
      };
    });
    const ref = fitDecoder(samples);
    expect([fit.decoder, fit.alpha]).toEqual([ref.decoder, ref.alpha]);
  });

  it('is null when no context frame has its pixels and those of the frame before', async () => {
    const codes = await codec.encode(video);
    expect(fitDecoderOnContext(model, codec, codes, sliceVideo(video, 9, 10), 9, { targets: 3 })).toBeNull();
    expect(fitDecoderOnContext(model, codec, { ...codes, frames: 1, codes: codes.codes.subarray(0, codes.rows * codes.cols) }, video, 0, { targets: 3 })).toBeNull();
  });

  it('fill: picks the decoder and alpha whose fillFrame renderings of the frames before the gap are closest in pixels', async () => {
    const codes = await codec.encode(video);
    const fit = fitFillDecoderOnContext(model, codec, codes, video, 0, 6, { targets: 2 })!;
    expect(fit.frames).toEqual([3, 4]); // u + 1 <= t - 1 = 5: the missing frame 6 is never read
    // the slow reference: every decoder and alpha rendered to pixels by RCNN.fillFrame, squared error summed
    const sse = (decoder: (typeof DECODERS)[number], alpha: number) =>
      fit.frames.reduce((acc, u) => {
        const frame = model.fillFrame(sliceCodes(codes, 0, u), sliceCodes(codes, u + 1, u + 2), { codec, reference: sliceVideo(video, u - 1), next: sliceVideo(video, u + 1), decoder, alpha });
        const truth = sliceVideo(video, u).data;
        return acc + frame.data.reduce((e, v, i) => e + (v - truth[i]) ** 2, 0);
      }, 0);
    let best = { decoder: 'centroid' as (typeof DECODERS)[number], alpha: 1, err: sse('centroid', 1) };
    for (const decoder of DECODERS.filter((d) => d !== 'centroid')) {
      for (let g = 0; g <= 10; g++) {
        const err = sse(decoder, g / 10);
        if (err < best.err * (1 - 1e-9)) best = { decoder, alpha: g / 10, err };
      }
    }
    expect(fit.decoder).toBe(best.decoder);
    expect(fit.alpha).toBeCloseTo(best.alpha, 10);
    expect(fitFillDecoderOnContext(model, codec, codes, video, 0, 2, { targets: 2 })).toBeNull(); // no frame before the gap
  });
});
