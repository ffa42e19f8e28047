import { checkSchema, fail, packContainer, readFileChecked, unpackContainer, VqvidError, writeFileAtomic } from '@vqvid/core';
import type { Schema, StoredArray } from '@vqvid/core';

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

// The headers' shapes, checked by core's hand-written checkSchema (no dependency, exact messages naming the
// file and field). Sizes and ranges are checked where they are understood: the config by resolveConfig, the
// output configuration by createOutputLayer's resolution, the weights against both before anything is built.
const NUMBER: Schema = { type: 'number' };
const COUNT: Schema = { type: 'integer', min: 0 };
const COMMON_FIELDS = {
  formatVersion: { type: 'integer', min: MODEL_FORMAT_VERSION, max: MODEL_FORMAT_VERSION },
  config: { type: 'object' },
  output: { type: 'object' },
} as const satisfies Record<string, Schema>;

/** A saved model's header: which class, its config, its output layer's configuration, its codebook checksum. */
const MODEL_HEADER: Schema = {
  type: 'object',
  fields: {
    ...COMMON_FIELDS,
    className: { type: 'string' },
    codebook: { type: 'string', pattern: /^[0-9a-f]{8}$/, optional: true, nullable: true },
  },
};

/** A checkpoint's header: as a model's, plus the training state and Adam's scalars. */
const CHECKPOINT_HEADER: Schema = {
  type: 'object',
  fields: {
    ...COMMON_FIELDS,
    state: {
      type: 'object',
      fields: {
        epoch: COUNT,
        step: COUNT,
        globalStep: COUNT,
        lossSum: NUMBER,
        lossCount: COUNT,
        history: {
          type: 'array',
          items: {
            type: 'object',
            fields: { epoch: COUNT, loss: NUMBER, lr: NUMBER, valNll: { ...NUMBER, optional: true }, valBits: { ...NUMBER, optional: true } },
          },
        },
        bestNll: { ...NUMBER, nullable: true },
        bestEpoch: { type: 'integer', min: -1 },
        badEpochs: COUNT,
        lrScale: { type: 'number', min: 0, optional: true },
        rollout: { type: 'object', optional: true, fields: { frames: { type: 'integer', min: 1, max: 1000 }, prob: { type: 'number', min: 0, max: 1 } } },
      },
    },
    adam: { type: 'object', fields: { iterations: COUNT, moments: COUNT, accBeta1: NUMBER, accBeta2: NUMBER } },
  },
};

/**
 * Reads and checks a container written by {@link writeStore}: E_NOT_FOUND, E_FORMAT (corrupt, or a header not
 * of the model/checkpoint shape) or E_VERSION on failure. Returns the file's path for later messages.
 */
export async function readStore(
  dir: string,
  what: keyof typeof KIND,
): Promise<{ header: Record<string, unknown>; arrays: Record<string, StoredArray>; file: string }> {
  if (typeof dir !== 'string' || dir.length === 0) fail('E_RANGE', 'dir', 'a directory path', dir);
  const path = await import('node:path');
  const file = path.join(dir, what === 'model' ? MODEL_FILE : CHECKPOINT_FILE);
  const { header, arrays } = unpackContainer(await readFileChecked(file, 'dir'), KIND[what], file);
  // another version's header may have another shape: the version is checked before the shape
  const version = header.formatVersion;
  if (Number.isSafeInteger(version) && version !== MODEL_FORMAT_VERSION) {
    throw new VqvidError('E_VERSION', `${file}: model format version ${version}, this build reads version ${MODEL_FORMAT_VERSION}`, { path: file });
  }
  checkSchema(header, what === 'model' ? MODEL_HEADER : CHECKPOINT_HEADER, 'header', file);
  return { header, arrays, file };
}

/**
 * Runs `f`, a check of what `file` holds, so that every VqvidError it throws is an E_FORMAT naming the file
 * (a config value out of range in a file is a bad file, not a bad argument).
 */
export function asFileFormat<T>(file: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (!(e instanceof VqvidError) || (e.code === 'E_FORMAT' && e.message.startsWith(`${file}:`))) throw e;
    throw new VqvidError('E_FORMAT', `${file}: ${e.message}`, { source: file, cause: e.code });
  }
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
