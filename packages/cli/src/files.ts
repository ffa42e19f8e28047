import { access, constants, open, realpath, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { VqvidError } from '@vqvid/core';
import type { ParsedArgs } from './args';

const MAGIC = 'VQVD';
/** Magic of @vqvid/compress's streams (a container follows it). */
const COMPRESSED_MAGIC = 'VQVZ';
/** The file a model folder holds (the name @vqvid/model saves it under). */
export const MODEL_FILE = 'model.vqm';
/** The file a training checkpoint folder holds (the name @vqvid/model saves it under). */
export const CHECKPOINT_FILE = 'checkpoint.vqm';

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

/** What a file holds, as far as vqvid writes it: one of its containers, a video, a PNG, nothing, or something else. */
export type FileKind = 'codebook' | 'codes' | 'compressed' | 'model' | 'checkpoint' | 'video' | 'png' | 'empty' | 'other';

const CONTAINER_KINDS: Record<string, FileKind> = { codebook: 'codebook', codes: 'codes', 'vqvid-model': 'model', 'vqvid-checkpoint': 'checkpoint' };
const KIND_WORDS: Record<FileKind, string> = {
  codebook: 'a codebook',
  codes: 'a codes file',
  compressed: 'a compressed codes file',
  model: 'a model',
  checkpoint: 'a training checkpoint',
  video: 'a video',
  png: 'a PNG image',
  empty: 'nothing',
  other: 'something vqvid did not write',
};
/** Extensions ffmpeg reads as video; a file with one of them counts as a video whatever its first bytes. */
const VIDEO_EXTENSIONS = new Set(['.y4m', '.avi', '.mkv', '.mp4', '.mov', '.webm', '.nut', '.gif', '.mpg', '.mpeg', '.m4v', '.ogv', '.flv', '.wmv', '.ts', '.3gp']);
const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47];

/** The kind of the existing file `path`: by its magic (and the container's kind tag), else by a video extension. */
async function fileKind(path: string, arg: string): Promise<FileKind> {
  // packContainer writes the header JSON right after 12 bytes, starting with its "kind": enough to tell kinds
  // apart without reading (or trusting) the rest of a file that is about to be replaced
  const head = await peek(path, arg, 12 + 64);
  if (head.length === 0) return 'empty';
  const text = new TextDecoder('latin1').decode(head);
  if (text.startsWith(COMPRESSED_MAGIC)) return 'compressed';
  if (text.startsWith(MAGIC)) return CONTAINER_KINDS[/^\{"kind":"([^"]*)"/.exec(text.slice(12))?.[1] ?? ''] ?? 'other';
  if (PNG_MAGIC.every((b, i) => head[i] === b)) return 'png';
  if (text.startsWith('YUV4MPEG2') || VIDEO_EXTENSIONS.has(extname(path).toLowerCase())) return 'video';
  return 'other';
}

/** One path a command is about to write: a file of one kind, or a folder and the files it puts in it. */
export interface PlannedOutput {
  /** The option that named the path, as the user typed it (e.g. '--output'); errors name it. */
  flag: string;
  /** The path as given. */
  path: string;
  /** A file of this kind; absent for a folder. */
  kind?: FileKind;
  /** For a folder: the files written in it, each with its kind (null: any content may be replaced). */
  files?: Record<string, FileKind | null>;
}

/**
 * The output of `vqvid predict`, `generate` and `fill` at `path` (none when not asked for): codes for .vqc,
 * a PNG strip for .png, a video otherwise, as their `-o` writes them.
 * @example
 * ```ts
 * await checkOutputs(args, [framesOutput(args.str('output'))]);
 * ```
 */
export function framesOutput(path: string | undefined): PlannedOutput | null {
  if (path === undefined) return null;
  const ext = extname(path).toLowerCase();
  return { flag: '--output', path, kind: ext === '.vqc' ? 'codes' : ext === '.png' ? 'png' : 'video' };
}

/** A file the command reads, with the words errors use for it. */
interface InputFile {
  label: string;
  path: string;
}

/** The files a command reads, from the options every command names the same way. */
function inputFiles(args: ParsedArgs): InputFile[] {
  const inputs = args.positionals.map((path) => ({ label: 'the input', path }));
  const codebook = args.str('codebook');
  if (codebook !== undefined) inputs.push({ label: '--codebook', path: codebook });
  const model = args.str('model');
  if (model !== undefined) inputs.push({ label: '--model', path: join(model, MODEL_FILE) });
  return inputs;
}

/** `path` made absolute with every symlink of its existing part resolved, so ./a, a and a link to a agree. */
async function realPath(path: string): Promise<string> {
  const abs = resolve(path);
  try {
    return await realpath(abs);
  } catch {
    const parent = dirname(abs);
    return parent === abs ? abs : join(await realPath(parent), basename(abs));
  }
}

async function statOrNull(path: string): Promise<Stats | null> {
  try {
    return await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw e;
  }
}

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOTDIR: 'a file is in the way',
  EEXIST: 'a file is in the way',
  ENOSPC: 'no space left on the device',
};

/**
 * A file-system error in a few words: its code and what it means ("EACCES: permission denied"), or its message.
 * @example
 * ```ts
 * try { await mkdir(dir); } catch (e) { console.error(`cannot create ${dir} (${ioReason(e)})`); }
 * ```
 */
export function ioReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const words = err.code && Object.hasOwn(REASONS, err.code) ? REASONS[err.code] : undefined;
  return words ? `${err.code}: ${words}` : String(err.message ?? e);
}

function cannotWrite(flag: string, path: string, why: string): never {
  throw new VqvidError('E_IO', `${flag}: cannot write ${path}: ${why}`, { argument: flag, path });
}

/**
 * Checks that files can be created in folder `dir` (made if missing): the nearest existing folder on its
 * path must be a folder, and writable. Throws E_IO naming `flag` and `path` otherwise.
 */
async function checkWritableFolder(dir: string, flag: string, path: string): Promise<void> {
  let d = resolve(dir);
  for (;;) {
    const st = await statOrNull(d);
    if (st === null) {
      const up = dirname(d);
      if (up === d) cannotWrite(flag, path, `no folder on its path exists`);
      d = up;
      continue;
    }
    if (!st.isDirectory()) cannotWrite(flag, path, `${d} is a file, not a folder`);
    try {
      await access(d, constants.W_OK | constants.X_OK);
    } catch (e) {
      cannotWrite(flag, path, `${d} is not writable (${ioReason(e)})`);
    }
    return;
  }
}

async function checkFile(out: { flag: string; path: string; kind: FileKind | null }, inputs: Array<InputFile & { real: string; st: Stats }>, force: boolean): Promise<void> {
  const real = await realPath(out.path);
  const st = await statOrNull(real);
  for (const input of inputs) {
    // the same path after resolving links, or another name (hard link) of the same file
    if (real === input.real || (st && st.ino === input.st.ino && st.dev === input.st.dev)) {
      const same = out.path === input.path ? '' : ` (the same file as ${input.path})`;
      cannotWrite(out.flag, out.path, `it is ${input.label}${same}, which writing would destroy; choose another output path`);
    }
  }
  if (st?.isDirectory()) cannotWrite(out.flag, out.path, 'it is a folder, expected a file');
  await checkWritableFolder(dirname(real), out.flag, out.path);
  if (!st || out.kind === null) return;
  const kind = await fileKind(real, out.flag);
  if (kind !== out.kind && kind !== 'empty' && !force) {
    cannotWrite(out.flag, out.path, `it holds ${KIND_WORDS[kind]}, not ${KIND_WORDS[out.kind]}; pass --force to overwrite it`);
  }
}

/**
 * Checks, before a command does any work, that each of its `outputs` can be written: not one of its inputs
 * (its positionals, `--codebook` and `--model`; symlinks, `./` and hard links count), not an existing file of
 * another kind unless `--force` was given, and in a folder that exists or can be made and is writable.
 * Throws a VqvidError E_IO naming the output's flag and path otherwise. Falsy entries (outputs not asked
 * for) are skipped.
 * @example
 * ```ts
 * await checkOutputs(ctx.args, [{ flag: '--output', path: 'codebook.vqcb', kind: 'codebook' }]);
 * ```
 */
export async function checkOutputs(args: ParsedArgs, outputs: Array<PlannedOutput | null | undefined | false>): Promise<void> {
  const force = args.flag('force');
  const inputs: Array<InputFile & { real: string; st: Stats }> = [];
  for (const input of inputFiles(args)) {
    const real = await realPath(input.path);
    const st = await statOrNull(real);
    // a missing input cannot be destroyed; reading it reports it later
    if (st) inputs.push({ ...input, real, st });
  }
  for (const out of outputs) {
    if (!out) continue;
    if (!out.files) {
      await checkFile({ flag: out.flag, path: out.path, kind: out.kind ?? null }, inputs, force);
      continue;
    }
    const st = await statOrNull(await realPath(out.path));
    if (st && !st.isDirectory()) cannotWrite(out.flag, out.path, 'it is a file, expected a folder');
    for (const [name, kind] of Object.entries(out.files)) {
      await checkFile({ flag: out.flag, path: join(out.path, name), kind }, inputs, force);
    }
  }
}
