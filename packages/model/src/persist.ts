import { fail, packContainer, readFileChecked, unpackContainer, VqvidError, writeFileAtomic } from '@vqvid/core';
import type { StoredArray } from '@vqvid/core';

/**
 * Version of the saved-model and checkpoint layout; a file with another version is refused with E_VERSION.
 * @example
 * ```ts
 * if (MODEL_FORMAT_VERSION !== 1) console.log('model files changed layout');
 * ```
 */
export const MODEL_FORMAT_VERSION = 1;
/** File name of a saved model inside its directory. */
export const MODEL_FILE = 'model.vqm';
/** File name of the training checkpoint inside `checkpointDir`. */
export const CHECKPOINT_FILE = 'checkpoint.vqm';

const KIND = { model: 'vqvid-model', checkpoint: 'vqvid-checkpoint' } as const;

/** Writes a versioned container into `dir/file` atomically (temp file + rename), creating `dir`. */
export async function writeStore(
  dir: string,
  what: keyof typeof KIND,
  header: Record<string, unknown>,
  arrays: Record<string, StoredArray>,
): Promise<void> {
  if (typeof dir !== 'string' || dir.length === 0) fail('E_RANGE', 'dir', 'a directory path', dir);
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  try {
    await fs.mkdir(dir, { recursive: true });
  } catch (e) {
    throw new VqvidError('E_IO', `dir: could not create ${dir} (${(e as Error).message})`, { path: dir });
  }
  const file = path.join(dir, what === 'model' ? MODEL_FILE : CHECKPOINT_FILE);
  await writeFileAtomic(file, packContainer(KIND[what], { ...header, formatVersion: MODEL_FORMAT_VERSION }, arrays));
}

/** Reads and checks a container written by {@link writeStore}; E_NOT_FOUND, E_FORMAT or E_VERSION on failure. */
export async function readStore(
  dir: string,
  what: keyof typeof KIND,
): Promise<{ header: Record<string, unknown>; arrays: Record<string, StoredArray> }> {
  if (typeof dir !== 'string' || dir.length === 0) fail('E_RANGE', 'dir', 'a directory path', dir);
  const path = await import('node:path');
  const file = path.join(dir, what === 'model' ? MODEL_FILE : CHECKPOINT_FILE);
  const { header, arrays } = unpackContainer(await readFileChecked(file, 'dir'), KIND[what], file);
  if (header.formatVersion !== MODEL_FORMAT_VERSION) {
    throw new VqvidError(
      'E_VERSION',
      `${file}: model format version ${String(header.formatVersion)}, this build reads version ${MODEL_FORMAT_VERSION}`,
      { path: file },
    );
  }
  return { header, arrays };
}

/** Whether `dir` holds a checkpoint file. */
export async function hasCheckpoint(dir: string): Promise<boolean> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  return fs.access(path.join(dir, CHECKPOINT_FILE)).then(() => true, () => false);
}

/** The float32 array stored under `name`, or E_FORMAT naming the file's missing/mis-sized entry. */
export function takeF32(arrays: Record<string, StoredArray>, name: string, length: number, source: string): Float32Array {
  const a = arrays[name];
  if (!(a instanceof Float32Array) || a.length !== length) {
    throw new VqvidError('E_FORMAT', `${source}: weight ${name} missing or of the wrong size (expected ${length} floats)`, { source });
  }
  return a;
}
