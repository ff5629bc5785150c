// A private redis-server for tests that break Redis (stop, pause, restart it): on a free port,
// keeping nothing on disk, never the shared one.
'use strict';

const { spawn } = require('node:child_process');
const net = require('node:net');

const { GUARD_MS, withGuard } = require('./wait');

async function freePort() {
  const srv = net.createServer();
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** Resolves once something accepts TCP connections on the port. */
async function untilListening(port) {
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Starts redis-server on a free port (with `args` added to its command line). The result has `url`, `port`, `pause()` / `resume()`
 * (SIGSTOP / SIGCONT: connections hang, nothing is lost), `kill()` (SIGKILL: everything is
 * lost), `start()` (again, on the same port, empty) and `stop()`.
 */
async function startRedis({ args = [] } = {}) {
  const port = await freePort();
  let proc = null;
  const r = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      const base = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
      proc = spawn('redis-server', [...base, ...args], {
        stdio: 'ignore',
      });
      await withGuard(untilListening(port), GUARD_MS, `redis-server on port ${port}`);
    },
    pause() {
      proc.kill('SIGSTOP');
    },
    resume() {
      proc.kill('SIGCONT');
    },
    async kill() {
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGCONT');
      proc.kill('SIGKILL');
      await gone;
    },
    async stop() {
      await r.kill();
    },
  };
  await r.start();
  return r;
}

module.exports = { startRedis, freePort };
