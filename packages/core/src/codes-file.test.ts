import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCodes, writeCodes } from './codes-file';
import { packContainer } from './container';

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'vqvid-codes-file-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const geometry = { patch: 8, stride: 4, width: 12, height: 12, std: 3.5 };

describe('writeCodes / readCodes', () => {
  it.each([
    ['Uint16Array', Uint16Array.from([0, 1, 2, 3, 3, 2, 1, 0, 7, 7, 7, 7])],
    ['Int32Array', Int32Array.from([5, 70000, 1, 2, 3, 4, 0, 0, 9, 9, 9, 69999])],
  ])('round-trips %s codes with their geometry and meta', async (_, codes) => {
    const k = codes instanceof Int32Array ? 70001 : 8;
    const path = join(dir, `c-${k}.vqc`);
    await writeCodes(path, { rows: 2, cols: 2, frames: 3, k, codes, geometry }, { fps: 25, source: 'clip.y4m' });
    const back = await readCodes(path);
    expect(back.codes).toEqual({ rows: 2, cols: 2, frames: 3, k, codes, geometry });
    expect(back.codes.codes.constructor).toBe(codes.constructor);
    expect(back.meta).toEqual({ fps: 25, source: 'clip.y4m' });
  });

  it('writes and reads bare volumes (no geometry)', async () => {
    const path = join(dir, 'bare.vqc');
    await writeCodes(path, { rows: 1, cols: 2, frames: 1, k: 4, codes: Uint16Array.from([1, 3]) });
    expect(await readCodes(path)).toEqual({ codes: { rows: 1, cols: 2, frames: 1, k: 4, codes: Uint16Array.from([1, 3]) }, meta: {} });
  });

  it('reads files of the CLI format before geometry, whose meta held size/stride/width/height/std', async () => {
    const path = join(dir, 'old.vqc');
    const meta = { size: 8, stride: 4, width: 12, height: 12, std: 3.5, fps: 10 };
    writeFileSync(path, packContainer('codes', { rows: 2, cols: 2, frames: 1, k: 4, meta }, { codes: Uint16Array.from([0, 1, 2, 3]) }));
    const back = await readCodes(path);
    expect(back.codes.geometry).toEqual(geometry);
    expect(back.meta).toEqual(meta);
  });

  it('rejects truncated files, other kinds, missing files and inconsistent contents', async () => {
    const path = join(dir, 'ok.vqc');
    await writeCodes(path, { rows: 1, cols: 2, frames: 1, k: 4, codes: Uint16Array.from([1, 3]) });
    const bytes = readFileSync(path);
    writeFileSync(join(dir, 'cut.vqc'), bytes.subarray(0, bytes.length - 3));
    await expect(readCodes(join(dir, 'cut.vqc'))).rejects.toThrow(/cut\.vqc: not a valid vqvid codes file/);
    writeFileSync(join(dir, 'book.vqc'), packContainer('codebook', {}, {}));
    await expect(readCodes(join(dir, 'book.vqc'))).rejects.toThrow(/holds a "codebook", expected a codes/);
    await expect(readCodes(join(dir, 'none.vqc'), '--input')).rejects.toMatchObject({ code: 'E_NOT_FOUND', message: expect.stringMatching(/^--input: file/) });
    writeFileSync(join(dir, 'bad-k.vqc'), packContainer('codes', { rows: 1, cols: 2, frames: 1, k: 2, meta: {} }, { codes: Uint16Array.from([0, 5]) }));
    await expect(readCodes(join(dir, 'bad-k.vqc'))).rejects.toMatchObject({ code: 'E_FORMAT', message: expect.stringMatching(/codes\.codes\[1\]: expected a code in \[0, 2\)/) });
    const wrongGrid = { rows: 1, cols: 2, frames: 1, k: 4, geometry, meta: {} }; // 12x12 at stride 4 is a 2 x 2 grid
    writeFileSync(join(dir, 'bad-grid.vqc'), packContainer('codes', wrongGrid, { codes: Uint16Array.from([0, 1]) }));
    await expect(readCodes(join(dir, 'bad-grid.vqc'))).rejects.toMatchObject({ code: 'E_FORMAT', message: expect.stringMatching(/2 x 2 grid/) });
    writeFileSync(join(dir, 'f32.vqc'), packContainer('codes', { rows: 1, cols: 1, frames: 1, k: 4 }, { codes: Float32Array.from([0]) }));
    await expect(readCodes(join(dir, 'f32.vqc'))).rejects.toMatchObject({ code: 'E_FORMAT' });
  });

  it('rejects a malformed volume before writing anything', async () => {
    const path = join(dir, 'never.vqc');
    await expect(writeCodes(path, { rows: 1, cols: 2, frames: 1, k: 2, codes: Uint16Array.from([0, 2]) })).rejects.toMatchObject({ code: 'E_RANGE' });
    await expect(readCodes(path)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });
});
