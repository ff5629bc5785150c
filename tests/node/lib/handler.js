// Spawns the backend handler program (backend/handler.js) as a separate Node process against a
// running herald, and lets tests wait for the lines it prints.
'use strict';

const { spawn } = require('node:child_process');
const path = require('node:path');
const readline = require('node:readline');

const { GUARD_MS, withGuard } = require('./wait');

const HANDLER_JS = path.resolve(__dirname, '..', 'backend', 'handler.js');

/**
 * Starts a handler for herald `h` and resolves once it printed `handler ready` (it is registered).
 * Options: namespace ("/"), events (array), mode ("normal" | "slow" | "exit"), delayMs, exitAfter,
 * ackTimeoutMs. The process is killed when the test's server stops.
 *
 * The result has `lines` (parsed: { kind, value }), `id` (handler_id), `waitLine(pred, what)`,
 * `events(name)` (the ClientEvents received with that event name), `waitEvent(name, n)`,
 * `exited` (a promise of { code, signal }) and `stop()`.
 */
async function startHandler(h, options = {}) {
  const {
    namespace = '/',
    events = ['message:send', 'message:read'],
    mode = 'normal',
    delayMs = 0,
    exitAfter = 1,
    ackTimeoutMs = 3000,
  } = options;
  const args = [
    HANDLER_JS,
    '--addr',
    h.grpcAddr,
    '--token',
    h.config.serviceToken,
    '--namespace',
    namespace,
    '--events',
    events.join(','),
    '--mode',
    mode,
    '--delay-ms',
    String(delayMs),
    '--exit-after',
    String(exitAfter),
    '--ack-timeout-ms',
    String(ackTimeoutMs),
  ];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  const waiters = new Set();
  let stderr = '';
  let exitInfo = null;
  const notify = () => {
    for (const w of [...waiters]) {
      if (w()) waiters.delete(w);
    }
  };
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-16000);
  });
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      notify();
      resolve(exitInfo);
    });
  });
  readline.createInterface({ input: proc.stdout }).on('line', (line) => {
    let m = /^handler (ready|exiting|stream-error|stream-end) ?(.*)$/.exec(line);
    if (m) {
      lines.push({ kind: `handler ${m[1]}`, value: m[2] });
    } else {
      m = /^(\S+) (.*)$/.exec(line);
      let value = m ? m[2] : line;
      try {
        value = JSON.parse(value);
      } catch {
        // keep the text
      }
      lines.push({ kind: m ? m[1] : 'text', value });
    }
    notify();
  });

  const describe = () =>
    `handler lines: ${JSON.stringify(lines.slice(-30))}; handler stderr: ${stderr.slice(-2000) || '(empty)'}`;

  /** Resolves the first line for which pred(line) holds; rejects if the process exits first. */
  function waitLine(pred, what, { ms = GUARD_MS, allowExit = false } = {}) {
    return withGuard(
      new Promise((resolve, reject) => {
        const w = () => {
          const found = lines.find(pred);
          if (found) {
            resolve(found);
            return true;
          }
          if (exitInfo && !allowExit) {
            reject(new Error(`the handler exited (${JSON.stringify(exitInfo)}) before ${what}; ${describe()}`));
            return true;
          }
          return false;
        };
        if (!w()) waiters.add(w);
      }),
      ms,
      `${what} (${describe()})`,
    );
  }

  const handler = {
    proc,
    lines,
    exited,
    id: undefined,
    stderr: () => stderr,
    describe,
    waitLine,
    events: (name) => lines.filter((l) => l.kind === 'event' && l.value.event === name).map((l) => l.value),
    async waitEvent(name, n = 1) {
      await waitLine(() => handler.events(name).length >= n, `${n} "${name}" ClientEvent(s) at the handler`);
      return handler.events(name).slice(0, n);
    },
    async stop() {
      if (exitInfo) return exitInfo;
      proc.kill('SIGKILL');
      return exited;
    },
  };
  h.track(() => handler.stop());

  const ready = await waitLine((l) => l.kind.startsWith('handler ') && l.kind !== 'handler exiting', 'handler ready');
  if (ready.kind !== 'handler ready') {
    throw new Error(`the handler did not register: ${ready.kind} ${ready.value}; ${describe()}`);
  }
  handler.id = ready.value;
  return handler;
}

module.exports = { startHandler, HANDLER_JS };
