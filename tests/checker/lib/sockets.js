// Socket.IO clients: stock socket.io-client connections (reconnection on, connection-state recovery
// as the server offers it) driven by a seeded schedule: room joins and leaves by the client and by
// the backend (Join/Leave RPC, also for rooms the token does not list), transport drops with or
// without time away, reconnects through another edge, and paused (slow) readers.
// Each Socket.IO session (one socket id) is a receiver of the model.
'use strict';

const path = require('node:path');

const { makeToken } = require(path.join(__dirname, '..', '..', 'node', 'lib', 'tokens'));
const { nodeRequire } = require('./target');
const { tick, sleep } = require('./clock');
const { Membership, parseOffset } = require('./model');
const { Rng } = require('./rng');

const { io } = nodeRequire('socket.io-client');

const ACK_MS = 30000;
const RECONNECT_MS = 60000;

/** Resolves once `predicate()` holds (checked every 25 ms); false after `ms`. */
async function until(predicate, ms) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) return false;
    await sleep(25);
  }
  return true;
}

class SocketActor {
  /** `world`: { model, names, edges, cores, namespace, tokenConfig, roomsClaim, deadUrl, runSeconds }. */
  constructor(index, seed, world) {
    this.index = index;
    this.world = world;
    this.rng = new Rng(seed, `socket/${index}`);
    this.user = world.names.users[index % world.names.users.length];
    this.edgeIndex = index % world.edges.length;
    this.core = world.cores[index % world.cores.length];
    this.transports = this.rng.chance(0.25) ? ['polling', 'websocket'] : ['websocket'];
    this.session = null;
    this.sessions = 0;
    this.awaitingConnect = true;
    this.dropAt = null;
    this.lastConnectError = '';
    this.broken = false;
    this.roomOpInFlight = null;
    this.lastOffsetAt = null;
    const token = makeToken(world.tokenConfig, {
      sub: this.user,
      [world.roomsClaim]: world.names.claimRooms,
      exp: Math.floor(Date.now() / 1000) + Math.ceil(world.runSeconds) + 6 * 3600,
    });
    this.socket = io(`${world.edges[this.edgeIndex]}${world.namespace === '/' ? '' : world.namespace}`, {
      forceNew: true,
      transports: this.transports,
      auth: { token },
      reconnection: true,
      reconnectionDelay: 100,
      reconnectionDelayMax: 1000,
      timeout: 30000,
      autoConnect: false,
    });
    const s = this.socket;
    s.onAny((name, ...args) => this.onEvent(name, args));
    s.on('connect', () => this.sync());
    s.on('disconnect', (reason) => this.onDisconnect(reason));
    s.on('connect_error', (err) => {
      this.lastConnectError = err && err.message ? err.message : String(err);
    });
  }

  get model() {
    return this.world.model;
  }

  /** Notices a completed (re)connection: the same session recovered, or a new one. */
  sync() {
    const s = this.socket;
    if (!this.awaitingConnect || !s.connected) return;
    this.awaitingConnect = false;
    const at = tick();
    const cur = this.session;
    const edge = this.world.edges[this.edgeIndex];
    if (cur && s.recovered) {
      cur.recoveries.push({ dropAt: this.dropAt, backAt: at, recovered: true, edge, newId: s.id });
      this.model.stats.recovered += 1;
      return;
    }
    if (cur) {
      cur.endedAt = at;
      if (!cur.told) cur.told = { at, why: 'reconnected with socket.recovered === false' };
      cur.recoveries.push({ dropAt: this.dropAt, backAt: at, recovered: false, edge, newId: s.id });
      this.model.stats.notRecovered += 1;
    }
    this.sessions += 1;
    const previous = cur;
    this.session = this.model.addReceiver({
      kind: 'socket',
      name: `socket ${this.index}.${this.sessions} (user ${this.user}, id ${s.id})`,
      user: this.user,
      id: s.id,
      registeredAt: at,
      endedAt: null,
      closedAt: null,
      told: null,
      received: [],
      recoveries: [],
      disconnects: [],
      rooms: new Membership(),
    });
    // A join or leave sent before this connect may be applied to the new session (the client
    // buffers packets while disconnected): that room is in doubt here too.
    if (previous && this.roomOpInFlight) this.session.rooms.set(this.roomOpInFlight, 'maybe', at);
  }

  onEvent(name, args) {
    this.sync();
    const cur = this.session;
    if (!cur) return;
    if (name === 'herald:disconnect') {
      if (!cur.told) cur.told = { at: tick(), why: `herald:disconnect ${JSON.stringify(args[0])}` };
      this.model.stats.kicks += 1;
      return;
    }
    if (name !== 'ck') return;
    const ev = this.model.eventOf(args[0]);
    if (!ev) return;
    const last = args[args.length - 1];
    const rawOffset = args.length >= 2 && typeof last === 'string' ? last : null;
    const offset = parseOffset(rawOffset);
    cur.received.push({ ev, at: tick(), offset, rawOffset });
    if (offset) {
      this.model.learnOffset(ev, offset, cur);
      this.lastOffsetAt = tick();
    }
  }

  onDisconnect(reason) {
    const at = tick();
    this.awaitingConnect = true;
    this.dropAt = at;
    const cur = this.session;
    if (!cur) return;
    cur.disconnects.push({ at, reason });
    if (reason === 'io server disconnect' && !cur.told) cur.told = { at, why: 'io server disconnect' };
  }

  /** Connects (or waits for the client's own reconnection); false if it did not happen in time. */
  async ensureConnected() {
    const s = this.socket;
    if (s.connected) return true;
    if (!s.active) s.connect();
    const ok = await until(() => s.connected, RECONNECT_MS);
    if (!ok && !this.broken) {
      this.broken = true;
      this.model.error(
        `socket ${this.index} (user ${this.user}): not connected within ${RECONNECT_MS / 1000} s ` +
          `(last connect_error: ${this.lastConnectError || 'none'})`,
      );
    }
    return ok;
  }

  nextEdge() {
    this.edgeIndex = (this.edgeIndex + 1) % this.world.edges.length;
    return this.world.edges[this.edgeIndex];
  }

  /** Closes the transport under the client; it comes back by itself through another edge. */
  async drop(awayMs) {
    const s = this.socket;
    this.model.stats.drops += 1;
    const before = this.session;
    const next = this.nextEdge();
    s.io.uri = awayMs > 0 ? this.world.deadUrl : next;
    if (s.io.engine) s.io.engine.close();
    if (awayMs > 0) {
      await sleep(awayMs);
      s.io.uri = next;
    }
    await this.ensureConnected();
    return before;
  }

  /** A reader that stops reading for a while (its TCP socket paused). */
  async slowRead(ms) {
    const transport = this.socket.io.engine && this.socket.io.engine.transport;
    const raw = transport && transport.ws && transport.ws._socket;
    if (!raw || typeof raw.pause !== 'function') {
      await sleep(ms);
      return;
    }
    this.model.stats.slowReads += 1;
    raw.pause();
    await sleep(ms);
    raw.resume();
  }

  /** A client join/leave (`join` / `leave` events, allowed by the token's rooms claim). */
  async clientRoom(op, room) {
    const cur = this.session;
    const topic = `room:${room}`;
    cur.rooms.set(topic, 'maybe');
    this.roomOpInFlight = topic;
    let res = null;
    try {
      res = await this.socket.timeout(ACK_MS).emitWithAck(op, room);
    } catch {
      res = null;
    }
    this.roomOpInFlight = null;
    if (res && res.ok === true && this.session === cur) cur.rooms.set(topic, op === 'join' ? 'in' : 'out');
    this.model.stats[op === 'join' ? 'joins' : 'leaves'] += 1;
  }

  /** A backend Join/Leave RPC for this connection (any room, also ones the token does not list). */
  async serverRoom(method, room) {
    const cur = this.session;
    const topic = `room:${room}`;
    cur.rooms.set(topic, 'maybe');
    let res = null;
    try {
      res = await this.core.call(method, { namespace: this.world.namespace, connection_id: cur.id, rooms: [room] });
    } catch {
      res = null;
    }
    if (res && res.connections === 1 && this.session === cur) cur.rooms.set(topic, method === 'Join' ? 'in' : 'out');
    this.model.stats[method === 'Join' ? 'joins' : 'leaves'] += 1;
  }

  async run(running) {
    const { rng } = this;
    const n = this.world.names;
    this.socket.connect();
    if (!(await this.ensureConnected())) return;
    // Act once the emitters run and the client has an offset to come back with after a drop.
    await this.world.emitting;
    await until(() => this.lastOffsetAt !== null, 10000);
    while (running()) {
      if (!(await this.ensureConnected())) return;
      const action = rng.weighted({ idle: 24, join: 14, leave: 6, serverJoin: 14, serverLeave: 6, drop: 10, dropAway: 6, slow: 6 });
      const claimRoom = rng.pick(n.claimRooms);
      const anyRoom = rng.chance(0.75) ? rng.pick(n.serverRooms) : claimRoom;
      const ms = rng.int(100, 2500);
      switch (action) {
        case 'join':
          await this.clientRoom('join', claimRoom);
          break;
        case 'leave':
          await this.clientRoom('leave', claimRoom);
          break;
        case 'serverJoin':
          await this.serverRoom('Join', anyRoom);
          break;
        case 'serverLeave':
          await this.serverRoom('Leave', anyRoom);
          break;
        case 'drop':
          await this.drop(0);
          break;
        case 'dropAway':
          await this.drop(ms);
          break;
        case 'slow':
          await this.slowRead(ms);
          break;
        default:
          break;
      }
      await sleep(rng.int(100, 1200));
    }
  }

  /** Ends the socket (after the run). */
  close() {
    if (this.session) this.session.closedAt = tick();
    this.socket.disconnect();
  }
}

module.exports = { SocketActor, until };
