import { driveAsync, driveSync } from './drive';

/** Sums the answers to `n` requests (each request is its index); records whether its finally block ran. */
function* summing(n: number, log: string[]): Generator<number, number, number> {
  let total = 0;
  try {
    for (let i = 0; i < n; i++) total += yield i;
  } finally {
    log.push('freed');
  }
  return total;
}

describe('driveSync / driveAsync', () => {
  it('answer every request in order and return the loop’s value, in this thread and through promises', async () => {
    const asked: number[] = [];
    const log: string[] = [];
    expect(driveSync(summing(4, log), (i) => (asked.push(i), 10 * i))).toBe(60);
    expect(await driveAsync(summing(4, log), async (i) => (asked.push(i), 10 * i + 1))).toBe(64);
    expect(asked).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
    expect(log).toEqual(['freed', 'freed']);
  });

  it('throw a handler’s error into the loop, whose finally blocks run, and out to the caller', async () => {
    const log: string[] = [];
    const fail = (i: number) => {
      if (i === 2) throw new Error('no answer for 2');
      return i;
    };
    expect(() => driveSync(summing(5, log), fail)).toThrow('no answer for 2');
    await expect(driveAsync(summing(5, log), async (i) => fail(i))).rejects.toThrow('no answer for 2');
    expect(log).toEqual(['freed', 'freed']);
  });

  it('let a loop catch a handler’s error and go on', () => {
    function* tolerant(): Generator<number, number[], number> {
      const got: number[] = [];
      for (let i = 0; i < 3; i++) {
        try {
          got.push(yield i);
        } catch {
          got.push(-1);
        }
      }
      return got;
    }
    expect(driveSync(tolerant(), (i) => {
      if (i === 1) throw new Error('skip');
      return i * 2;
    })).toEqual([0, -1, 4]);
  });
});
