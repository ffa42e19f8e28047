import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { VqvidError } from '@vqvid/core';

/** Which ffmpeg binary is used and why. */
export interface FfmpegBinary {
  /** Executable path (or plain 'ffmpeg' for a PATH lookup). */
  path: string;
  /** Where the path came from, in order of preference. */
  from: 'VQVID_FFMPEG' | '@ffmpeg-installer/ffmpeg' | 'PATH';
}

/** What `ffmpeg -i` says about the first video stream of an input or output. */
export interface StreamInfo {
  width: number;
  height: number;
  fps?: number;
  codec?: string;
  /** Seconds, from the container's Duration line when present. */
  duration?: number;
}

/** Running ffmpeg children, so early stops can be checked to leave none behind. */
const live = new Set<ChildProcess>();

let killed = 0;

/** Number of ffmpeg processes started by this module that have not exited yet. */
export function liveFfmpegCount(): number {
  return live.size;
}

/** Number of ffmpeg processes this module had to kill (consumers that stopped early). */
export function killedFfmpegCount(): number {
  return killed;
}

/**
 * Finds ffmpeg: env VQVID_FFMPEG (must exist), else the @ffmpeg-installer/ffmpeg binary, else `ffmpeg` on PATH.
 * @example
 * ```ts
 * const { path, from } = await resolveFfmpeg();
 * ```
 */
export async function resolveFfmpeg(): Promise<FfmpegBinary> {
  const env = process.env.VQVID_FFMPEG;
  if (env) {
    try {
      await access(env, constants.X_OK);
    } catch {
      throw new VqvidError('E_TOOL', `VQVID_FFMPEG: expected an executable ffmpeg, got ${JSON.stringify(env)} (not found or not executable)`, { path: env });
    }
    return { path: env, from: 'VQVID_FFMPEG' };
  }
  try {
    const mod = (await import('@ffmpeg-installer/ffmpeg')) as { path?: string; default?: { path?: string } };
    const p = mod.default?.path ?? mod.path;
    if (p) return { path: p, from: '@ffmpeg-installer/ffmpeg' };
  } catch {
    // The installer throws when its platform binary is absent; PATH is the documented fallback.
  }
  return { path: 'ffmpeg', from: 'PATH' };
}

function seconds(h: string, m: string, s: string): number {
  return Number(h) * 3600 + Number(m) * 60 + Number(s);
}

/**
 * Parses the first video stream listed under `Input #0` or `Output #0` in ffmpeg's stderr.
 * Sizes follow ", " so codec tags like "0x30303859" are not mistaken for WxH.
 */
export function parseStreamInfo(stderr: string, section: 'Input' | 'Output'): StreamInfo | null {
  const at = stderr.indexOf(`${section} #0`);
  if (at < 0) return null;
  const rest = stderr.slice(at);
  const m = /Stream #\d+:\d+[^:]*: Video: ([^\n]*)/.exec(rest);
  if (!m) return null;
  const line = m[1];
  const size = /, (\d{1,5})x(\d{1,5})[\s,[]/.exec(line + ' ');
  if (!size) return null;
  const info: StreamInfo = { width: Number(size[1]), height: Number(size[2]), codec: line.split(/[\s,]/)[0] };
  const fps = /, ([\d.]+)(k?) fps/.exec(line) ?? /, ([\d.]+)(k?) tbr/.exec(line);
  if (fps) info.fps = Number(fps[1]) * (fps[2] ? 1000 : 1);
  const dur = /Duration: (\d+):(\d+):([\d.]+)/.exec(rest);
  if (dur && section === 'Input') info.duration = seconds(dur[1], dur[2], dur[3]);
  return info;
}

/** One line of ffmpeg's stderr, split by the `-loglevel level+info` prefixes ffmpeg is run with. */
export interface FfmpegLogLine {
  /** ffmpeg's level ('info', 'warning', 'error', 'fatal', ...); undefined for a line without the prefix. */
  level?: string;
  /** The component that logged it ('avi', 'h264', ...), when ffmpeg names one. */
  component?: string;
  /** The text after the prefixes. */
  text: string;
}

const LOG_LINE = /^(?:\[([^\]@]+?) @ 0x[0-9a-f]+\] )?\[(trace|debug|verbose|info|warning|error|fatal|panic)\] ?(.*)$/;

/** Splits ffmpeg's stderr into lines with their level and component (see {@link FfmpegLogLine}). */
export function parseFfmpegLog(stderr: string): FfmpegLogLine[] {
  const out: FfmpegLogLine[] = [];
  for (const raw of stderr.split(/\r?\n|\r/)) {
    if (raw.trim() === '') continue;
    const m = LOG_LINE.exec(raw);
    if (!m) out.push({ text: raw.trim() });
    else out.push(m[1] ? { level: m[2], component: m[1], text: m[3].trim() } : { level: m[2], text: m[3].trim() });
  }
  return out;
}

/** ffmpeg's closing statistics ("frame= 50 fps= ... time= ...", "video:21600kB audio:0kB ..."): never an error. */
function isStatsLine(text: string): boolean {
  return /^(frame|size)=\s*\S+.*\btime=/.test(text) || /^video:\S+ audio:\S+/.test(text);
}

/** Warnings that mean the input is damaged (as opposed to notes on pixel formats, timestamps or options). */
const DAMAGE_WARNING = /corrupt|truncat|damag|invalid|missing|broken|error|no index|concealing|incomplete|overread|out of range/i;

function lineText(l: FfmpegLogLine): string {
  return l.component ? `[${l.component}] ${l.text}` : l.text;
}

/**
 * ffmpeg's own complaints in `stderr`: lines logged as error, fatal or panic, and warnings that report damaged
 * input (a dropped corrupt packet, a read error, a missing index), each prefixed with the component that logged it;
 * never the statistics line. Repeated lines are kept once.
 */
export function ffmpegProblems(stderr: string): string[] {
  const seen = new Set<string>();
  for (const l of parseFfmpegLog(stderr)) {
    if (isStatsLine(l.text)) continue;
    const bad = l.level === 'error' || l.level === 'fatal' || l.level === 'panic' || (l.level === 'warning' && DAMAGE_WARNING.test(l.text));
    if (bad) seen.add(lineText(l));
  }
  return [...seen];
}

/**
 * Media seconds ffmpeg's output covered, from its closing statistics line ("... time=00:00:04.90 ..."); undefined
 * when the line is absent or says N/A.
 */
export function ffmpegOutputSeconds(stderr: string): number | undefined {
  const all = [...stderr.matchAll(/frame=\s*\d+[^\n\r]*?time=(-?)(\d+):(\d+):([\d.]+)/g)];
  if (all.length === 0) return undefined;
  const [, minus, h, m, s] = all[all.length - 1];
  return minus ? 0 : seconds(h, m, s);
}

/**
 * The lines of a failed run worth showing: ffmpeg's problems ({@link ffmpegProblems}), else its last lines
 * that are not statistics; at most the last three, 400 characters in all.
 */
function lastWords(stderr: string): string {
  const problems = ffmpegProblems(stderr);
  const lines = problems.length ? problems : parseFfmpegLog(stderr).filter((l) => !isStatsLine(l.text) && l.level !== 'info').map(lineText);
  const fallback = lines.length ? lines : parseFfmpegLog(stderr).filter((l) => !isStatsLine(l.text)).map(lineText);
  return fallback.slice(-3).join(' | ').slice(0, 400);
}

/**
 * Turns a failed ffmpeg run into a VqvidError naming the file and ffmpeg's own error lines (never its statistics
 * line). Only a decoding run can blame its input (E_NOT_FOUND, E_FORMAT); an encoding failure is ffmpeg's (E_TOOL).
 */
export function ffmpegError(source: string, stderr: string, code: number | null, signal: string | null, decoding = true): VqvidError {
  const tail = lastWords(stderr);
  if (/Invalid loglevel/.test(stderr)) {
    return new VqvidError('E_TOOL', `${source}: this ffmpeg is too old (vqvid needs ffmpeg 4.1 or later for "-loglevel level+info"; set VQVID_FFMPEG) (ffmpeg: ${tail})`, { source });
  }
  if (decoding && /No such file or directory/.test(stderr)) {
    return new VqvidError('E_NOT_FOUND', `${source}: file does not exist (ffmpeg: ${tail})`, { source });
  }
  if (decoding && /Invalid data found|does not contain any stream|matches no streams|Invalid argument/.test(stderr)) {
    return new VqvidError('E_FORMAT', `${source}: not a video ffmpeg can decode (ffmpeg: ${tail})`, { source, stderr: tail });
  }
  const how = signal ? `signal ${signal}` : `code ${code}`;
  return new VqvidError('E_TOOL', `${source}: ffmpeg failed with ${how} (ffmpeg: ${tail})`, { source, stderr: tail });
}

/** A started ffmpeg: its process, its stderr so far, and a promise of its exit. */
export interface FfmpegRun {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: string | null }>;
  /** Resolves with each stderr growth; lets a reader wait for a header line without polling. */
  onStderr: (fn: () => void) => void;
  /** Kills the process if it still runs and waits until it is gone. */
  stop: () => Promise<void>;
}

/** Keeps ffmpeg's stderr bounded; headers come first and the error tail last, so both ends are kept. */
const STDERR_KEEP = 64 * 1024;

/**
 * Spawns ffmpeg with `args`; `stdin: 'pipe'` when the caller will feed it. A missing binary surfaces as
 * an E_TOOL rejection of `exited` (spawn errors arrive as events, not throws).
 */
export async function startFfmpeg(args: string[], stdin: 'pipe' | 'ignore', source: string): Promise<FfmpegRun> {
  const bin = await resolveFfmpeg();
  // Level prefixes tell ffmpeg's errors from its notes and statistics (see parseFfmpegLog).
  const child = spawn(bin.path, ['-hide_banner', '-nostats', '-loglevel', 'level+info', ...args], { stdio: [stdin, 'pipe', 'pipe'] });
  live.add(child);
  let head = '';
  let tail = '';
  const listeners: Array<() => void> = [];
  child.stderr!.setEncoding('latin1');
  child.stderr!.on('data', (s: string) => {
    if (head.length < STDERR_KEEP) head += s;
    else tail = (tail + s).slice(-STDERR_KEEP);
    for (const fn of listeners.splice(0)) fn();
  });
  child.stdin?.on('error', () => undefined); // EPIPE when ffmpeg exits early; its exit status tells why.
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) => {
      live.delete(child);
      reject(new VqvidError('E_TOOL', `${source}: could not run ffmpeg at ${bin.path} (from ${bin.from}): ${e.message}`, { path: bin.path }));
      for (const fn of listeners.splice(0)) fn();
    });
    child.on('close', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
      for (const fn of listeners.splice(0)) fn();
    });
  });
  exited.catch(() => undefined); // observed by callers; avoid an unhandled rejection if they stop early.
  return {
    child,
    stderr: () => head + tail,
    exited,
    onStderr: (fn) => listeners.push(fn),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null && live.has(child)) {
        child.kill('SIGKILL');
        killed++;
      }
      await exited.catch(() => undefined);
    },
  };
}

/** Waits until `test(stderr)` gives a value or ffmpeg ends (then null). */
export async function waitForStderr<T>(run: FfmpegRun, test: (s: string) => T | null): Promise<T | null> {
  for (;;) {
    const v = test(run.stderr());
    if (v !== null) return v;
    if (run.child.exitCode !== null || run.child.signalCode !== null || !live.has(run.child)) return null;
    await new Promise<void>((resolve) => run.onStderr(resolve));
  }
}

/**
 * Starts ffmpeg reading `src`: a path by name, bytes through stdin (written at once; an EPIPE when ffmpeg
 * stops reading early is left to its exit status). `args` follow the input. Packets the demuxer flags as
 * corrupt (a chunk cut by truncation) are dropped rather than decoded into invented pixels; ffmpeg logs a
 * warning for each, which {@link ffmpegProblems} reports.
 */
async function startOn(src: string | Uint8Array, args: string[], source: string): Promise<FfmpegRun> {
  const input = ['-fflags', '+discardcorrupt', '-i', typeof src === 'string' ? `file:${src}` : 'pipe:0'];
  const run = await startFfmpeg([...input, ...args], typeof src === 'string' ? 'ignore' : 'pipe', source);
  if (typeof src !== 'string') run.child.stdin!.end(src);
  return run;
}

/**
 * Runs `ffmpeg -i src` and parses the input's first video stream. ffmpeg always exits non-zero here
 * (no output given); only a missing stream counts as failure.
 */
export async function ffmpegProbe(src: string | Uint8Array, source: string): Promise<StreamInfo> {
  const run = await startOn(src, [], source);
  const { code, signal } = await run.exited;
  const info = parseStreamInfo(run.stderr(), 'Input');
  if (!info) throw ffmpegError(source, run.stderr() + '\nno video stream', code, signal);
  return info;
}

/** Counts decodable frames exactly by decoding to the null muxer (one frame per decoded picture). */
export async function ffmpegCountFrames(src: string | Uint8Array, source: string): Promise<number> {
  const run = await startOn(src, ['-map', '0:v:0', '-vsync', 'passthrough', '-f', 'null', '-'], source);
  const { code, signal } = await run.exited;
  const all = [...run.stderr().matchAll(/frame=\s*(\d+)/g)];
  if (code !== 0 || all.length === 0) throw ffmpegError(source, run.stderr(), code, signal);
  return Number(all[all.length - 1][1]);
}

/** What {@link ffmpegGrayFrames} learns while it decodes, filled in as it goes. */
export interface GrayFramesInfo {
  /** The output stream (size, fps) and the input's duration, known before the first frame. */
  stream?: StreamInfo;
  /** ffmpeg's complaints so far ({@link ffmpegProblems}), refreshed whenever its stderr grows. */
  problems?: string[];
  /** Media seconds the decoded frames covered (ffmpeg's closing statistics); set once ffmpeg exited cleanly. */
  seconds?: number;
}

/** Gray frames decoded by ffmpeg, as bytes; `info` is filled from ffmpeg's output header before the first frame. */
export async function* ffmpegGrayFrames(
  src: string | Uint8Array,
  source: string,
  limit: number | undefined,
  info: GrayFramesInfo,
): AsyncGenerator<Uint8Array> {
  const args = ['-map', '0:v:0', '-vsync', 'passthrough'];
  if (limit !== undefined) args.push('-frames:v', String(limit));
  args.push('-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1');
  const run = await startOn(src, args, source);
  let heard = '';
  const listen = () => {
    const now = run.stderr();
    if (now.length === heard.length && now.endsWith(heard.slice(-200))) return;
    heard = now;
    info.problems = ffmpegProblems(now);
  };
  try {
    let frame: Uint8Array | null = null;
    let filled = 0;
    // Pulling chunks one at a time is the back-pressure: while the consumer works, stdout is not read,
    // the pipe fills and ffmpeg blocks on write.
    for await (const chunk of run.child.stdout! as AsyncIterable<Buffer>) {
      if (!info.stream) {
        const s = await waitForStderr(run, (e) => parseStreamInfo(e, 'Output'));
        if (!s) break;
        const duration = parseStreamInfo(run.stderr(), 'Input')?.duration;
        info.stream = duration === undefined ? s : { ...s, duration };
      }
      listen();
      const size = info.stream.width * info.stream.height;
      let at = 0;
      while (at < chunk.length) {
        frame ??= new Uint8Array(size);
        const take = Math.min(size - filled, chunk.length - at);
        frame.set(chunk.subarray(at, at + take), filled);
        filled += take;
        at += take;
        if (filled === size) {
          yield frame;
          frame = null;
          filled = 0;
        }
      }
    }
    const { code, signal } = await run.exited;
    listen();
    if (code !== 0) throw ffmpegError(source, run.stderr(), code, signal);
    if (filled !== 0) throw new VqvidError('E_FORMAT', `${source}: ffmpeg output ended inside a frame`, { source });
    const covered = ffmpegOutputSeconds(run.stderr());
    if (covered !== undefined) info.seconds = covered;
  } finally {
    await run.stop();
  }
}

/**
 * Feeds raw gray frames to an ffmpeg that encodes `output`; each write waits for the pipe (back-pressure)
 * and a dead ffmpeg surfaces as its own error message rather than EPIPE.
 */
export async function ffmpegEncode(
  args: string[],
  output: string,
  frames: () => Iterable<Uint8Array>,
): Promise<void> {
  const run = await startFfmpeg(args, 'pipe', output);
  const stdin = run.child.stdin!;
  const write = (buf: Uint8Array) => new Promise<boolean>((resolve) => stdin.write(buf, (e) => resolve(!e)));
  try {
    for (const buf of frames()) if (!(await Promise.race([write(buf), run.exited.then(() => false)]))) break;
    stdin.end();
    const { code, signal } = await run.exited;
    if (code !== 0) throw ffmpegError(output, run.stderr(), code, signal, false);
  } finally {
    await run.stop();
  }
}
