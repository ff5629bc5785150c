// Per-topic order under concurrent Emits: many backend calls to one room at once reach a socket
// (its Socket.IO offsets) and a Subscribe stream (the room's positions) in offset order.
'use strict';

const assert = require('node:assert/strict');
const { heraldTest, connect, makeToken, grpcClient, jsonArg, GUARD_MS } = require('./lib/herald');

const CALLERS = 8;
const PER_CALLER = 250;
/** Calls each caller keeps in flight. */
const IN_FLIGHT = 4;
const TOTAL = CALLERS * PER_CALLER;
const ROOM = 'busy';

const config = {
  connectionStateRecovery: true,
  namespaces: [
    { name: '/', anonymous: false, recovery_max_events: TOTAL * 2 },
    { name: '/anon', anonymous: true },
  ],
};

/** The sequence of a Socket.IO offset "{epoch}:{seq}". */
function seqOf(offset) {
  assert.equal(typeof offset, 'string', 'a recoverable event ends with its offset');
  return Number(offset.slice(offset.lastIndexOf(':') + 1));
}

/** The first place where `values` does not strictly increase, as a message, or null. */
function firstInversion(values) {
  for (let i = 1; i < values.length; i += 1) {
    if (values[i] <= values[i - 1]) {
      return `${values[i]} after ${values[i - 1]} (arrival ${i}; around it: ${values.slice(Math.max(0, i - 3), i + 3).join(', ')})`;
    }
  }
  return null;
}

heraldTest(`${CALLERS} concurrent callers: every recipient sees the room in offset order`, { config, timeout: 120000 }, async (t, h) => {
  const socket = await connect(h, '/', { token: makeToken(h.config, { sub: 'alice', rooms: [ROOM] }) });
  assert.deepEqual(await socket.timeout(GUARD_MS).emitWithAck('join', ROOM), { ok: true });
  const sub = grpcClient(h).subscribe({ topics: [`room:${ROOM}`] });
  await sub.ready();

  // Each caller has its own channel and several calls in flight, so that calls really run side by side.
  const callers = Array.from({ length: CALLERS }, () => grpcClient(h));
  await Promise.all(
    callers.map(async (grpc, c) => {
      for (let i = 0; i < PER_CALLER; i += IN_FLIGHT) {
        const batch = [];
        for (let j = i; j < Math.min(i + IN_FLIGHT, PER_CALLER); j += 1) {
          batch.push(grpc.emit({ targets: [`room:${ROOM}`], event: 'ev', args: [jsonArg({ c, i: j })] }));
        }
        await Promise.all(batch);
      }
    }),
  );

  await socket.inbox.wait('ev', TOTAL, GUARD_MS * 6);
  await sub.waitEvents((evs) => evs.length >= TOTAL, `${TOTAL} events`);

  const socketSeqs = socket.inbox.all('ev').map((args) => seqOf(args[1]));
  assert.equal(firstInversion(socketSeqs), null, 'Socket.IO offsets grow at the socket');
  const positions = sub.events.map((e) => {
    const p = e.positions.find((x) => x.topic === `room:${ROOM}`);
    assert.ok(p, 'each event has a position in the room');
    return Number(p.offset);
  });
  assert.equal(firstInversion(positions), null, 'room positions grow on the Subscribe stream');
  assert.deepEqual(positions, Array.from({ length: TOTAL }, (_, i) => positions[0] + i), 'no gap');
});
