// Starts and stops the real `herald` binary for one test, and runs its CLI sub-commands.
'use strict';

const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const { writeConfig } = require('./config');
const { GUARD_MS, withGuard } = require('./wait');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const PROTO_DIR = path.join(REPO_ROOT, 'proto');
const STDERR_KEEP = 64 * 1024;
const STOP_GRACE_MS = 5000;

/** Path of the binary under test: $HERALD_BIN, else <repo>/target/debug/herald. */
function heraldBin() {
  return process.env.HERALD_BIN || path.join(REPO_ROOT, 'target', 'debug', 'herald');
}

/** The parent environment without HERALD_* variables (they would override the test config). */
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('HERALD_')) env[k] = v;
  }
  if (!env.RUST_BACKTRACE) env.RUST_BACKTRACE = '1';
  return { ...env, ...extra };
}

/** Fails loudly (never skips) when the binary is missing. */
function assertBinaryPresent() {
  const bin = heraldBin();
  try {
    fs.accessSync(bin, fs.constants.X_OK);
  } catch {
    throw new Error(
      `herald binary not found or not executable at ${bin}; build it with \`cargo build --workspace --bins\` ` +
        'or set HERALD_BIN',
    );
  }
  return bin;
}

const LISTEN_RE = /^herald (core|edge) listening on (\S+)\s*$/;

/**
 * Starts `herald serve` with a fresh config in a fresh temporary working directory.
 * Resolves once both "listening" lines were printed; rejects (with stderr) if the process
 * exits first or the hang guard fires.
 */
async function startHerald(configOptions = {}) {
  const bin = assertBinaryPresent();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-test-'));
  const config = writeConfig(dir, configOptions);
  const args = [
    'serve',
    '--config',
    config.path,
    '--core-listen',
    '127.0.0.1:0',
    '--edge-listen',
    '127.0.0.1:0',
  ];
  const proc = spawn(bin, args, { cwd: dir, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });

  let stderr = '';
  let stdout = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk) => {
    stderr += chunk;
    if (stderr.length > STDERR_KEEP) stderr = stderr.slice(stderr.length - STDERR_KEEP);
  });

  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const spawnError = new Promise((resolve) => {
    proc.on('error', (err) => resolve(err));
  });

  const addrs = {};
  const ready = new Promise((resolve) => {
    const lines = readline.createInterface({ input: proc.stdout });
    lines.on('line', (line) => {
      stdout += `${line}\n`;
      if (stdout.length > STDERR_KEEP) stdout = stdout.slice(stdout.length - STDERR_KEEP);
      const m = LISTEN_RE.exec(line);
      if (m) {
        addrs[m[1]] = m[2];
        if (addrs.core && addrs.edge) resolve();
      }
    });
  });

  const h = {
    bin,
    dir,
    config,
    proc,
    exited,
    grpcAddr: undefined,
    edgeAddr: undefined,
    edgeUrl: undefined,
    edgePort: undefined,
    stopped: false,
    cleanups: [],
    stderr: () => stderr,
    stdout: () => stdout,
    /** Registers something to close before the server is stopped (sockets, clients). */
    track(closeFn) {
      this.cleanups.push(closeFn);
    },
    /** True while the process has not exited. */
    alive() {
      return proc.exitCode === null && proc.signalCode === null;
    },
    /** Throws when the server process is gone. */
    assertAlive(what = 'herald') {
      if (!this.alive()) {
        throw new Error(`${what}: the herald process exited (code ${proc.exitCode}, signal ${proc.signalCode})`);
      }
    },
    /** SIGTERM, then SIGKILL after a grace period. Returns { code, signal }. */
    async stop() {
      this.stopped = true;
      const closers = this.cleanups.splice(0);
      for (const close of closers) {
        try {
          await close();
        } catch {
          // best effort
        }
      }
      if (this.alive()) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => {
          if (this.alive()) proc.kill('SIGKILL');
        }, STOP_GRACE_MS);
        const result = await exited;
        clearTimeout(timer);
        fs.rmSync(dir, { recursive: true, force: true });
        return result;
      }
      fs.rmSync(dir, { recursive: true, force: true });
      return exited;
    },
  };

  const outcome = await withGuard(
    Promise.race([
      ready.then(() => 'ready'),
      exited.then((e) => ({ exited: e })),
      spawnError.then((err) => ({ spawnError: err })),
    ]),
    GUARD_MS * 2,
    'herald to print both "herald core/edge listening on" lines',
  ).catch((err) => ({ guard: err }));

  if (outcome !== 'ready') {
    if (h.alive()) proc.kill('SIGKILL');
    let why;
    if (outcome.exited) {
      why = `herald exited (code ${outcome.exited.code}, signal ${outcome.exited.signal}) before printing both listening lines`;
    } else if (outcome.spawnError) {
      why = `could not start ${bin}: ${outcome.spawnError.message}`;
    } else {
      why = outcome.guard.message;
    }
    // Give the stderr pipe a moment to drain before reporting it.
    await Promise.race([exited, new Promise((r) => setTimeout(r, 500))]);
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`${why}\n--- herald stdout ---\n${stdout}\n--- herald stderr ---\n${stderr}`);
  }

  h.grpcAddr = addrs.core;
  h.edgeAddr = addrs.edge;
  h.edgeUrl = `http://${addrs.edge}`;
  h.edgePort = Number(addrs.edge.slice(addrs.edge.lastIndexOf(':') + 1));
  return h;
}

/**
 * Runs `herald <args...>` to completion. Resolves { code, stdout, stderr } (never rejects on a
 * non-zero exit; the caller asserts).
 */
function runCli(args, { cwd, timeoutMs = GUARD_MS * 2 } = {}) {
  const bin = assertBinaryPresent();
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      args,
      { cwd: cwd || os.tmpdir(), env: cleanEnv(), timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') {
          reject(new Error(`herald ${args.join(' ')} failed to run: ${err.message}\n${stderr}`));
          return;
        }
        resolve({ code: err ? err.code : 0, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** A TCP port free on 127.0.0.1 right now (bound, noted and released). */
async function freePort() {
  const net = require('node:net');
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

module.exports = { REPO_ROOT, PROTO_DIR, heraldBin, startHerald, runCli, assertBinaryPresent, cleanEnv, freePort };
