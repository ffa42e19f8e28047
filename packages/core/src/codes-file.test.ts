import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCodes, writeCodes } from './codes-file';
import { packContainer } from './container';
import { VqvidError } from './errors';

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
    await expect(readCodes(join(dir, 'bad-grid.vqc'))).rejects.toMatchObject({ code: 'E_FORMAT', message: expect.stringMatching(/codes\.geometry\.height: expected 1\.\.8 pixels \(the 1 x 2 grid/) });
    writeFileSync(join(dir, 'f32.vqc'), packContainer('codes', { rows: 1, cols: 1, frames: 1, k: 4 }, { codes: Float32Array.from([0]) }));
    await expect(readCodes(join(dir, 'f32.vqc'))).rejects.toMatchObject({ code: 'E_FORMAT' });
  });

  it.each([
    ['30000 x 30000 frames on a 2 x 2 grid', { width: 30000, height: 30000 }, /codes\.geometry\.height: expected 9\.\.12 pixels \(the 2 x 2 grid of 8px patches at stride 4\), got 30000/],
    ['1e9 x 1e5 frames', { width: 1e9, height: 1e5 }, /codes\.geometry\.width: expected an integer in \[1, 32768\], got 1000000000/],
    ['a frame 1 pixel wide', { width: 1 }, /codes\.geometry\.width: expected 9\.\.12 pixels \(the 2 x 2 grid of 8px patches at stride 4\), got 1/],
    ['a 1e9 pixel patch', { patch: 1e9, stride: 1e9, width: 1e9, height: 1e5 }, /codes\.geometry\.patch: expected an integer in \[1, 256\]/],
    ['a fractional height', { height: 11.5 }, /codes\.geometry\.height: expected an integer, got 11\.5/],
  ])('refuses a file whose geometry states %s, naming the field (E_FORMAT)', async (name, edit, message) => {
    const path = join(dir, `geometry-${name.replace(/\W+/g, '-')}.vqc`);
    const header = { rows: 2, cols: 2, frames: 1, k: 4, geometry: { ...geometry, ...edit }, meta: {} };
    writeFileSync(path, packContainer('codes', header, { codes: Uint16Array.from([0, 1, 2, 3]) }));
    const error = await readCodes(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VqvidError);
    expect(error).toMatchObject({ code: 'E_FORMAT', message: expect.stringMatching(message) });
  });

  it('refuses the same geometry edits in the meta of files written before geometry', async () => {
    const path = join(dir, 'old-wide.vqc');
    const meta = { size: 8, stride: 4, width: 30000, height: 12, std: 3.5 };
    writeFileSync(path, packContainer('codes', { rows: 2, cols: 2, frames: 1, k: 4, meta }, { codes: Uint16Array.from([0, 1, 2, 3]) }));
    await expect(readCodes(path)).rejects.toMatchObject({ code: 'E_FORMAT', message: expect.stringMatching(/codes\.geometry\.width: expected 9\.\.12 pixels .*got 30000/) });
  });

  it('rejects a malformed volume before writing anything', async () => {
    const path = join(dir, 'never.vqc');
    await expect(writeCodes(path, { rows: 1, cols: 2, frames: 1, k: 2, codes: Uint16Array.from([0, 2]) })).rejects.toMatchObject({ code: 'E_RANGE' });
    await expect(readCodes(path)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });
});
