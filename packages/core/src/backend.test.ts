import { selectTfBackend, TfBackendHost } from './backend';

function fakeTf(working: string[]): TfBackendHost & { current: string } {
  return {
    current: '',
    getBackend() { return this.current; },
    async setBackend(name: string) {
      if (name === 'broken') throw new Error('no wasm file');
      if (!working.includes(name)) return false;
      this.current = name;
      return true;
    },
    async ready() {},
  };
}

describe('selectTfBackend', () => {
  it('takes the first working backend without a reason', async () => {
    const tf = fakeTf(['wasm', 'cpu']);
    expect(await selectTfBackend(tf)).toEqual({ backend: 'wasm' });
  });

  it('falls back and reports why', async () => {
    const logs: string[] = [];
    const tf = fakeTf(['cpu']);
    const c = await selectTfBackend(tf, ['broken', 'wasm', 'cpu'], (m) => logs.push(m));
    expect(c.backend).toBe('cpu');
    expect(c.fallbackReason).toContain("'broken' failed: no wasm file");
    expect(c.fallbackReason).toContain("'wasm' did not initialise");
    expect(logs).toHaveLength(1);
  });

  it('throws E_BACKEND when nothing works', async () => {
    await expect(selectTfBackend(fakeTf([]), ['wasm'])).rejects.toMatchObject({ code: 'E_BACKEND' });
  });

  it('refuses candidates that are not a list of names (E_DTYPE naming the argument)', async () => {
    const tf = fakeTf(['wasm']);
    for (const bad of ['wasm', [], [''], [3]]) {
      await expect(selectTfBackend(tf, bad as unknown as string[])).rejects.toMatchObject({ code: 'E_DTYPE', details: { argument: 'candidates' } });
    }
    expect(tf.current).toBe('');
  });
});
