import { open } from 'node:fs/promises';
import { VqvidError } from '@vqvid/core';

const MAGIC = 'VQVD';

/** The first bytes of a file, to tell a vqvid container from a video without reading all of it. */
async function peek(path: string, arg: string, n: number): Promise<Uint8Array> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
    const buf = new Uint8Array(n);
    const { bytesRead } = await handle.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new VqvidError('E_NOT_FOUND', `${arg}: file ${path} does not exist`, { path });
    if (err.code === 'EISDIR') throw new VqvidError('E_FORMAT', `${arg}: ${path} is a directory, expected a file`, { path });
    throw new VqvidError('E_IO', `${arg}: could not read ${path} (${err.message})`, { path });
  } finally {
    await handle?.close();
  }
}

/** Whether `path` is a vqvid container (codes, codebook, model) rather than a video. */
export async function isContainer(path: string, arg: string): Promise<boolean> {
  const head = await peek(path, arg, 4);
  return new TextDecoder().decode(head) === MAGIC;
}
