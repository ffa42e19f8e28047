import { sliceVideo } from '@vqvid/core';
import { evaluateFrames, motionMask, mse, psnr, sharpness, ssim, ssimPerFrame } from './index';
import { boxBlur, sceneVideo } from './test-helpers';

describe('evaluateFrames', () => {
  test('bundles the single metrics, with and without a motion mask', () => {
    const truth = sceneVideo(24, 20, 3);
    const pred = boxBlur(truth);
    for (const options of [{ peak: 255 }, { peak: 255, mask: motionMask(pred, truth, { threshold: 5 }) }]) {
      const m = evaluateFrames(pred, truth, options);
      expect(m.frames).toBe(3);
      expect(m.mse).toBe(mse(pred, truth, options));
      expect(m.psnr).toBe(psnr(pred, truth, options));
      expect(m.ssim).toBe(ssim(pred, truth, options));
      expect(m.sharpness).toBe(sharpness(pred, truth, options));
      expect(Array.from(m.perFrame.ssim)).toEqual(Array.from(ssimPerFrame(pred, truth, options)));
      expect(m.ssim).toBeLessThan(1);
      expect(m.psnr).toBeGreaterThan(10);
    }
  });

  test('a copy-last prediction is judged worse on the moving pixels than on the whole frame', () => {
    const truth = sceneVideo(32, 24, 2); // the bright square moves one pixel right
    const prev = sliceVideo(truth, 0, 1);
    const cur = sliceVideo(truth, 1, 2);
    const mask = motionMask(prev, cur);
    const moving = evaluateFrames(prev, cur, { mask });
    const whole = evaluateFrames(prev, cur);
    expect(moving.mse).toBeGreaterThan(4 * whole.mse);
    expect(moving.psnr).toBeLessThan(whole.psnr);
    expect(moving.ssim).toBeLessThan(whole.ssim);
  });
});
