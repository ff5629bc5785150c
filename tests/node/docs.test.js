// The README's five-minute tour and clients/js/README.md, run as written: every `sh` block, in order,
// from the repository root (a `cd` carries over to the next command), with `herald` on the PATH
// (`cargo run --` stands for it). Long-running commands (`herald serve`, the node example) run in
// the background; the others must exit 0. Ports and the store are redirected to free ones with
// HERALD_* variables, and the default addresses written in the commands to those ports.
'use strict';

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { test } = require('node:test');
const { REPO_ROOT, heraldBin, cleanEnv, freePort } = require('./lib/herald');

/** The `sh` code blocks of the section titled `title` (the whole file without one), as lines. */
function shLines(file, title) {
  const text = fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
  let section = text;
  if (title) {
    const start = text.indexOf(`\n## ${title}\n`);
    assert.ok(start >= 0, `${file} has a section "${title}"`);
    const end = text.indexOf('\n## ', start + 1);
    section = text.slice(start, end < 0 ? undefined : end);
  }
  const lines = [];
  for (const m of section.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const l of m[1].split('\n')) if (l.trim() !== '') lines.push(l.trim());
  }
  return lines;
}

/** Starts `cmd` with bash; resolves once a stdout line matches `ready`. */
function background(cmd, env, ready, procs, cwd) {
  const proc = spawn('bash', ['-c', `exec ${cmd}`], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const p = { proc, out: '', err: '' };
  procs.push(p);
  proc.stderr.on('data', (c) => {
    p.err += c;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd}: not ready\n${p.out}\n${p.err}`)), 60000);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd}: exited with ${code}\n${p.out}\n${p.err}`));
    });
    readline.createInterface({ input: proc.stdout }).on('line', (line) => {
      p.out += `${line}\n`;
      if (ready.test(line)) {
        clearTimeout(timer);
        resolve(p);
      }
    });
  });
}

/** Runs `cmd` in `cwd`; resolves { code, out, err, cwd } with the directory it ended in. */
function run(cmd, env, cwd) {
  return new Promise((resolve) => {
    const script = `${cmd}\nstatus=$?\npwd >&3\nexit $status`;
    const proc = spawn('bash', ['-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    let where = '';
    proc.stdio[3].on('data', (c) => {
      where += c;
    });
    let out = '';
    let err = '';
    proc.stdout.on('data', (c) => {
      out += c;
    });
    proc.stderr.on('data', (c) => {
      err += c;
    });
    proc.on('close', (code) => resolve({ code, out, err, cwd: where.trim() || cwd }));
  });
}

async function until(probe, what) {
  const deadline = Date.now() + 30000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Runs the lines in order. Returns the background processes that print "connected to" (clients).
 * `herald serve` and `node ...` run in the background.
 */
async function runAsWritten(lines, env, core, edge, procs) {
  let cwd = REPO_ROOT;
  const clients = [];
  for (const raw of lines) {
    if (raw.startsWith('cargo install')) continue; // the binary under test is on the PATH instead
    const line = raw
      .replace(/cargo run (-q )?--/g, 'herald')
      .replace(/127\.0\.0\.1:8080/g, edge)
      .replace(/127\.0\.0\.1:50051/g, core);
    if (/^herald serve\b/.test(line)) {
      await background(line, env, /^herald edge listening on/, procs, cwd);
    } else if (line.startsWith('node ')) {
      clients.push(await background(line, env, /^connected to /, procs, cwd));
    } else {
      const r = await run(line, env, cwd);
      assert.equal(r.code, 0, `\`${raw}\` failed:\n${r.out}\n${r.err}`);
      if (line.startsWith('herald emit')) JSON.parse(r.out);
      cwd = r.cwd;
    }
  }
  return clients;
}

async function withTour(body) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-tour-'));
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(heraldBin(), path.join(bin, 'herald'));
  const core = `127.0.0.1:${await freePort()}`;
  const edge = `127.0.0.1:${await freePort()}`;
  const env = cleanEnv({
    PATH: `${bin}:${process.env.PATH}`,
    HERALD_CORE_LISTEN: core,
    HERALD_EDGE_LISTEN: edge,
    HERALD_STORE_URL: `sqlite://${path.join(dir, 'herald.db')}`,
    HERALD_URL: `http://${edge}/`,
  });
  const procs = [];
  try {
    await body(env, core, edge, procs);
  } finally {
    for (const p of procs.reverse()) {
      if (p.proc.exitCode === null) {
        p.proc.kill('SIGTERM');
        await new Promise((r) => p.proc.on('exit', r));
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('the README tour runs as written', { timeout: 240000 }, async () => {
  const lines = shLines('README.md', 'A five-minute tour');
  assert.ok(lines.some((l) => l.startsWith('herald serve')), 'the tour starts herald');
  assert.ok(lines.some((l) => l.startsWith('herald emit')), 'the tour emits');
  await withTour(async (env, core, edge, procs) => {
    const [client] = await runAsWritten(lines, env, core, edge, procs);
    assert.ok(client, 'the tour connects a client');
    await until(() => client.out.includes('new_message {"text":"hello"}'), 'the user event in the example client');
    await until(() => client.out.includes('system_announcement {"title":"hi all"}'), 'the broadcast');
  });
});

test('clients/js/README.md runs as written', { timeout: 240000 }, async () => {
  const lines = shLines('clients/js/README.md');
  assert.ok(lines.some((l) => l.startsWith('node node-example.js')), 'the README runs the node example');
  await withTour(async (env, core, edge, procs) => {
    const clients = await runAsWritten(lines, env, core, edge, procs);
    assert.equal(clients.length, 2, 'both node examples connect');
  });
});
