/**
 * A loop written once as a generator that yields requests (a step's scores, the state after a step) and a driver
 * that answers them in this thread or through promises, so a synchronous method and its async twin share the loop.
 * A handler's error is thrown into the generator, so its `finally` blocks free what it holds.
 */

/** Runs `loop`, answering each request with `answer`, and returns what the loop returns. */
export function driveSync<Q, A, T>(loop: Generator<Q, T, A>, answer: (request: Q) => A): T {
  let r = loop.next();
  while (!r.done) {
    let a: A;
    try {
      a = answer(r.value);
    } catch (e) {
      r = loop.throw(e);
      continue;
    }
    r = loop.next(a);
  }
  return r.value;
}

/** {@link driveSync} with answers that may be promises: each is awaited before the loop goes on. */
export async function driveAsync<Q, A, T>(loop: Generator<Q, T, A>, answer: (request: Q) => A | Promise<A>): Promise<T> {
  let r = loop.next();
  while (!r.done) {
    let a: A;
    try {
      a = await answer(r.value);
    } catch (e) {
      r = loop.throw(e);
      continue;
    }
    r = loop.next(a);
  }
  return r.value;
}
