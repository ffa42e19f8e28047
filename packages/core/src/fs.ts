import { VqvidError } from './errors';

/** Temp files of writes in flight in this process: a fatal signal or exit removes them. */
const inFlight = new Set<string>();
const CLEANUP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
/** node:fs's rmSync, loaded with the first write (a static import would break browser bundles of core). */
let rmSync: ((path: string, opts: { force: boolean }) => void) | null = null;

/** Removes every in-flight temp file, synchronously (signal and exit handlers cannot wait). */
function removeInFlight(): void {
  for (const tmp of inFlight) {
    try {
      rmSync?.(tmp, { force: true });
    } catch {
      // best effort: the process is going away
    }
  }
  inFlight.clear();
}

/**
 * On SIGINT/SIGTERM: when no one else listens, the signal would have ended the process, so remove the temp
 * files, step aside and raise it again, and the process ends as it would have. When someone else listens (the
 * CLI catches Ctrl-C to save a checkpoint) the write goes on; if they then exit, the exit hook cleans up.
 */
function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  removeInFlight();
  uninstall();
  process.kill(process.pid, signal);
}

function install(): void {
  for (const s of CLEANUP_SIGNALS) process.on(s, onSignal);
  process.on('exit', removeInFlight);
}

function uninstall(): void {
  for (const s of CLEANUP_SIGNALS) process.off(s, onSignal);
  process.off('exit', removeInFlight);
}

/**
 * Name of a temporary file for `path`: `<path>.tmp-<pid>-<time, base 36>-<8 hex digits>`; TEMP_PATTERN
 * matches exactly these names and no others, so the stale sweep touches only our own files.
 */
function tempName(path: string): string {
  const random = Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0');
  return `${path}.tmp-${process.pid}-${Date.now().toString(36)}-${random}`;
}
const TEMP_PATTERN = /^.+\.tmp-\d{1,10}-[0-9a-z]{1,11}-[0-9a-f]{8}$/;

/**
 * Age after which a temp file of ours counts as left behind by a killed writer: a live write keeps touching its
 * file, and a minute without a byte is far beyond any pause of a working save.
 */
const STALE_TEMP_MS = 60_000;

/** Whether process `pid` (the writer named in a temp file) is running here; a live writer's file is left alone. */
function writerAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temp files of our naming pattern in `dir` untouched for STALE_TEMP_MS (left by a writer that
 * was killed: SIGKILL, power loss) whose writer is not running. Best effort: errors are ignored, a save never fails because of the sweep.
 */
async function sweepStale(fs: typeof import('node:fs/promises'), dir: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return;
  }
  const now = Date.now();
  const { join } = await import('node:path');
  await Promise.all(
    names
      .filter((name) => TEMP_PATTERN.test(name))
      .map(async (name) => {
        const file = join(dir, name);
        if (inFlight.has(file) || writerAlive(Number(/\.tmp-(\d+)-/.exec(name)![1]))) return;
        try {
          const st = await fs.lstat(file);
          if (st.isFile() && now - st.mtimeMs > STALE_TEMP_MS) await fs.rm(file, { force: true });
        } catch {
          // gone already, or not ours to remove
        }
      }),
  );
}

/**
 * Writes `data` to `path` atomically: a temporary file in the same directory, fsync, then rename, so a
 * reader (or a crash) sees either the old file or the new one, never half of one. A SIGINT or SIGTERM that
 * would end the process during the write removes the temporary file first (handlers are installed only while
 * a write is in flight, and the signal is raised again), and each write sweeps the directory's stale
 * temporary files of earlier killed writers (ours only, untouched for a minute). Node only.
 * @example
 * ```ts
 * await writeFileAtomic('codebook.vqcb', bytes);
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const fs = await import('node:fs/promises');
  const { dirname, resolve } = await import('node:path');
  rmSync ??= (await import('node:fs')).rmSync;
  const tmp = resolve(tempName(path));
  await sweepStale(fs, dirname(tmp));
  if (inFlight.size === 0) install();
  inFlight.add(tmp);
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
  } finally {
    inFlight.delete(tmp);
    if (inFlight.size === 0) uninstall();
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
