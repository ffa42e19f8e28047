import { VqvidError } from '@vqvid/core';
import type { CodeVolume } from '@vqvid/core';
import { readVideo, encodeY4m, syntheticVideo } from '@vqvid/video';
import { parseCommandArgs } from './args';
import { DEFAULT_MAX_MEMORY_MB, MEMORY_OPTIONS, checkMemory, checkRenderMemory, checkUpscale, decodeBytes, memoryOptions, resizedSize } from './memory';

const MB = 2 ** 20;

describe('memoryOptions', () => {
  it('reads --max-memory in MB (default 2048) and --allow-upscale', () => {
    const parse = (...argv: string[]) => memoryOptions(parseCommandArgs(argv, MEMORY_OPTIONS, { min: 0, max: 0 }));
    expect(parse()).toEqual({ maxMemory: DEFAULT_MAX_MEMORY_MB * MB, allowUpscale: false });
    expect(DEFAULT_MAX_MEMORY_MB).toBe(2048);
    expect(parse('--max-memory', '300', '--allow-upscale')).toEqual({ maxMemory: 300 * MB, allowUpscale: true });
    expect(() => parse('--max-memory', '0')).toThrow(/^--max-memory: expected /);
  });
});

describe('checkMemory', () => {
  it('passes work within the budget and refuses more with E_RANGE naming --max-memory, the need and a remedy', () => {
    expect(() => checkMemory(2048 * MB, 2048 * MB, 'x')).not.toThrow();
    expect(() => checkMemory(10 ** 12, undefined, 'x')).not.toThrow(); // no budget, no check
    let error: unknown;
    try {
      checkMemory(3000 * MB, 2048 * MB, 'holding all 795 frames of 768x576', 'use fewer');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(VqvidError);
    expect(error).toMatchObject({
      code: 'E_RANGE',
      message: '--max-memory: holding all 795 frames of 768x576 needs about 3000 MB, more than the 2048 MB allowed; raise --max-memory or use fewer',
      details: { argument: '--max-memory' },
    });
  });
});

describe('resizedSize', () => {
  it('is the size readVideo resizes to', async () => {
    const bytes = encodeY4m(syntheticVideo({ kind: 'bouncing', width: 45, height: 31, frames: 1 }));
    for (const to of [{}, { width: 20 }, { height: 7 }, { width: 90, height: 10 }, { width: 1 }, { height: 200 }]) {
      const v = await readVideo(bytes, to);
      expect(resizedSize({ width: 45, height: 31 }, to)).toEqual({ width: v.width, height: v.height });
    }
  });
});

describe('checkUpscale', () => {
  const from = { width: 768, height: 576 };
  it('allows shrinking, and enlarging up to 4x the pixels and 4096x4096', () => {
    expect(() => checkUpscale(from, { width: 1536, height: 1152 }, false)).not.toThrow(); // 4x exactly
    expect(() => checkUpscale({ width: 4000, height: 4000 }, { width: 4096, height: 4096 }, false)).not.toThrow();
    expect(() => checkUpscale({ width: 8000, height: 8000 }, { width: 5000, height: 5000 }, false)).not.toThrow(); // smaller
  });

  it('refuses more unless allowed, naming --width/--height', () => {
    expect(() => checkUpscale(from, { width: 1537, height: 1152 }, false)).toThrow(/^--width\/--height: 1537x1152 enlarges the 768x576 frames 4\.0 times; .*needs --allow-upscale$/);
    expect(() => checkUpscale({ width: 3000, height: 3000 }, { width: 4097, height: 4096 }, false)).toThrow(/needs --allow-upscale/);
    expect(() => checkUpscale(from, { width: 20000, height: 20000 }, false)).toThrow(/904\.2 times/);
    expect(() => checkUpscale(from, { width: 20000, height: 20000 }, true)).not.toThrow();
  });
});

describe('checkRenderMemory', () => {
  const net = { k: 8, embedDim: 16, hidden: 32, layers: 2 };
  const codes = (width: number, height: number, rows: number, cols: number): CodeVolume => ({
    rows, cols, frames: 1, k: 8, codes: new Uint16Array(rows * cols), geometry: { patch: 8, stride: 8, width, height, std: 1 },
  });

  it('estimates from the geometry the codes state, before decoding anything', () => {
    // a 30000 x 30000 frame is 3.4 GB of float32 pixels, whatever its codes file weighs
    const huge = codes(30000, 30000, 3750, 3750);
    expect(decodeBytes(huge.geometry!, 3750, 3750, 8, 1)).toBeGreaterThan(3 * 30000 * 30000 * 4);
    expect(() => checkRenderMemory(huge, 5, net, 2048 * MB, 'render fewer')).toThrow(/^--max-memory: rendering 5 frames of 30000x30000 \(3750 x 3750 cells, K = 8\) needs about \d+ MB, more than the 2048 MB allowed; raise --max-memory or render fewer$/);
    expect(() => checkRenderMemory(codes(768, 576, 72, 96), 5, net, 2048 * MB, 'x')).not.toThrow();
    const { geometry: _, ...bare } = codes(768, 576, 72, 96);
    expect(() => checkRenderMemory(bare, 1e9, net, 1, 'x')).not.toThrow(); // the codec refuses codes without geometry
  });
});
