import { Quantizer } from '@vqvid/quantize';
import type { RCNN } from '@vqvid/model';
import type { CommandContext } from '../command';
import { isContainer } from '../files';
import { loadModel } from '../modeling';

/** Loads a codebook file (released when the command ends), reporting backend fallbacks only with --verbose. */
export async function loadQuantizer(path: string, ctx: CommandContext): Promise<Quantizer> {
  await isContainer(path, 'codebook'); // a clear E_NOT_FOUND naming --codebook
  const q = await Quantizer.load(path, { onProgress: ctx.onProgress, log: ctx.debug });
  ctx.cleanup(() => q.dispose());
  return q;
}

/** Loads a model folder checked against the codebook's K (released when the command ends). */
export async function loadTrainedModel(dir: string, q: Quantizer, ctx: CommandContext): Promise<RCNN> {
  const model = await loadModel(dir, q);
  ctx.cleanup(() => model.dispose());
  return model;
}
