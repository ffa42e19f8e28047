import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { VqvidError } from '@vqvid/core';
import { initBackend, RCNN } from './index';
import { motionCodes } from './testing';

// A rename that fails on demand (as on a full disk), for core's writeFileAtomic too.
jest.mock('node:fs/promises', () => {
  const real = jest.requireActual('node:fs/promises');
  return {
    ...real,
    rename: (from: string, to: string) =>
      process.env.VQVID_TEST_FAIL_RENAME ? Promise.reject(new Error('ENOSPC: simulated')) : real.rename(from, to),
  };
});

let tmp: string;
beforeAll(async () => {
  await initBackend(['wasm']);
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'vqvid-persist-'));
});
afterAll(async () => {
  delete process.env.VQVID_TEST_FAIL_RENAME;
  await fsp.rm(tmp, { recursive: true, force: true });
});

const small = { k: 4, embedDim: 4, hidden: 6, seed: 4 };
const quick = { epochs: 1, stepsPerEpoch: 3, batch: 2, bptt: 3, lr: 0.01 };

test('a failed or interrupted write leaves the previous model and checkpoint loadable', async () => {
  const m = new RCNN(small);
  const dir = path.join(tmp, 'crash');
  await m.fit(motionCodes(6), { ...quick, checkpointDir: dir });
  await m.save(dir);
  const probe = motionCodes(3, 1);
  const expected = Array.from(m.logProb(probe));
  // a crash after writing the temp file but before the rename leaves stray temp files behind
  await fsp.writeFile(path.join(dir, 'model.vqm.tmp-1-stray'), new Uint8Array([1, 2, 3]));
  await fsp.writeFile(path.join(dir, 'checkpoint.vqm.tmp-1-stray'), 'half a checkpoint');
  process.env.VQVID_TEST_FAIL_RENAME = '1';
  await m.fit(motionCodes(6), { ...quick, epochs: 2 });
  const err = await m.save(dir).then(() => null, (e) => e);
  expect(err).toBeInstanceOf(VqvidError);
  expect((err as VqvidError).code).toBe('E_IO');
  const ckErr = await m.fit(motionCodes(6), { ...quick, checkpointDir: dir }).then(() => null, (e) => e);
  expect((ckErr as VqvidError).code).toBe('E_IO');
  delete process.env.VQVID_TEST_FAIL_RENAME;
  const back = await RCNN.load(dir);
  expect(Array.from(back.logProb(probe))).toEqual(expected);
  // the epoch-1 checkpoint is intact: resuming it for a second epoch works
  const resumed = new RCNN(small);
  const r = await resumed.fit(motionCodes(6), { ...quick, epochs: 2, checkpointDir: dir, resume: true });
  expect(r.steps).toBe(6);
  expect(r.epochs).toHaveLength(2);
  for (const x of [m, back, resumed]) x.dispose();
});
