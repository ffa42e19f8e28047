import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VqvidError, packContainer } from '@vqvid/core';
import { isContainer, loadCodes, saveCodes } from './files';

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'vqvid-files-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('saveCodes / loadCodes', () => {
  it.each([
    ['Uint16Array', Uint16Array.from([0, 1, 2, 3, 3, 2, 1, 0, 7, 7, 7, 7])],
    ['Int32Array', Int32Array.from([5, 70000, 1, 2, 3, 4, 0, 0, 9, 9, 9, 69999])],
  ])('round-trips %s codes with their meta', async (_, codes) => {
    const k = codes instanceof Int32Array ? 70001 : 8;
    const path = join(dir, `c-${k}.vqc`);
    await saveCodes(path, { rows: 2, cols: 2, frames: 3, k, codes }, { size: 8, stride: 4, width: 12, height: 12, std: 3.5 });
    const back = await loadCodes(path);
    expect(back.codes).toEqual({ rows: 2, cols: 2, frames: 3, k, codes });
    expect(back.codes.codes.constructor).toBe(codes.constructor);
    expect(back.meta).toEqual({ size: 8, stride: 4, width: 12, height: 12, std: 3.5 });
    expect(await isContainer(path, 'codes')).toBe(true);
  });

  it('rejects truncated files, other container kinds and missing files with one clear error', async () => {
    const path = join(dir, 'ok.vqc');
    await saveCodes(path, { rows: 1, cols: 2, frames: 1, k: 4, codes: Uint16Array.from([1, 3]) }, {});
    const bytes = readFileSync(path);
    writeFileSync(join(dir, 'cut.vqc'), bytes.subarray(0, bytes.length - 3));
    await expect(loadCodes(join(dir, 'cut.vqc'))).rejects.toThrow(/cut\.vqc: not a valid vqvid codes file/);
    writeFileSync(join(dir, 'book.vqc'), packContainer('codebook', {}, {}));
    await expect(loadCodes(join(dir, 'book.vqc'))).rejects.toThrow(/holds a "codebook", expected a codes/);
    await expect(loadCodes(join(dir, 'none.vqc'))).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    await expect(isContainer(join(dir, 'none.vqc'), 'input')).rejects.toThrow('input: file');
    await expect(isContainer(dir, 'input')).rejects.toThrow(VqvidError);
  });

  it('rejects a codes container whose codes exceed k', async () => {
    const path = join(dir, 'bad-k.vqc');
    writeFileSync(path, packContainer('codes', { rows: 1, cols: 2, frames: 1, k: 2, meta: {} }, { codes: Uint16Array.from([0, 5]) }));
    await expect(loadCodes(path)).rejects.toThrow(VqvidError);
  });
});
