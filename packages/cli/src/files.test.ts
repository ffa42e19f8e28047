import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VqvidError, packContainer, writeCodes } from '@vqvid/core';
import { encodeY4m, syntheticVideo } from '@vqvid/video';
import { isContainer } from './files';

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'vqvid-files-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('isContainer', () => {
  it('tells vqvid containers from videos by their first bytes', async () => {
    await writeCodes(join(dir, 'c.vqc'), { rows: 1, cols: 2, frames: 1, k: 4, codes: Uint16Array.from([1, 3]) });
    writeFileSync(join(dir, 'book.vqcb'), packContainer('codebook', {}, {}));
    writeFileSync(join(dir, 'clip.y4m'), encodeY4m(syntheticVideo({ kind: 'pan', width: 8, height: 8, frames: 1 })));
    expect(await isContainer(join(dir, 'c.vqc'), 'input')).toBe(true);
    expect(await isContainer(join(dir, 'book.vqcb'), 'input')).toBe(true);
    expect(await isContainer(join(dir, 'clip.y4m'), 'input')).toBe(false);
  });

  it('names the argument when the file is missing or a folder', async () => {
    await expect(isContainer(join(dir, 'none.vqc'), 'input')).rejects.toThrow('input: file');
    await expect(isContainer(join(dir, 'none.vqc'), 'input')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    await expect(isContainer(dir, 'input')).rejects.toThrow(VqvidError);
  });
});
