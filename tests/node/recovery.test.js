// Socket.IO connection-state recovery with an unmodified socket.io-client (reconnection on, nothing
// else): a client whose transport drops and that comes back within the window, to the same or
// another edge, gets `socket.recovered === true`, its id, its rooms and every missed event once and
// in order; after the window, or with a forged / foreign / malformed pid or offset, a fresh session.
'use strict';

const assert = require('node:assert/strict');
const net = require('node:net');
const {
  heraldTest,
  openSocket,
  whenConnected,
  rawEngine,
  makeToken,
  grpcClient,
  jsonArg,
  once,
  GUARD_MS,
} = require('./lib/herald');
const { clusterTest } = require('./lib/cluster');

const MISSED = 500;
const ROOMS = ['r1', 'r2'];

function config(nsExtra = {}) {
  return {
    connectionStateRecovery: true,
    namespaces: [
      { name: '/', anonymous: false, ...nsExtra },
      { name: '/anon', anonymous: true },
    ],
  };
}

function token(h, sub, rooms = ROOMS) {
  return makeToken(h.config, { sub, rooms });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A local URL where nothing listens (a port bound, then released): reconnection attempts fail. */
async function deadUrl() {
  const srv = net.createServer();
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return `http://127.0.0.1:${port}`;
}

/** A socket that reconnects by itself (quickly), connected and in `rooms`. */
async function recoverableSocket(h, sub, { rooms = ROOMS, tokenRooms = ROOMS } = {}) {
  const s = openSocket(h, '/', {
    token: token(h, sub, tokenRooms),
    reconnection: true,
    reconnectionDelay: 50,
    reconnectionDelayMax: 100,
    randomizationFactor: 0,
  });
  await whenConnected(s);
  assert.equal(typeof s._pid, 'string', 'the CONNECT reply carries a pid');
  for (const room of rooms) {
    assert.deepEqual(await s.timeout(GUARD_MS).emitWithAck('join', room), { ok: true });
  }
  // One recoverable event, so that the client has an offset to come back with.
  await grpcClient(h).emit({ targets: [`user:${sub}`], event: 'warmup', args: [jsonArg('w')] });
  const [args] = await s.inbox.wait('warmup');
  assert.equal(args[0], 'w');
  assert.equal(typeof args[1], 'string', 'a recoverable event ends with its offset');
  assert.equal(s._lastOffset, args[1]);
  return s;
}

/** Polls Presence until the core no longer counts `user` online (hang-guarded). */
async function untilOffline(h, user) {
  const grpc = grpcClient(h);
  const deadline = Date.now() + GUARD_MS;
  for (;;) {
    const r = await grpc.presence({ user_ids: [user] });
    if (!r.users.some((u) => u.online)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${user} to be offline`);
    await sleep(20);
  }
}

/**
 * Drops the client's transport (a websocket closed under it: "transport close", recoverable) and
 * keeps it away (its reconnection attempts go to a dead port) until `comeBack`.
 */
async function dropAway(h, socket, user) {
  const before = socket.inbox.disconnects.length;
  socket.io.uri = await deadUrl();
  socket.io.engine.close();
  await socket.inbox.until(() => socket.inbox.disconnects.length > before, 'the disconnect');
  await untilOffline(h, user);
}

/** Lets the client's next reconnection attempt reach `url`; resolves once it is connected. */
async function comeBack(socket, url) {
  const connected = once(socket, 'connect', 'the reconnection');
  socket.io.uri = url;
  await connected;
}

/** The target of the i-th missed event: the user, then each room in turn. */
function targetOf(user, i) {
  const all = [`user:${user}`, ...ROOMS.map((r) => `room:${r}`)];
  return all[i % all.length];
}

/** Emits `n` events named `ev` ({ i }) one after the other, each awaited. */
async function emitMissed(h, user, n, targetFor = (i) => targetOf(user, i)) {
  const grpc = grpcClient(h);
  const sent = [];
  for (let i = 0; i < n; i += 1) {
    const target = targetFor(i);
    await grpc.emit({ targets: [target], event: 'ev', args: [jsonArg({ i, target })] });
    sent.push({ i, target });
  }
  return sent;
}

/** Emits a marker to `target` and waits for it: everything emitted before has arrived. */
async function marker(h, socket, target, name) {
  await grpcClient(h).emit({ targets: [target], event: name, args: [jsonArg(name)] });
  await socket.inbox.wait(name);
}

/** The `ev` payloads received (trailing offset checked and stripped), in order. */
function received(socket) {
  let lastSeq = -1;
  return socket.inbox.all('ev').map((args) => {
    assert.equal(args.length, 2, `payload + offset, got ${JSON.stringify(args)}`);
    const offset = args[1];
    assert.equal(typeof offset, 'string');
    const seq = Number(offset.slice(offset.lastIndexOf(':') + 1));
    assert.ok(seq > lastSeq, `offsets grow: ${offset} after seq ${lastSeq}`);
    lastSeq = seq;
    return args[0];
  });
}

/** The whole story: drop, miss `MISSED` events, come back to `back` (a view of an edge). */
async function missAndRecover(h, back) {
  const s = await recoverableSocket(h, 'alice');
  const id = s.id;
  const pid = s._pid;
  await dropAway(h, s, 'alice');
  assert.notEqual(s.inbox.disconnects.at(-1), 'io server disconnect', 'a dropped transport, not a kick');
  const sent = await emitMissed(h, 'alice', MISSED);
  await comeBack(s, back.edgeUrl);

  assert.equal(s.recovered, true, 'socket.recovered');
  assert.equal(s.id, id, 'the same socket id');
  assert.equal(s._pid, pid, 'the same pid');
  await s.inbox.wait('ev', MISSED, GUARD_MS * 2);
  // Still in both rooms: a later emit to each arrives (after which nothing else may trail).
  await marker(back, s, 'room:r1', 'after-r1');
  await marker(back, s, 'room:r2', 'after-r2');
  assert.deepEqual(received(s), sent, 'every missed event once, in order');
  assert.deepEqual(s.inbox.all('warmup').length, 1, 'nothing from before the drop is replayed');
  return s;
}

heraldTest('a dropped client comes back with its id, rooms and every missed event', { config: config() }, async (t, h) => {
  await missAndRecover(h, h);
});

heraldTest('a client away longer than the recovery window gets a fresh session', { config: config({ recovery_window_secs: 1 }) }, async (t, h) => {
  const s = await recoverableSocket(h, 'alice');
  const id = s.id;
  await dropAway(h, s, 'alice');
  await emitMissed(h, 'alice', 10);
  // A precondition, not an assertion: stay away well beyond the 1 s window.
  await sleep(3500);
  await comeBack(s, h.edgeUrl);

  assert.equal(s.recovered, false, 'socket.recovered');
  assert.notEqual(s.id, id, 'a new socket id');
  await marker(h, s, 'user:alice', 'fresh-marker');
  assert.deepEqual(s.inbox.all('ev'), [], 'no replay into a fresh session');
  // A fresh session is not in the old rooms.
  await grpcClient(h).emit({ targets: ['room:r1'], event: 'old-room', args: [] });
  await marker(h, s, 'user:alice', 'fresh-marker-2');
  assert.deepEqual(s.inbox.all('old-room'), []);
});

heraldTest('a room the user was removed from while away is not restored', { config: config() }, async (t, h) => {
  const grpc = grpcClient(h);
  const s = await recoverableSocket(h, 'alice');
  await dropAway(h, s, 'alice');
  const left = await grpc.leave({ user_id: 'alice', rooms: ['r2'] });
  assert.equal(left.connections, 0, 'alice has no live connection');
  const sent = await emitMissed(h, 'alice', 30);
  await comeBack(s, h.edgeUrl);

  assert.equal(s.recovered, true);
  await grpc.emit({ targets: ['room:r2'], event: 'r2-later', args: [] });
  await marker(h, s, 'room:r1', 'after-r1');
  assert.deepEqual(
    received(s),
    sent.filter((e) => e.target !== 'room:r2'),
    'user and r1 events replayed, none of r2',
  );
  assert.deepEqual(s.inbox.all('r2-later'), [], 'no longer in r2');
});

heraldTest('a room the new token no longer allows is not restored', { config: config() }, async (t, h) => {
  const s = await recoverableSocket(h, 'alice');
  await dropAway(h, s, 'alice');
  const sent = await emitMissed(h, 'alice', 30);
  s.auth = { token: token(h, 'alice', ['r1']) };
  await comeBack(s, h.edgeUrl);

  assert.equal(s.recovered, true);
  await grpcClient(h).emit({ targets: ['room:r2'], event: 'r2-later', args: [] });
  await marker(h, s, 'room:r1', 'after-r1');
  assert.deepEqual(received(s), sent.filter((e) => e.target !== 'room:r2'));
  assert.deepEqual(s.inbox.all('r2-later'), []);
});

heraldTest('forged, foreign and malformed pids or offsets get a fresh session', { config: config() }, async (t, h) => {
  const alice = await recoverableSocket(h, 'alice');
  const alicePid = alice._pid;
  const aliceOffset = alice._lastOffset;
  const aliceId = alice.id;
  await dropAway(h, alice, 'alice');

  // Bob presents alice's pid and offset: never alice's session.
  const bob = openSocket(h, '/', { token: token(h, 'bob'), autoConnect: false });
  bob._pid = alicePid;
  bob._lastOffset = aliceOffset;
  bob.connect();
  await whenConnected(bob);
  assert.equal(bob.recovered, false);
  assert.notEqual(bob.id, aliceId);
  assert.notEqual(bob._pid, alicePid);
  await grpcClient(h).emit({ targets: ['user:alice', 'room:r1'], event: 'for-alice', args: [] });
  await marker(h, bob, 'user:bob', 'bob-marker');
  assert.deepEqual(bob.inbox.all('for-alice'), [], "none of alice's events or rooms");

  // A made-up pid with the real client.
  const forged = openSocket(h, '/', { token: token(h, 'carol'), autoConnect: false });
  forged._pid = 'AAAAAAAAAAAAAAAAAAAAAA';
  forged._lastOffset = aliceOffset;
  forged.connect();
  await whenConnected(forged);
  assert.equal(forged.recovered, false);
  assert.notEqual(forged._pid, 'AAAAAAAAAAAAAAAAAAAAAA');

  // Raw CONNECT payloads: a pid or offset of the wrong type, too long, or malformed.
  const tok = token(h, 'alice');
  const bad = [
    { pid: 5, offset: aliceOffset },
    { pid: { id: alicePid }, offset: aliceOffset },
    { pid: [alicePid], offset: aliceOffset },
    { pid: alicePid, offset: 12 },
    { pid: alicePid, offset: 'garbage' },
    { pid: alicePid, offset: null },
    { pid: 'x'.repeat(5000), offset: aliceOffset },
    { pid: alicePid, offset: `${'9'.repeat(300)}:1` },
    { pid: '', offset: '' },
  ];
  const ids = new Set([aliceId]);
  for (const extra of bad) {
    const raw = await rawEngine(h);
    const reply = await raw.connectNamespace('/', { token: tok, ...extra });
    const body = JSON.parse(reply.slice(2));
    assert.ok(!ids.has(body.sid), `${JSON.stringify(extra).slice(0, 80)}: a fresh socket id`);
    ids.add(body.sid);
    assert.equal(typeof body.pid, 'string');
    assert.notEqual(body.pid, alicePid);
    raw.ws.terminate();
  }
  h.assertAlive('after the bad recovery attempts');
  // The server keeps serving normal clients.
  const fine = openSocket(h, '/', { token: token(h, 'dave') });
  await whenConnected(fine);
  await marker(h, fine, 'user:dave', 'still-serving');
});

clusterTest('a dropped client recovers on another edge of the same core', { config: config() }, async (c) => {
  await missAndRecover(c.edge(0), c.edge(1));
});

clusterTest('an edge shutting down leaves sessions another edge restores', { config: config() }, async (c) => {
  const a = c.edge(0);
  const b = c.edge(1);
  const s = await recoverableSocket(a, 'alice');
  const id = s.id;
  // Edge A stops: the client is told why and its transport closes ("transport close"), so it
  // reconnects by itself; kept away meanwhile, then let through to edge B (the load balancer's pick).
  s.io.uri = await deadUrl();
  await a.edges[0].stop();
  const reason = await s.inbox.disconnected();
  assert.equal(reason, 'transport close');
  assert.equal(s.inbox.all('herald:disconnect')[0][0].reason, 'server shutting down');
  await untilOffline(a, 'alice');
  const sent = await emitMissed(a, 'alice', 60);
  await comeBack(s, b.edgeUrl);

  assert.equal(s.recovered, true, 'server shutting down keeps the session');
  assert.equal(s.id, id);
  await s.inbox.wait('ev', sent.length);
  await marker(b, s, 'room:r2', 'after-r2');
  assert.deepEqual(received(s), sent);
});

heraldTest('a room the backend joined survives recovery though the token does not list it', { config: config() }, async (t, h) => {
  const grpc = grpcClient(h);
  const s = await recoverableSocket(h, 'alice');
  // The backend puts this connection in a room its token's rooms claim does not name.
  assert.equal((await grpc.join({ connection_id: s.id, rooms: ['session:xyz'] })).connections, 1);
  await marker(h, s, 'room:session:xyz', 'joined');
  // And the whole user in another (joined by user id).
  assert.equal((await grpc.join({ user_id: 'alice', rooms: ['session:abc'] })).connections, 1);
  await marker(h, s, 'room:session:abc', 'joined-abc');

  await dropAway(h, s, 'alice');
  const missed = await emitMissed(h, 'alice', 6, (i) => (i % 2 ? 'room:session:xyz' : 'room:session:abc'));
  await comeBack(s, h.edgeUrl);

  assert.equal(s.recovered, true, 'socket.recovered');
  await s.inbox.wait('ev', missed.length);
  // Still in both rooms after recovery.
  await marker(h, s, 'room:session:xyz', 'later-xyz');
  await marker(h, s, 'room:session:abc', 'later-abc');
  assert.deepEqual(received(s), missed, 'the missed events of the server-joined rooms, once, in order');
});

heraldTest('a backend-joined room the backend left while the user was away is not restored', { config: config() }, async (t, h) => {
  const grpc = grpcClient(h);
  const s = await recoverableSocket(h, 'alice');
  await grpc.join({ connection_id: s.id, rooms: ['session:xyz'] });
  await marker(h, s, 'room:session:xyz', 'joined');
  await dropAway(h, s, 'alice');
  await grpc.leave({ user_id: 'alice', rooms: ['session:xyz'] });
  await grpc.emit({ targets: ['room:session:xyz'], event: 'gone', args: [jsonArg(1)] });
  await comeBack(s, h.edgeUrl);

  assert.equal(s.recovered, true);
  await grpc.emit({ targets: ['room:session:xyz'], event: 'gone', args: [jsonArg(2)] });
  await marker(h, s, 'user:alice', 'after');
  assert.deepEqual(s.inbox.all('gone'), [], 'not in the room any more');
});
