// Entry point of the test helpers: `heraldTest` (a node:test test with its own herald server)
// plus re-exports of the process, config, token, gRPC and socket helpers.
'use strict';

const { test } = require('node:test');

const processHelpers = require('./process');
const config = require('./config');
const tokens = require('./tokens');
const grpcHelpers = require('./grpc');
const socketHelpers = require('./socket');
const wait = require('./wait');

const TEST_GUARD_MS = 60000;
const STDERR_TAIL = 6000;

/** Appends the server's stderr tail to a failing test's error (kept in the stack the reporter prints). */
function annotate(err, h) {
  const tail = h.stderr().slice(-STDERR_TAIL);
  const note = `\n--- herald stderr (last ${STDERR_TAIL} chars) ---\n${tail || '(empty)'}\n--- end of herald stderr ---`;
  if (err && typeof err === 'object') {
    try {
      err.stack = `${err.stack || err.message}${note}`;
      return err;
    } catch {
      // fall through
    }
  }
  return new Error(`${String(err)}${note}`);
}

/**
 * Declares a test that gets a fresh herald (`h`) started with `options.config` and stopped at the
 * end, whatever happens. On failure the server's stderr is attached to the error. Unless the test
 * set `h.stopped`, the server must still be running when the body returns.
 */
function heraldTest(name, options, body) {
  if (typeof options === 'function') {
    body = options;
    options = {};
  }
  test(name, { timeout: options.timeout || TEST_GUARD_MS }, async (t) => {
    const h = await processHelpers.startHerald(options.config || {});
    try {
      await body(t, h);
      if (!h.stopped) h.assertAlive('after the test body');
    } catch (err) {
      throw annotate(err, h);
    } finally {
      await h.stop();
    }
  });
}

module.exports = {
  heraldTest,
  ...processHelpers,
  ...config,
  ...tokens,
  ...grpcHelpers,
  ...socketHelpers,
  ...wait,
};
