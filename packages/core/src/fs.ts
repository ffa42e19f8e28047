import { VqvidError } from './errors';

/**
 * Writes `data` to `path` atomically: a temporary file in the same directory, fsync, then rename, so a
 * reader (or a crash) sees either the old file or the new one, never half of one. Node only.
 * @example
 * ```ts
 * await writeFileAtomic('codebook.vqcb', bytes);
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const fs = await import('node:fs/promises');
  const tmp = `${path}.tmp-${process.pid}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  let handle: Awaited<ReturnType<typeof fs.open>> | undefined;
  try {
    handle = await fs.open(tmp, 'w');
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.rename(tmp, path);
  } catch (e) {
    if (handle) await handle.close().catch(() => undefined);
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw new VqvidError('E_IO', `${path}: could not write (${(e as Error).message})`, { path });
  }
}

/**
 * Reads a whole file, turning "no such file" into a VqvidError E_NOT_FOUND that names the path. Node only.
 * @example
 * ```ts
 * const bytes = await readFileChecked('codebook.vqcb', 'codebook');
 * ```
 */
export async function readFileChecked(path: string, arg = 'path'): Promise<Uint8Array> {
  const fs = await import('node:fs/promises');
  try {
    return new Uint8Array(await fs.readFile(path));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new VqvidError('E_NOT_FOUND', `${arg}: file ${path} does not exist`, { path });
    throw new VqvidError('E_IO', `${arg}: could not read ${path} (${err.message})`, { path });
  }
}
