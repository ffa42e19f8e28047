import { VqvidError } from '@vqvid/core';
import { main } from './main';
import { COMMANDS } from './commands/index';
import type { Command } from './command';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: { write: (s: string) => void out.push(s) }, stderr: { write: (s: string) => void err.push(s), isTTY: false } } };
}

/** A throwaway command added for the length of one test. */
function withCommand(cmd: Command, fn: () => Promise<void>): Promise<void> {
  COMMANDS.push(cmd);
  return fn().finally(() => COMMANDS.splice(COMMANDS.indexOf(cmd), 1));
}

const failing = (error: Error, interruptible = false): Command => ({
  name: 'boom',
  summary: 'fails',
  usage: 'vqvid boom',
  description: 'fails',
  options: {},
  positionals: { min: 0, max: 0 },
  interruptible,
  run: async () => {
    throw error;
  },
});

describe('main', () => {
  it('turns a multi-line error message into one line, exit 1', async () => {
    const t = io();
    await withCommand(failing(new VqvidError('E_TOOL', 'ffmpeg failed:\n  Invalid data found\n\n  when processing input')), async () => {
      expect(await main(['boom'], t.io)).toBe(1);
    });
    expect(t.err.join('')).toBe('vqvid: error: ffmpeg failed: | Invalid data found | when processing input\n');
  });

  it('maps E_ABORTED to exit 130 and asks for the interrupt signal only for interruptible commands', async () => {
    const t = io();
    let asked = 0;
    const catchInterrupt = () => {
      asked++;
      return new AbortController().signal;
    };
    await withCommand(failing(new VqvidError('E_ABORTED', 'training stopped after 3 steps'), true), async () => {
      expect(await main(['boom'], { ...t.io, catchInterrupt })).toBe(130);
    });
    expect(t.err.join('')).toBe('vqvid: interrupted: training stopped after 3 steps\n');
    expect(asked).toBe(1);
    await withCommand(failing(new Error('plain')), async () => {
      expect(await main(['boom'], { ...t.io, catchInterrupt })).toBe(1);
    });
    expect(asked).toBe(1);
  });

  it('releases what a command registered, last first, whether it succeeds or fails', async () => {
    const order: string[] = [];
    const cmd = (fail: boolean): Command => ({
      ...failing(new Error('unused')),
      name: 'res',
      run: async (ctx) => {
        ctx.cleanup(() => order.push('first'));
        ctx.cleanup(() => order.push('second'));
        if (fail) throw new VqvidError('E_RANGE', 'bad');
        return { data: {}, text: '' };
      },
    });
    await withCommand(cmd(false), async () => expect(await main(['res'], io().io)).toBe(0));
    await withCommand(cmd(true), async () => expect(await main(['res'], io().io)).toBe(1));
    expect(order).toEqual(['second', 'first', 'second', 'first']);
  });

  it('prints the JSON data with --json and the text otherwise', async () => {
    const cmd: Command = {
      ...failing(new Error('unused')),
      name: 'ok',
      run: async (ctx) => ({ data: { seed: ctx.seed, quiet: ctx.quiet }, text: 'done' }),
    };
    await withCommand(cmd, async () => {
      const a = io();
      expect(await main(['ok', '--json', '--seed', '9', '-q'], a.io)).toBe(0);
      expect(JSON.parse(a.out.join(''))).toEqual({ seed: 9, quiet: true });
      const b = io();
      expect(await main(['ok'], b.io)).toBe(0);
      expect(b.out.join('')).toBe('done\n');
    });
  });
});
