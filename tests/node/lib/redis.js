// A private redis-server for tests that break Redis (stop, pause, restart it): on a free port,
// keeping nothing on disk, never the shared one.
'use strict';

const { execFile, spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

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
async function startRedis({ args = [], port: wanted } = {}) {
  const port = wanted || (await freePort());
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

/** Runs redis-cli against the server on `port`; resolves with its output (rejects on failure). */
function redisCli(port, args) {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', ['-p', String(port), ...args], (err, stdout) => (err ? reject(err) : resolve(String(stdout))));
  });
}

/** A free port whose cluster bus port (+10000) is free too. */
async function freeClusterPort() {
  for (;;) {
    const port = await freePort();
    if (port >= 55000) continue;
    const bus = net.createServer();
    const ok = await new Promise((resolve) => {
      bus.once('error', () => resolve(false));
      bus.listen(port + 10000, '127.0.0.1', () => resolve(true));
    });
    if (ok) {
      await new Promise((resolve) => bus.close(resolve));
      return port;
    }
  }
}

/**
 * Starts a private Redis Cluster of three masters (no replicas) on free ports, keeping nothing on
 * disk. The result has `url` (the seeds, comma-separated, for `broker.url`), `ports`, `cli(port,
 * args)`, `masterOf(key)` (the port of the master holding the key's slot), `restartEmpty(port)`
 * and `stop()`.
 */
async function startRedisCluster() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-rcluster-'));
  const servers = [];
  const ports = [];
  const stop = async () => {
    for (const r of servers) await r.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 3; i += 1) {
      const port = await freeClusterPort();
      ports.push(port);
      const args = ['--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${port}.conf`), '--dir', dir];
      servers.push(await startRedis({ args, port }));
    }
    await redisCli(ports[0], ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    const deadline = Date.now() + GUARD_MS;
    for (const port of ports) {
      while (!(await redisCli(port, ['CLUSTER', 'INFO'])).includes('cluster_state:ok')) {
        if (Date.now() > deadline) throw new Error(`Redis Cluster node ${port} never reached cluster_state:ok`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  /** Slot ranges each master serves, from CLUSTER NODES (the same on every node once ok). */
  const ranges = async () => {
    const text = await redisCli(ports[0], ['CLUSTER', 'NODES']);
    return text
      .trim()
      .split('\n')
      .map((line) => line.split(' '))
      .filter((f) => f[2].includes('master'))
      .map((f) => ({
        port: Number(f[1].split('@')[0].split(':').pop()),
        slots: f.slice(8).map((r) => r.split('-').map(Number)),
      }));
  };
  const untilOk = async () => {
    const deadline = Date.now() + GUARD_MS;
    for (const port of ports) {
      while (!(await redisCli(port, ['CLUSTER', 'INFO']).catch(() => '')).includes('cluster_state:ok')) {
        if (Date.now() > deadline) throw new Error(`Redis Cluster node ${port} never got back to cluster_state:ok`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  return {
    url: ports.map((p) => `redis://127.0.0.1:${p}`).join(','),
    ports,
    cli: redisCli,
    /** Kills the master on `port` (SIGKILL) and starts it again, empty, holding the same slots. */
    async restartEmpty(port) {
      const r = servers[ports.indexOf(port)];
      await r.kill();
      await r.start();
      await untilOk();
    },
    async masterOf(key) {
      const slot = Number((await redisCli(ports[0], ['CLUSTER', 'KEYSLOT', key])).trim());
      const m = (await ranges()).find((n) => n.slots.some(([a, b = a]) => slot >= a && slot <= b));
      return m && m.port;
    },
    stop,
  };
}

module.exports = { startRedis, startRedisCluster, freePort, redisCli };
