// The browser suite's harness: Debian's Chromium driven by playwright-core (from tests/node's npm
// install), the demo stack started with its documented command, and waits that poll what a person
// sees until a generous hang guard.
'use strict';

const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');
const { spawn } = require('node:child_process');
const { createRequire } = require('node:module');
const { test } = require('node:test');

const REPO = path.resolve(__dirname, '..', '..', '..');
const nodeRequire = createRequire(path.join(REPO, 'tests', 'node', 'package.json'));
const { chromium } = nodeRequire('playwright-core');

/** Hang guard for anything a test waits to see; never decides a result. */
const GUARD_MS = 20000;
const CHROMIUM = process.env.HERALD_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/**
 * Starts `bash examples/demo/run.sh` on free ports with its own state folder; resolves with
 * {url, core, logs(), stop()} once it prints its URL. `env` adds variables (e.g. an admin secret).
 */
function startDemo(env = {}) {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-demo-test-'));
  const child = spawn('bash', [path.join(REPO, 'examples', 'demo', 'run.sh')], {
    cwd: REPO,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      DEMO_EDGE_ADDR: '127.0.0.1:0',
      DEMO_CORE_ADDR: '127.0.0.1:0',
      DEMO_STATE_DIR: stateDir,
      ...env,
    },
  });
  let out = '';
  const logs = () => {
    const files = fs.existsSync(stateDir) ? fs.readdirSync(stateDir).filter((f) => f.endsWith('.log')) : [];
    return out + files.map((f) => `\n--- ${f}\n${fs.readFileSync(path.join(stateDir, f), 'utf8').slice(-4000)}`).join('');
  };
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, 10000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => {
      stop();
      reject(new Error(`the demo did not start within 120 s:\n${logs()}`));
    }, 120000);
    const onData = (chunk) => {
      out += chunk.toString();
      const m = /Herald demo: (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(guard);
        const core = fs.readFileSync(path.join(stateDir, 'herald.log'), 'utf8').match(/herald core listening on (\S+)/)[1];
        resolve({ url: m[1], core, logs, stop, stateDir });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (c) => {
      out += c.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(guard);
      reject(new Error(`the demo exited (${code}) before printing its URL:\n${logs()}`));
    });
  });
}

/** Polls `fn` until it returns a truthy value (hang-guarded); returns that value. */
async function until(fn, what, ms = GUARD_MS) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until the locator's visible text equals `text` (trimmed); returns it. */
async function seeText(locator, text, what = `text ${JSON.stringify(text)}`) {
  let seen = '';
  try {
    await until(async () => {
      seen = (await locator.innerText({ timeout: GUARD_MS })).trim();
      return seen === text;
    }, what);
  } catch (e) {
    throw new Error(`${e.message}; last seen ${JSON.stringify(seen)}`);
  }
}

/** Visible texts of every element the locator matches. */
async function texts(locator) {
  return (await locator.allInnerTexts()).map((t) => t.trim());
}

/**
 * A browser and a demo stack for one test; everything is closed after it, and the demo's logs are
 * printed when the test failed.
 */
function demoTest(name, fn, env = {}) {
  test(name, { timeout: 180000 }, async (t) => {
    const demo = await startDemo(env);
    const browser = await launch();
    let ok = false;
    try {
      await fn(t, { demo, browser });
      ok = true;
    } finally {
      await browser.close();
      await demo.stop();
      if (!ok || process.env.DEMO_LOGS) process.stderr.write(`demo logs:\n${demo.logs()}\n`);
      fs.rmSync(demo.stateDir, { recursive: true, force: true });
    }
  });
}

module.exports = { REPO, GUARD_MS, launch, startDemo, until, seeText, texts, demoTest };
