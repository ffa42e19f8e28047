import { BACKEND_ALIASES, BACKEND_NAMES, DEFAULT_CODEC_OPTIONS, DEFAULT_QUANTIZER_OPTIONS, NORMALIZATIONS, autoOrder } from '@vqvid/quantize';
import type { BackendRequest, Normalization } from '@vqvid/quantize';
import type { Command } from '../command';
import { MEMORY_OPTIONS, memoryOptions } from '../memory';
import { fitSource, openVideo } from '../pipeline';
import { checkOutputs } from '../files';
import { OUTPUT_OPTION, READ_OPTIONS, ensureParent, readOptions, secondsSince, table } from './shared';

/** `vqvid quantize`: fit a k-means codebook of patches of a video. */
export const quantizeCommand: Command = {
  name: 'quantize',
  summary: 'fit a k-means codebook of video patches',
  usage: 'vqvid quantize <video> [--k 128] [--patch 8] [--stride 8] [--normalization per-video-std] -o codebook.vqcb',
  description:
    'Reads a video (Y4M natively, anything else through ffmpeg) as gray frames, divides it by its pixel std,\n' +
    'samples patches and fits k centroids with k-means++ and Lloyd iterations. The codebook file records the\n' +
    'patch size, stride, normalization and the std of this video. With --normalization per-video-std (the\n' +
    "paper's, the default) encode divides every video by its own std; with codebook-std by the std recorded here.\n" +
    'The video is streamed twice (the sample and pixel sums, then the std), never held in memory; when it has\n' +
    'more patches than --samples, the sample is a uniform reservoir draw seeded by --seed.',
  positionals: { min: 1, max: 1 },
  options: {
    k: { kind: 'int', default: 128, value: 'int', help: 'number of codes K' },
    patch: { kind: 'int', default: DEFAULT_CODEC_OPTIONS.patch, value: 'px', help: 'patch side' },
    stride: { kind: 'int', value: 'px', help: 'step between patches (default: the patch side)' },
    normalization: { kind: 'choice', choices: NORMALIZATIONS, default: DEFAULT_CODEC_OPTIONS.normalization, help: "divide each video by its own std, or by this video's" },
    samples: { kind: 'int', default: DEFAULT_CODEC_OPTIONS.sample, value: 'n', help: 'patches drawn for k-means' },
    'max-iter': { kind: 'int', default: DEFAULT_QUANTIZER_OPTIONS.maxIter, value: 'n', help: 'most Lloyd iterations' },
    backend: {
      kind: 'choice',
      choices: ['auto', ...BACKEND_NAMES, ...Object.keys(BACKEND_ALIASES)],
      value: 'name',
      default: DEFAULT_QUANTIZER_OPTIONS.backend,
      help: `k-means assignment backend: auto (in Node: ${autoOrder().join(' → ')}) or one of ${BACKEND_NAMES.join(', ')} (cpu: the old name of wasm-simd)`,
    },
    ...READ_OPTIONS,
    ...MEMORY_OPTIONS,
    ...OUTPUT_OPTION('codebook file to write (default codebook.vqcb)'),
  },
  libraryArguments: { sample: '--samples' },
  async run(ctx) {
    const { args } = ctx;
    const t0 = Date.now();
    const path = args.positionals[0];
    const output = args.str('output') ?? 'codebook.vqcb';
    await checkOutputs(args, [{ flag: '--output', path: output, kind: 'codebook' }]);
    const read = { ...readOptions(args, ctx), ...memoryOptions(args) };
    const video = await openVideo(path, read);
    const { codec, frames } = await fitSource(video, {
      k: args.num('k')!,
      patch: args.num('patch')!,
      stride: args.num('stride'),
      normalization: args.str('normalization') as Normalization,
      seed: ctx.seed,
      sample: args.num('samples')!,
      maxIter: args.num('max-iter'),
      backend: args.str('backend') as BackendRequest,
      onProgress: ctx.onProgress,
    }, read.maxMemory);
    ctx.cleanup(() => codec.dispose());
    await ensureParent(output);
    await codec.save(output);
    const q = codec.quantizer;
    const data = {
      codebook: output,
      k: codec.k,
      dim: codec.codebook.dim,
      patch: codec.meta.patch.size,
      stride: codec.meta.patch.stride,
      normalization: codec.meta.normalization,
      std: codec.meta.std,
      checksum: codec.checksum,
      frames,
      width: video.width,
      height: video.height,
      inertia: q.inertia,
      iterations: q.iterations,
      backend: q.backend,
      seconds: secondsSince(t0),
    };
    const text = table([
      ['codebook', `${output} (checksum ${data.checksum})`],
      ['K x dim', `${data.k} x ${data.dim}`],
      ['patch / stride', `${data.patch} / ${data.stride}, ${data.normalization}`],
      ['video', `${frames} frames of ${video.width}x${video.height}`],
      ['inertia', q.inertia.toPrecision(5)],
      ['iterations', q.iterations],
      ['backend', String(q.backend)],
      ['seconds', data.seconds],
    ]);
    return { data, text };
  },
};
