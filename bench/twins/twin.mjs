// Runs one Python twin of bench/twins/ and returns its JSON, or { skipped: why } when Debian's python3 or the
// twin's module is missing: twins are an optional stage, nothing outside bench/twins needs Python.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The interpreter the twins use: $VQVID_PYTHON, else Debian's /usr/bin/python3 (where python3-faiss/-torch install). */
export const python = process.env.VQVID_PYTHON ?? '/usr/bin/python3';

/** Runs bench/twins/<script> with `args`; resolves to its JSON (last stdout line) or { skipped: reason }. */
export function runTwin(script, args) {
  return new Promise((resolve) => {
    let out = '', err = '';
    const p = spawn(python, [join(here, script), ...args.map(String)], { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.on('data', (c) => (out += c));
    p.stderr.on('data', (c) => (err += c));
    p.on('error', (e) => resolve({ skipped: `${python} cannot run (${e.code ?? e.message}): install Debian's python3` }));
    p.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      try {
        const json = JSON.parse(last);
        resolve(code === 0 ? json : { skipped: `${script} exited with ${code}`, ...json });
      } catch {
        resolve({ skipped: `${script} exited with ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}` });
      }
    });
  });
}
