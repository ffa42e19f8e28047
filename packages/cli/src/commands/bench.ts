import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { VqvidError } from '@vqvid/core';
import type { Command } from '../command';

const SCRIPT = join('bench', 'run.mjs');

/** The nearest `bench/run.mjs` at or above `dir` (the vqvid repository's benchmark runner). */
export function findBenchScript(dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, SCRIPT))) return join(d, SCRIPT);
    if (dirname(d) === d) return undefined;
  }
}

/** `vqvid bench`: runs the repository's benchmark script, which prints JSON. */
export const benchCommand: Command = {
  name: 'bench',
  summary: "run the repository's benchmarks (bench/run.mjs)",
  usage: 'vqvid bench [-- <arguments for bench/run.mjs>]',
  description:
    'Looks for bench/run.mjs in the current folder or above (a checkout of the vqvid repository) and runs it\n' +
    'with node, passing on the arguments after "--". Installed alone, the CLI has no benchmarks and says so.',
  positionals: { min: 0, max: Infinity },
  options: {},
  async run(ctx) {
    const script = findBenchScript(process.cwd());
    if (!script) {
      throw new VqvidError('E_NOT_FOUND', `bench: no ${SCRIPT} in ${process.cwd()} or above; run vqvid bench inside a checkout of the vqvid repository`);
    }
    ctx.debug(`running node ${script} ${ctx.args.positionals.join(' ')}`);
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(process.execPath, [script, ...ctx.args.positionals], { stdio: 'inherit', cwd: dirname(dirname(script)) });
      child.on('error', reject);
      child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
    });
    if (code !== 0) throw new VqvidError('E_TOOL', `bench: ${script} exited with code ${code}`);
    return { data: { script, exitCode: code }, text: '' };
  },
};
