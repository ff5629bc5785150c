#!/usr/bin/env node
// The guarantees checker: a seeded, randomized run of concurrent backend emitters, stock
// socket.io-client connections and direct Subscribe streams against a Herald (its own, or any
// deployment given by URLs), with transport drops, reconnects through other edges, slow readers
// and backend joins/leaves; then checks order, gaps, duplicates and recovery claims per receiver.
// See tests/checker/README.md. Exit status: 0 all checks passed, 1 violations, 2 could not run.
'use strict';

const { parseArgs, USAGE } = require('./lib/args');
const { openTarget } = require('./lib/target');
const { Model } = require('./lib/model');
const { Emitter } = require('./lib/emitters');
const { SocketActor } = require('./lib/sockets');
const { Subscriber } = require('./lib/subscribers');
const { runChecks } = require('./lib/checks');
const { sleep, tick, elapsedMs } = require('./lib/clock');
const { Rng } = require('./lib/rng');

/** Where a client is sent to stay away for a while: nothing listens on port 1 of the loopback. */
const AWAY_URL = 'http://127.0.0.1:1';

/** Names of this run's users and rooms (a tag keeps runs on one deployment apart). */
function namesFor(seed) {
  const tag = `ck${seed.toString(36)}${new Rng(`${seed}/${process.pid}/${Date.now()}`, 'tag').int(0, 1295).toString(36)}`;
  return {
    tag,
    users: Array.from({ length: 6 }, (_, i) => `${tag}-u${i}`),
    claimRooms: Array.from({ length: 4 }, (_, i) => `${tag}-r${i}`),
    serverRooms: Array.from({ length: 3 }, (_, i) => `${tag}-s${i}`),
  };
}

function log(o, text) {
  if (o.verbose) console.log(`[${(elapsedMs() / 1000).toFixed(1)}s] ${text}`);
}

/** One seed: schedule, settle, checks. Resolves { tally, model }. */
async function runSeed(o, seed) {
  const target = await openTarget(o);
  const names = namesFor(seed);
  const model = new Model({ seed, tag: names.tag });
  const stopSignal = () => {
    target.stop().finally(() => process.exit(2));
  };
  process.once('SIGINT', stopSignal);
  try {
    console.log(`checker: seed ${seed}: ${target.describe}; ${o.seconds} s, ${o.emitters} emitters, ${o.sockets} sockets, ${o.subscribers} subscribers, ~${o.rate} events/s`);
    const world = {
      model,
      names,
      cores: target.cores,
      edges: target.edges,
      namespace: target.namespace,
      tokenConfig: target.tokenConfig,
      roomsClaim: target.roomsClaim,
      deadUrl: AWAY_URL,
      runSeconds: o.seconds,
    };
    let startEmitting;
    world.emitting = new Promise((resolve) => {
      startEmitting = resolve;
    });

    // Every topic gets a log before anyone listens, so that start positions have an epoch.
    const topics = ['*', ...names.users.map((u) => `user:${u}`), ...[...names.claimRooms, ...names.serverRooms].map((r) => `room:${r}`)];
    for (const [i, topic] of topics.entries()) {
      const ev = model.newEvent('p', i + 1, [topic], 'recoverable');
      await target.cores[0].call('Emit', { namespace: world.namespace, targets: [topic], event: 'ck', args: [{ json: JSON.stringify(model.payload(ev)) }], delivery: 'DELIVERY_CLASS_RECOVERABLE' });
      ev.ok = true;
      ev.end = tick();
    }

    const sockets = Array.from({ length: o.sockets }, (_, i) => new SocketActor(i, seed, world));
    const subscribers = Array.from({ length: o.subscribers }, (_, i) => new Subscriber(i, seed, world));
    const liveConnIds = () => sockets.filter((s) => s.socket.connected && s.session).map((s) => s.session.id);
    const emitters = Array.from({ length: o.emitters }, (_, i) =>
      new Emitter(i, seed, { ...world, core: target.cores[i % target.cores.length], liveConnIds, meanGapMs: (1000 * o.emitters) / o.rate }),
    );

    // Receivers first (each registers before the schedule starts), then everything at once.
    let running = true;
    const isRunning = () => running;
    await Promise.all(subscribers.map((s) => s.ensureOpen().catch(() => false)));
    const actors = [...subscribers.map((s) => s.run(isRunning)), ...sockets.map((s) => s.run(isRunning))];
    await Promise.all(sockets.map((s) => waitConnected(s)));
    log(o, `${sockets.filter((s) => s.socket.connected).length} sockets connected, ${subscribers.length} subscribers live`);
    const work = emitters.map((e) => e.run(isRunning));
    startEmitting();
    const endAt = Date.now() + o.seconds * 1000;
    while (Date.now() < endAt) {
      await sleep(Math.min(5000, Math.max(0, endAt - Date.now())));
      log(o, `emits ${model.stats.emits}, drops ${model.stats.drops}, recovered ${model.stats.recovered}, not recovered ${model.stats.notRecovered}, resumes ${model.stats.resumes}`);
    }
    running = false;
    await Promise.all(work);
    await Promise.all(actors);
    log(o, 'schedule over; settling');

    // Settle: every socket connected, every named-topic subscriber live, then wait for what is due.
    await Promise.all(sockets.map((s) => s.ensureConnected()));
    await Promise.all(subscribers.map((s) => (s.pattern ? true : s.ensureOpen())));
    const settleEnd = Date.now() + o.settleSeconds * 1000;
    let began = Date.now();
    let result = runChecks(model);
    while (result.pending > 0 && Date.now() < settleEnd) {
      // Checking takes a while on a long run: leave the clients at least as much time to work.
      await sleep(Math.max(250, 2 * (Date.now() - began)));
      began = Date.now();
      result = runChecks(model);
    }
    log(o, `settled with ${result.pending} due event(s) missing`);
    for (const s of sockets) s.close();
    for (const s of subscribers) s.close();
    if (o.dump) dumpModel(o.dump, model);
    return { tally: result.tally, model, target };
  } finally {
    process.removeListener('SIGINT', stopSignal);
    await target.stop();
  }
}

/** Writes the model as JSON, for looking into a failing seed. */
function dumpModel(file, model) {
  const events = [...model.events.values()].map((ev) => ({
    ...ev,
    positions: Object.fromEntries(ev.positions),
  }));
  const receivers = model.receivers.map((r) => ({
    ...r,
    rooms: r.rooms ? Object.fromEntries(r.rooms.steps) : undefined,
    start: r.start ? Object.fromEntries(r.start) : undefined,
    last: r.last ? Object.fromEntries(r.last) : undefined,
    received: r.received.map((x) => ({
      id: x.ev.id,
      at: x.at,
      offset: x.offset ? `${x.offset.epoch}:${x.offset.seq}` : null,
      positions: x.positions ? Object.fromEntries(x.positions) : undefined,
    })),
  }));
  require('node:fs').writeFileSync(file, JSON.stringify({ seed: model.seed, tag: model.tag, stats: model.stats, events, receivers }, null, 1));
}

async function waitConnected(actor) {
  const deadline = Date.now() + 60000;
  while (!actor.socket.connected && !actor.broken && Date.now() < deadline) await sleep(25);
}

function report(o, seed, { tally, model }) {
  const { passed, failed } = tally.totals();
  const st = model.stats;
  console.log(
    `checker: seed ${seed}: ${model.events.size} events (${st.emitErrors} Emit errors), ${model.receivers.length} receivers, ` +
      `${st.drops} drops (${st.recovered} recovered, ${st.notRecovered} not), ${st.resumes} Subscribe resumes, ` +
      `${st.notRecoveredTopics} NotRecovered, ${st.kicks} server disconnects, ${st.slowReads} slow reads, ${st.joins} joins, ${st.leaves} leaves`,
  );
  // At most --max-print lines of each kind, so that a rare kind is not hidden by a frequent one.
  const printed = new Map();
  let hidden = 0;
  for (const v of tally.violations) {
    const n = printed.get(v.kind) || 0;
    if (n >= o.maxPrint) {
      hidden += 1;
      continue;
    }
    printed.set(v.kind, n + 1);
    console.log(`VIOLATION seed=${seed} ${v.kind} ${v.receiver}${v.topic ? ` topic=${v.topic}` : ''}: ${v.text}`);
  }
  if (hidden) console.log(`... and ${hidden} more violation(s) (--max-print N shows N of each kind)`);
  for (const e of model.errors) console.log(`ERROR seed=${seed}: ${e}`);
  const parts = [...tally.counts.entries()].map(([k, c]) => `${k} ${c.passed}/${c.passed + c.failed}`);
  console.log(`checker: seed ${seed}: ${passed} passed, ${failed} failed (${parts.join(', ')}; ${tally.excused} excused by a notice)`);
  return failed === 0 && model.errors.length === 0;
}

async function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`checker: ${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (o.help) {
    console.log(o.help);
    return;
  }
  console.log(`checker: seed ${o.seed}${o.runs > 1 ? ` (runs ${o.runs}: seeds ${o.seed}..${o.seed + o.runs - 1})` : ''}`);
  const failedSeeds = [];
  let totalPassed = 0;
  let totalFailed = 0;
  for (let i = 0; i < o.runs; i += 1) {
    const seed = o.seed + i;
    let outcome;
    try {
      outcome = await runSeed(o, seed);
    } catch (err) {
      console.error(`checker: seed ${seed}: could not run: ${err.stack || err.message}`);
      process.exit(2);
    }
    const ok = report(o, seed, outcome);
    const { passed, failed } = outcome.tally.totals();
    totalPassed += passed;
    totalFailed += failed + outcome.model.errors.length;
    if (!ok) {
      failedSeeds.push(seed);
      if (outcome.target.own) console.log(`--- Herald stderr (tail) ---\n${outcome.target.stderr().slice(-4000)}\n--- end ---`);
    }
  }
  console.log(`checker: ${totalPassed} passed, ${totalFailed} failed${failedSeeds.length ? ` (failing seeds: ${failedSeeds.join(', ')}; rerun one with --seed N)` : ''}`);
  process.exit(failedSeeds.length ? 1 : 0);
}

main();
