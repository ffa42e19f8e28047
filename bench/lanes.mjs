// Lanes of child processes for the benches: tfjs's wasm backend runs one thread, so a bench uses the cores by
// running its networks and pixel tasks as child processes, config.trainProcesses at a time. No imports of the
// packages, so that tests/bench-lanes.test.ts can check the scheduler alone.
import { spawn } from 'node:child_process';

/**
 * Runs `node script jobFile` in a child process (stderr shared with ours); resolves to its stdout when `capture`,
 * rejects naming `what` when it exits non-zero. The child is spawned before this returns.
 */
export function runChild(script, jobFile, what, { capture = false } = {}) {
  return new Promise((done, failed) => {
    const child = spawn(process.execPath, [script, jobFile], { stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit'] });
    let text = '';
    child.stdout?.on('data', (d) => (text += d));
    child.on('error', failed);
    child.on('close', (code) => (code === 0 ? done(text) : failed(new Error(`${what} exited with ${code}`))));
  });
}

/**
 * Runs `tasks` ({ run(results), after? }) at most `lanes` at a time: a task starts once the task at index `after`
 * (or every task of a list of indices) has finished, and a free lane takes the first task, in the order given,
 * that may start. `run` gets the results so far and is called synchronously (a child it spawns first starts at
 * once, even while the caller computes).
 * Resolves to every task's result in order; on a failure, rejects with the first error once the running tasks
 * have ended, starting no more.
 */
export function inLanes(lanes, tasks) {
  const results = new Array(tasks.length);
  const state = tasks.map(() => 'waiting');
  let running = 0;
  let failure = null;
  return new Promise((resolveAll, rejectAll) => {
    const pump = () => {
      if (failure) {
        if (running === 0) rejectAll(failure);
        return;
      }
      while (running < lanes) {
        const i = tasks.findIndex((t, j) => state[j] === 'waiting' && [t.after ?? []].flat().every((a) => state[a] === 'done'));
        if (i < 0) break;
        state[i] = 'running';
        running++;
        let p;
        try {
          p = Promise.resolve(tasks[i].run(results));
        } catch (e) {
          p = Promise.reject(e);
        }
        p.then(
          (r) => {
            results[i] = r;
            state[i] = 'done';
            running--;
            pump();
          },
          (e) => {
            failure ??= e;
            running--;
            pump();
          },
        );
      }
      if (running === 0) {
        if (state.every((x) => x === 'done')) resolveAll(results);
        else rejectAll(new Error('inLanes: tasks wait on a task that cannot start (check `after`)'));
      }
    };
    pump();
  });
}
