import { PatchCodec } from '@vqvid/quantize';
import type { RCNN } from '@vqvid/model';
import type { CommandContext } from '../command';
import { isContainer } from '../files';
import { loadModel } from '../modeling';

/**
 * Loads a codebook file as a codec (released when the command ends), reporting backend fallbacks only with
 * --verbose. Its own progress is not wired: the pipeline encodes a few frames per call and reports the frames.
 */
export async function loadCodec(path: string, ctx: CommandContext): Promise<PatchCodec> {
  await isContainer(path, 'codebook'); // a clear E_NOT_FOUND naming --codebook
  const codec = await PatchCodec.load(path, { log: ctx.debug });
  ctx.cleanup(() => codec.dispose());
  return codec;
}

/** Loads a model folder checked against the codec's K (released when the command ends). */
export async function loadTrainedModel(dir: string, codec: PatchCodec, ctx: CommandContext): Promise<RCNN> {
  const model = await loadModel(dir, codec);
  ctx.cleanup(() => model.dispose());
  return model;
}
