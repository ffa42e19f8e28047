import { Quantizer } from '@vqvid/quantize';
import type { CommandContext } from '../command';
import { isContainer } from '../files';

/** Loads a codebook file, reporting backend fallbacks only with --verbose. */
export async function loadQuantizer(path: string, ctx: CommandContext): Promise<Quantizer> {
  await isContainer(path, 'codebook'); // a clear E_NOT_FOUND naming --codebook
  return Quantizer.load(path, { onProgress: ctx.onProgress, log: ctx.debug });
}
