// Quantize a video into k-means patch codes, then save the codebook atlas and a reconstruction strip.
//   node examples/pipeline/quantize-video.mjs [video-path] [--k 64] [--frames 24] [--out dir]
// Without a path it uses the built-in synthetic clip (nothing to download).
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { psnr } from '@vqvid/metrics';
import { PatchCodec, codebookAtlas } from '@vqvid/quantize';
import { frameStrip, readVideo, syntheticVideo, writePng } from '@vqvid/video';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { k: { type: 'string', default: '64' }, frames: { type: 'string', default: '24' }, out: { type: 'string' } },
});
const k = Number(values.k);
const frames = Number(values.frames);
const out = values.out ?? join(tmpdir(), 'vqvid-examples', 'quantize-video');
mkdirSync(out, { recursive: true });

const video = positionals[0]
  ? await readVideo(positionals[0], { maxFrames: frames, width: 160 })
  : syntheticVideo({ kind: 'bouncing', width: 96, height: 96, frames, seed: 1 });
console.log(`video: ${video.frames} frames of ${video.width}x${video.height}`);

// The paper's preprocessing: divide by the pixel std, cut 8x8 patches with stride 4 (overlapping); the codec
// owns all of it, and fits k-means on (up to 100,000 of) those patches.
const codec = await PatchCodec.fit(video, { k, patch: 8, stride: 4, seed: 1, maxIter: 20 });
const codes = await codec.encode(video); // CodeVolume carrying its geometry (patch, stride, frame size, std)
const { quantizer } = codec;
console.log(`codebook: K = ${k}, ${quantizer.iterations} Lloyd iterations on the ${quantizer.backend} backend`);

// Decoding replaces each patch by its centroid; overlapping patches are averaged back into frames.
const rebuilt = codec.decode(codes);
console.log(`reconstruction PSNR: ${psnr(rebuilt, video).toFixed(2)} dB`);

await writePng(join(out, 'codebook.png'), frameStrip([codebookAtlas(codec.codebook)], { scale: 4, gap: 0 }));
await writePng(join(out, 'reconstruction.png'), frameStrip([{ label: 'input', video }, { label: 'codes', video: rebuilt }], { maxFrames: 6, scale: 2 }));
await codec.save(join(out, 'codebook.vqcb')); // PatchCodec.load() reads it back, geometry and all
codec.dispose();
console.log(`wrote codebook.png, reconstruction.png and codebook.vqcb in ${out}`);
