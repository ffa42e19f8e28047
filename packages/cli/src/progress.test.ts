import { ProgressReporter, formatDuration, formatProgress } from './progress';

function sink(isTTY: boolean) {
  const out: string[] = [];
  return { out, write: (s: string) => void out.push(s), isTTY, columns: 200 };
}

describe('formatProgress', () => {
  it('draws the bar, percent, counts, metrics and ETA', () => {
    const line = formatProgress({ stage: 'train', done: 5, total: 20, metrics: { loss: 2.5, bitsPerCode: 3.125 } }, 10, 20);
    // 25% done after 10 s leaves 30 s
    expect(line).toBe('train    [#####---------------]   25%  5/20  loss 2.500  bits/code 3.125  ETA 0:30');
  });
  it('formats durations', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(75.4)).toBe('1:15');
    expect(formatDuration(3725)).toBe('1:02:05');
  });
});

describe('ProgressReporter', () => {
  it('redraws one line on a TTY, throttled, and ends it with a newline', () => {
    let now = 0;
    const s = sink(true);
    const r = new ProgressReporter(s, 'bar', () => now);
    r.onProgress({ stage: 'fit', done: 1, total: 4 });
    now = 50;
    r.onProgress({ stage: 'fit', done: 2, total: 4 }); // within the redraw interval: skipped
    now = 200;
    r.onProgress({ stage: 'fit', done: 4, total: 4 });
    r.finishLine();
    expect(s.out.length).toBe(3);
    expect(s.out[0].startsWith('\rfit')).toBe(true);
    expect(s.out[1]).toContain('4/4');
    expect(s.out[2]).toBe('\n');
  });
  it('shows training events with a 1-based epoch and bits/code, and epoch summaries only as lines', () => {
    const tty = sink(true);
    const bar = new ProgressReporter(tty, 'bar', () => 0);
    bar.onProgress({ stage: 'train', done: 3, total: 10, metrics: { loss: Math.LN2 * 2, epoch: 0 } });
    bar.onProgress({ stage: 'epoch', done: 1, total: 2, metrics: { loss: 1 } });
    expect(tty.out).toHaveLength(1);
    expect(tty.out[0]).toContain('epoch 1  loss 1.386  bits/code 2');
    const pipe = sink(false);
    new ProgressReporter(pipe, 'lines', () => 0).onProgress({ stage: 'epoch', done: 1, total: 2, metrics: { epoch: 0, loss: Math.LN2, valBits: 1.5 } });
    expect(pipe.out).toEqual(['epoch     50%  1/2  loss 0.6931  bits/code 1  val bits/code 1.500\n']);
  });
  it('narrows the bar to keep the numbers on a narrow terminal', () => {
    const s = { ...sink(true), columns: 70 };
    new ProgressReporter(s, 'bar', () => 0).onProgress({ stage: 'train', done: 2, total: 4, metrics: { loss: 1, epoch: 0 } });
    const line = s.out[0].replace('\r', '').replace('\x1b[K', '');
    expect(line.length).toBeLessThanOrEqual(69);
    expect(line).toMatch(/^train +\[#{7}-{6}\] +50% {2}2\/4 {2}epoch 1 {2}loss 1 {2}bits\/code 1\.443$/);
    const narrow = { ...sink(true), columns: 40 };
    new ProgressReporter(narrow, 'bar', () => 0).onProgress({ stage: 'train', done: 2, total: 4, metrics: { loss: 1, epoch: 0 } });
    expect(narrow.out[0]).not.toContain('#');
    expect(narrow.out[0].length).toBeLessThanOrEqual(1 + 39 + 3);
  });
  it('writes occasional plain lines when not a TTY, and nothing when off', () => {
    let now = 0;
    const s = sink(false);
    const r = new ProgressReporter(s, 'lines', () => now);
    for (let i = 1; i <= 10; i++) {
      now = i * 1000;
      r.onProgress({ stage: 'train', done: i, total: 10 });
    }
    // first event, one after 5 s, and the completion
    expect(s.out).toHaveLength(3);
    expect(s.out.every((l) => l.endsWith('\n') && !l.includes('\r'))).toBe(true);
    const off = sink(false);
    new ProgressReporter(off, 'off').onProgress({ stage: 'x', done: 1, total: 1 });
    expect(off.out).toEqual([]);
  });
});
