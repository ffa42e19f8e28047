import { ffmpegError, parseStreamInfo, resolveFfmpeg } from './ffmpeg';

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
