/** What an AVI file's header says about its video stream, before any frame is read. */
export interface AviStatedLength {
  /** Frames the header lists (the video stream header's length, or the main/OpenDML header's total). */
  frames: number;
  /** Those frames' duration in seconds, at the stream's rate. */
  seconds: number;
}

const tag = (b: Uint8Array, at: number) => String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3]);

/**
 * The length an AVI's header states, read from its first bytes (the 'hdrl' list: 'avih', the first video 'strh',
 * 'dmlh'); undefined for anything else or a header that does not fit in `head`. ffmpeg replaces this length by a
 * guess from the file size when the file is cut short, so the header is the only record of what was there.
 */
export function aviStatedLength(head: Uint8Array): AviStatedLength | undefined {
  if (head.length < 64 || tag(head, 0) !== 'RIFF' || tag(head, 8) !== 'AVI ' || tag(head, 12) !== 'LIST' || tag(head, 20) !== 'hdrl') return undefined;
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const u32 = (at: number) => dv.getUint32(at, true);
  let frames = 0;
  let perFrame = 0;
  let sawVideo = false;
  const walk = (from: number, end: number): void => {
    for (let p = from; p + 8 <= end; ) {
      const id = tag(head, p);
      const size = u32(p + 4);
      const data = p + 8;
      const fits = data + size <= end;
      if (id === 'avih' && fits && size >= 20) {
        if (!perFrame && u32(data) > 0) perFrame = u32(data) / 1e6;
        frames = Math.max(frames, u32(data + 16));
      } else if (id === 'strh' && fits && size >= 36 && tag(head, data) === 'vids' && !sawVideo) {
        sawVideo = true;
        const [scale, rate, length] = [u32(data + 20), u32(data + 24), u32(data + 32)];
        if (scale > 0 && rate > 0) perFrame = scale / rate;
        frames = Math.max(frames, length);
      } else if (id === 'dmlh' && fits && size >= 4) {
        frames = Math.max(frames, u32(data));
      } else if (id === 'LIST' && size >= 4) {
        walk(data + 4, Math.min(end, data + size));
      }
      p = data + size + (size & 1);
    }
  };
  walk(24, Math.min(head.length, 20 + u32(16)));
  return frames > 0 && perFrame > 0 ? { frames, seconds: frames * perFrame } : undefined;
}
