import { ffmpegError, ffmpegOutputSeconds, ffmpegProblems, parseFfmpegLog, parseStreamInfo, resolveFfmpeg } from './ffmpeg';
import { aviStatedLength } from './avi';

// Excerpts of real ffmpeg 4.x stderr.
const DECODE = `Input #0, avi, from 'file:/data/tree.avi':
  Metadata:
    encoder         : Lavf56.40.101
  Duration: 00:00:29.60, start: 0.000000, bitrate: 338 kb/s
    Stream #0:0: Video: cinepak (cvid / 0x64697663), rgb24, 320x240, 334 kb/s, 15 fps, 15 tbr, 15 tbn, 15 tbc
Stream mapping:
  Stream #0:0 -> #0:0 (cinepak (native) -> rawvideo (native))
Output #0, rawvideo, to 'pipe:1':
  Metadata:
    encoder         : Lavf58.24.100
    Stream #0:0: Video: rawvideo (Y800 / 0x30303859), gray, 320x240, q=2-31, 9215 kb/s, 15 fps, 15 tbn, 15 tbc
`;

describe('parseStreamInfo', () => {
  test('input and output sections of a decoding run', () => {
    expect(parseStreamInfo(DECODE, 'Input')).toEqual({ width: 320, height: 240, fps: 15, codec: 'cinepak', duration: 29.6 });
    // The codec tag 0x30303859 must not be read as a size.
    expect(parseStreamInfo(DECODE, 'Output')).toEqual({ width: 320, height: 240, fps: 15, codec: 'rawvideo' });
  });
  test('language-tagged streams, fractional fps, tbr-only and k-suffixed rates, audio first', () => {
    const s = `Input #0, matroska,webm, from 'a.webm':
  Duration: 00:01:02.50, start: 0.000000, bitrate: 1 kb/s
    Stream #0:0(eng): Audio: opus, 48000 Hz, stereo, fltp (default)
    Stream #0:1(eng): Video: vp9 (Profile 0), yuv420p(tv, bt709), 1920x1080, SAR 1:1 DAR 16:9, 29.97 fps, 29.97 tbr, 1k tbn, 1k tbc (default)`;
    expect(parseStreamInfo(s, 'Input')).toEqual({ width: 1920, height: 1080, fps: 29.97, codec: 'vp9', duration: 62.5 });
    const tbrOnly = "Input #0, x, from 'b':\n    Stream #0:0: Video: h264, yuv420p, 64x48, 1k tbr, 90k tbn";
    expect(parseStreamInfo(tbrOnly, 'Input')).toMatchObject({ width: 64, height: 48, fps: 1000 });
  });
  test('no video stream, no section', () => {
    expect(parseStreamInfo("Input #0, mp3, from 'a.mp3':\n    Stream #0:0: Audio: mp3, 44100 Hz", 'Input')).toBeNull();
    expect(parseStreamInfo('a.mp4: Invalid data found when processing input', 'Input')).toBeNull();
  });
});

describe('ffmpegError', () => {
  test('decoding failures blame the input; encoding failures are E_TOOL', () => {
    expect(ffmpegError('a.mp4', 'a.mp4: Invalid data found when processing input', 1, null)).toMatchObject({ code: 'E_FORMAT' });
    expect(ffmpegError('a.mp4', 'file:a.mp4: No such file or directory', 1, null)).toMatchObject({ code: 'E_NOT_FOUND' });
    expect(ffmpegError('a.mp4', 'Unknown encoder', 1, null)).toMatchObject({ code: 'E_TOOL' });
    const enc = ffmpegError('out.mp4', 'Error initializing output stream 0:0 -- Invalid argument', 1, null, false);
    expect(enc.code).toBe('E_TOOL');
    expect(enc.message).toMatch(/out\.mp4: ffmpeg failed with code 1 .*Invalid argument/);
    expect(ffmpegError('x', '', null, 'SIGSEGV').message).toMatch(/signal SIGSEGV/);
  });
});

describe('resolveFfmpeg', () => {
  const saved = process.env.VQVID_FFMPEG;
  afterEach(() => {
    if (saved === undefined) delete process.env.VQVID_FFMPEG;
    else process.env.VQVID_FFMPEG = saved;
  });
  test('VQVID_FFMPEG first, else the @ffmpeg-installer binary', async () => {
    delete process.env.VQVID_FFMPEG;
    const installed = await resolveFfmpeg();
    expect(installed.from).toBe('@ffmpeg-installer/ffmpeg');
    expect(installed.path).toMatch(/ffmpeg$/);
    process.env.VQVID_FFMPEG = installed.path;
    expect(await resolveFfmpeg()).toEqual({ path: installed.path, from: 'VQVID_FFMPEG' });
    process.env.VQVID_FFMPEG = '/nonexistent/ffmpeg';
    await expect(resolveFfmpeg()).rejects.toMatchObject({ code: 'E_TOOL' });
  });
});

// A truncated vtest.avi decoded by ffmpeg 4.1 with -loglevel level+info (without -fflags +discardcorrupt).
const CUT = `[info] Input #0, avi, from 'file:cut.avi':
[info]   Duration: 00:00:06.00, start: 0.000000, bitrate: 822 kb/s
[info]     Stream #0:0: Video: msmpeg4v3 (div3 / 0x33766964), yuv420p, 768x576, 10 fps, 10 tbr, 10 tbn, 10 tbc
[info] Output #0, rawvideo, to 'pipe:1':
[info]     Stream #0:0: Video: rawvideo (Y800 / 0x30303859), gray, 768x576, q=2-31, 35389 kb/s, 10 fps, 10 tbn, 10 tbc
[warning] file:cut.avi: corrupt input packet in stream 0
[msmpeg4 @ 0x21df3cc0] [error] Error at MB: 1225
[msmpeg4 @ 0x21df3cc0] [info] concealing 607 DC, 607 AC, 607 MV errors in P frame
[swscaler @ 0x3a0c0c0] [warning] deprecated pixel format used, make sure you did set range correctly
[info] frame=   50 fps=0.0 q=-0.0 Lsize=   21600kB time=00:00:05.00 bitrate=35389.4kbits/s speed=29.1x
[info] video:21600kB audio:0kB subtitle:0kB other streams:0kB global headers:0kB muxing overhead: 0.000000%
`;

describe('ffmpeg log lines', () => {
  test('level prefixes are parsed; the stream header still is', () => {
    const lines = parseFfmpegLog(CUT);
    expect(lines[6]).toEqual({ level: 'error', component: 'msmpeg4', text: 'Error at MB: 1225' });
    expect(lines[5]).toEqual({ level: 'warning', text: 'file:cut.avi: corrupt input packet in stream 0' });
    expect(parseFfmpegLog('plain line')).toEqual([{ text: 'plain line' }]);
    expect(parseStreamInfo(CUT, 'Input')).toEqual({ width: 768, height: 576, fps: 10, codec: 'msmpeg4v3', duration: 6 });
    expect(parseStreamInfo(CUT, 'Output')).toMatchObject({ width: 768, height: 576, fps: 10 });
  });
  test('problems: errors and damage warnings, not notes, not the statistics line', () => {
    expect(ffmpegProblems(CUT)).toEqual(['file:cut.avi: corrupt input packet in stream 0', '[msmpeg4] Error at MB: 1225']);
    expect(ffmpegProblems(CUT.split('\n').filter((l) => !/warning|error/.test(l)).join('\n'))).toEqual([]);
    expect(ffmpegOutputSeconds(CUT)).toBe(5);
    expect(ffmpegOutputSeconds('[info] frame=    0 fps=0.0 q=0.0 Lsize=N/A time=N/A bitrate=N/A')).toBeUndefined();
  });
  test("a failed run's error shows ffmpeg's error lines, never its statistics", () => {
    const failed = CUT + '[error] Conversion failed!\n[info] frame=   50 fps=0.0 q=-0.0 Lsize=   21600kB time=00:00:05.00 bitrate=35389.4kbits/s speed=29.1x\n';
    const e = ffmpegError('cut.avi', failed, 1, null);
    expect(e.message).toMatch(/cut\.avi: ffmpeg failed with code 1 \(ffmpeg: .*Error at MB: 1225 \| Conversion failed!\)/);
    expect(e.message).not.toMatch(/frame=|time=|bitrate=|video:21600kB/);
    // with nothing at error level, the last lines that are not statistics
    const quiet = ffmpegError('a.avi', '[info] Press [q] to stop\n[info] frame=  1 fps=0 q=0 size=0kB time=00:00:00.10 bitrate=0\n', 1, null);
    expect(quiet.message).toMatch(/\(ffmpeg: Press \[q\] to stop\)$/);
    expect(ffmpegError('a.avi', 'Invalid loglevel "level+info". Possible levels are numbers or:', 1, null).message).toMatch(/too old.*VQVID_FFMPEG/);
  });
});

describe('aviStatedLength', () => {
  /** A minimal AVI header: avih (µs per frame, total frames), one video strh (scale, rate, length). */
  function header(usec: number, total: number, scale: number, rate: number, length: number): Uint8Array {
    const b = Buffer.alloc(24 + 64 + 12 + 64 + 8);
    b.write('RIFF', 0, 'latin1');
    b.write('AVI LIST', 8, 'latin1');
    b.writeUInt32LE(b.length - 20, 16);
    b.write('hdrlavih', 20, 'latin1');
    b.writeUInt32LE(56, 28);
    b.writeUInt32LE(usec, 32);
    b.writeUInt32LE(total, 48);
    b.write('LIST', 88, 'latin1');
    b.writeUInt32LE(4 + 8 + 56, 92);
    b.write('strlstrh', 96, 'latin1');
    b.writeUInt32LE(56, 104);
    b.write('vids', 108, 'latin1');
    b.writeUInt32LE(scale, 128);
    b.writeUInt32LE(rate, 132);
    b.writeUInt32LE(length, 140);
    return new Uint8Array(b);
  }
  test('frames from the stream header at its exact rate; the main header when the stream has none', () => {
    expect(aviStatedLength(header(100000, 795, 1, 10, 795))).toEqual({ frames: 795, seconds: 79.5 });
    expect(aviStatedLength(header(66667, 444, 0, 0, 0))).toEqual({ frames: 444, seconds: 444 * 0.066667 });
    expect(aviStatedLength(header(0, 0, 1, 10, 0))).toBeUndefined();
    expect(aviStatedLength(new TextEncoder().encode('RIFF....WAVEfmt '.repeat(8)))).toBeUndefined();
    expect(aviStatedLength(header(100000, 795, 1, 10, 795).subarray(0, 100))).toEqual({ frames: 795, seconds: 79.5 });
  });
});
