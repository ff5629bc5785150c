// The checker's logical clock: every moment it records (an Emit sent or answered, a connect, a
// join acknowledged, an event received) gets the next tick, so ticks follow the order in which
// this process observed things. "A before B" in the checks always means tick(A) < tick(B).
'use strict';

let counter = 0;
const started = Date.now();

/** The next tick. */
function tick() {
  counter += 1;
  return counter;
}

/** Milliseconds since the checker started (for messages only, never for decisions). */
function elapsedMs() {
  return Date.now() - started;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

module.exports = { tick, elapsedMs, sleep };
