// Starts a herald cluster for one test: `herald core` plus several `herald edge` processes linked
// to it, all with the same fresh config, in one temporary working directory.
'use strict';

const { spawn } = require('node:child_process');
const { test } = require('node:test');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const { writeConfig } = require('./config');
const { assertBinaryPresent, cleanEnv } = require('./process');
const { GUARD_MS, withGuard } = require('./wait');

const LOG_KEEP = 32 * 1024;
const STOP_GRACE_MS = 5000;
const TEST_GUARD_MS = 90000;

/**
 * Spawns `herald <args>` and resolves { proc, addr, exited, stderr(), alive(), stop() } once it
 * printed `herald <kind> listening on ADDR`; rejects (with its output) if it exits first.
 */
async function spawnListening(bin, args, cwd, kind) {
  const proc = spawn(bin, args, { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-LOG_KEEP);
  });
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const failed = new Promise((resolve) => {
    proc.on('error', (err) => resolve({ spawnError: err }));
  });
  const re = new RegExp(`^herald ${kind} listening on (\\S+)\\s*$`);
  const ready = new Promise((resolve) => {
    readline.createInterface({ input: proc.stdout }).on('line', (line) => {
      stdout = `${stdout}${line}\n`.slice(-LOG_KEEP);
      const m = re.exec(line);
      if (m) resolve(m[1]);
    });
  });
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  const outcome = await withGuard(
    Promise.race([ready.then((addr) => ({ addr })), exited.then((e) => ({ exited: e })), failed]),
    GUARD_MS * 2,
    `"herald ${kind} listening on" from herald ${args.join(' ')}`,
  ).catch((err) => ({ guard: err }));
  if (!outcome.addr) {
    if (alive()) proc.kill('SIGKILL');
    const why = outcome.exited
      ? `exited (code ${outcome.exited.code}, signal ${outcome.exited.signal})`
      : outcome.spawnError
        ? `could not start: ${outcome.spawnError.message}`
        : outcome.guard.message;
    throw new Error(`herald ${kind}: ${why}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`);
  }
  return {
    proc,
    addr: outcome.addr,
    exited,
    stderr: () => stderr,
    alive,
    /** SIGTERM (SIGKILL after a grace period); resolves { code, signal }. */
    async stop(signal = 'SIGTERM') {
      if (alive()) {
        proc.kill(signal);
        const timer = setTimeout(() => {
          if (alive()) proc.kill('SIGKILL');
        }, STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }
      return exited;
    },
  };
}

/**
 * Starts a core and `edges` edges with one config (options as for writeConfig). The result works
 * wherever a single-process herald `h` does (grpcClient, openSocket, ...) and talks to the first
 * edge; `edge(i)` is a view of the same cluster that talks to edge i; `edges[i]` are the processes.
 */
async function startCluster(configOptions = {}, { edges = 2 } = {}) {
  const bin = assertBinaryPresent();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-cluster-'));
  const config = writeConfig(dir, configOptions);
  const procs = [];
  const cleanups = [];
  const stopAll = async () => {
    for (const close of cleanups.splice(0).reverse()) {
      try {
        await close();
      } catch {
        // best effort
      }
    }
    for (const p of [...procs].reverse()) await p.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const core = await spawnListening(bin, ['core', '--config', config.path, '--listen', '127.0.0.1:0'], dir, 'core');
    procs.push(core);
    const edgeProcs = [];
    for (let i = 0; i < edges; i += 1) {
      const args = ['edge', '--config', config.path, '--listen', '127.0.0.1:0', '--core', `http://${core.addr}`];
      const e = await spawnListening(bin, args, dir, 'edge');
      procs.push(e);
      edgeProcs.push(e);
    }
    const base = {
      dir,
      config,
      core,
      edges: edgeProcs,
      grpcAddr: core.addr,
      stopped: false,
      track(closeFn) {
        cleanups.push(closeFn);
      },
      stderr: () =>
        procs.map((p, i) => `--- ${i === 0 ? 'core' : `edge ${i - 1}`} ---\n${p.stderr().slice(-3000)}`).join('\n'),
      /** Throws when the core or a running edge is gone (edges stopped on purpose excepted). */
      assertAlive(what = 'cluster') {
        if (!core.alive()) throw new Error(`${what}: the core exited`);
      },
      async stop() {
        this.stopped = true;
        await stopAll();
      },
      /** A view that talks to edge `i`. */
      edge(i) {
        const e = edgeProcs[i];
        const view = Object.create(base);
        view.edgeAddr = e.addr;
        view.edgeUrl = `http://${e.addr}`;
        view.edgePort = Number(e.addr.slice(e.addr.lastIndexOf(':') + 1));
        return view;
      },
    };
    return base.edge(0);
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * A node:test test with its own cluster (`c`, a view of edge 0), stopped at the end whatever
 * happens; on failure the processes' stderr is appended to the error.
 */
function clusterTest(name, options, body) {
  if (typeof options === 'function') {
    body = options;
    options = {};
  }
  test(name, { timeout: options.timeout || TEST_GUARD_MS }, async () => {
    const c = await startCluster(options.config || {}, { edges: options.edges || 2 });
    try {
      await body(c);
      c.assertAlive('after the test body');
    } catch (err) {
      const note = `\n--- cluster stderr ---\n${c.stderr()}\n--- end ---`;
      if (err && typeof err === 'object') {
        err.stack = `${err.stack || err.message}${note}`;
        throw err;
      }
      throw new Error(`${String(err)}${note}`);
    } finally {
      await c.stop();
    }
  });
}

/**
 * `herald core` on a free port and one `herald edge` linked to it (at `scheme://host:PORT`), both
 * with the config file `configPath`, pushed onto `procs` (for the caller to stop). Resolves
 * { core, edge, edgePort }.
 */
async function coreAndEdge(dir, configPath, procs, { scheme = 'http', host = '127.0.0.1' } = {}) {
  const bin = assertBinaryPresent();
  const core = await spawnListening(bin, ['core', '--config', configPath, '--listen', '127.0.0.1:0'], dir, 'core');
  procs.push(core);
  const port = core.addr.slice(core.addr.lastIndexOf(':') + 1);
  const edge = await spawnListening(
    bin,
    ['edge', '--config', configPath, '--listen', '127.0.0.1:0', '--core', `${scheme}://${host}:${port}`],
    dir,
    'edge',
  );
  procs.push(edge);
  return { core, edge, edgePort: Number(edge.addr.slice(edge.addr.lastIndexOf(':') + 1)) };
}

module.exports = { startCluster, clusterTest, spawnListening, coreAndEdge };
