import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic, readFileChecked } from './fs';
import { VqvidError } from './errors';

describe('atomic file io', () => {
  it('replaces the file and leaves no temporary behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vqvid-core-'));
    const p = join(dir, 'x.bin');
    writeFileSync(p, 'old');
    await writeFileAtomic(p, 'new content');
    expect(readFileSync(p, 'utf8')).toBe('new content');
    expect(readdirSync(dir)).toEqual(['x.bin']);
  });

  it('keeps the old file when the write fails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vqvid-core-'));
    await expect(writeFileAtomic(join(dir, 'missing-dir', 'x.bin'), 'a')).rejects.toThrow(VqvidError);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('names a missing file', async () => {
    await expect(readFileChecked('/no/such/file.y4m', 'video')).rejects.toThrow('video: file /no/such/file.y4m does not exist');
  });
});
