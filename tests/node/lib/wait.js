// Hang guards: generous timeouts that only stop a stuck test, never decide a result.
'use strict';

/** Default hang guard for anything the tests wait on. */
const GUARD_MS = 10000;

/** Resolves/rejects like `promise`, or rejects with "timed out ... waiting for <what>" after `ms`. */
function withGuard(promise, ms, what) {
  let timer;
  const guard = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

/** Resolves with the arguments of the next `event` emitted by `emitter` (hang-guarded). */
function once(emitter, event, what = event, ms = GUARD_MS) {
  return withGuard(
    new Promise((resolve) => {
      emitter.once(event, (...args) => resolve(args));
    }),
    ms,
    what,
  );
}

module.exports = { GUARD_MS, withGuard, once };
