import type { Command } from '../command';
import { fitCodebook, loadVideo } from '../pipeline';
import { OUTPUT_OPTION, READ_OPTIONS, ensureParent, readOptions, secondsSince, table } from './shared';

/** `vqvid quantize`: fit a k-means codebook of patches of a video. */
export const quantizeCommand: Command = {
  name: 'quantize',
  summary: 'fit a k-means codebook of video patches',
  usage: 'vqvid quantize <video> [--k 128] [--patch 8] [--stride 8] -o codebook.vqcb',
  description:
    'Reads a video (Y4M natively, anything else through ffmpeg) as gray frames, divides it by its pixel std,\n' +
    'samples patches and fits k centroids with k-means++ and Lloyd iterations. The codebook records patch size,\n' +
    'stride and the std so encode/predict can go back to pixels.',
  positionals: { min: 1, max: 1 },
  options: {
    k: { kind: 'int', default: 128, value: 'int', help: 'number of codes K' },
    patch: { kind: 'int', default: 8, value: 'px', help: 'patch side' },
    stride: { kind: 'int', value: 'px', help: 'step between patches (default: the patch side)' },
    samples: { kind: 'int', default: 20000, value: 'n', help: 'patches drawn for k-means' },
    'max-iter': { kind: 'int', default: 30, value: 'n', help: 'most Lloyd iterations' },
    backend: { kind: 'choice', choices: ['auto', 'webgpu', 'webgl2', 'headlessgl', 'webasm', 'cpu'], value: 'name', default: 'auto', help: 'k-means assignment backend: auto, webgpu, webgl2, headlessgl, webasm or cpu' },
    ...READ_OPTIONS,
    ...OUTPUT_OPTION('codebook file to write (default codebook.vqcb)'),
  },
  async run(ctx) {
    const { args } = ctx;
    const t0 = Date.now();
    const path = args.positionals[0];
    const output = args.str('output') ?? 'codebook.vqcb';
    const size = args.num('patch')!;
    const video = await loadVideo(path, readOptions(args, ctx));
    const q = await fitCodebook(video, {
      k: args.num('k')!,
      size,
      stride: args.num('stride') ?? size,
      seed: ctx.seed,
      samples: args.num('samples')!,
      maxIter: args.num('max-iter'),
      backend: args.str('backend') as never,
      onProgress: ctx.onProgress,
    });
    ctx.cleanup(() => q.dispose());
    await ensureParent(output);
    await q.save(output);
    const data = {
      codebook: output,
      k: q.codebook.k,
      dim: q.codebook.dim,
      patch: size,
      stride: args.num('stride') ?? size,
      frames: video.frames,
      width: video.width,
      height: video.height,
      inertia: q.inertia,
      iterations: q.iterations,
      backend: q.backend,
      seconds: secondsSince(t0),
    };
    const text = table([
      ['codebook', output],
      ['K x dim', `${data.k} x ${data.dim}`],
      ['video', `${video.frames} frames of ${video.width}x${video.height}`],
      ['inertia', q.inertia.toPrecision(5)],
      ['iterations', q.iterations],
      ['backend', String(q.backend)],
      ['seconds', data.seconds],
    ]);
    return { data, text };
  },
};
