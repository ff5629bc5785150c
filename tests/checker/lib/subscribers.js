// Direct subscribers on the gRPC `Subscribe` stream. Most follow named topics and, after each drop
// (a cancelled stream, or one the core ended), subscribe again on another core from the positions
// they last received (`since`), so that together their streams must be gapless or say
// NotRecovered; the others follow a pattern (`room:{tag}-*`), one receiver per stream.
// Slow readers pause the stream for a while.
'use strict';

const { tick, sleep } = require('./clock');
const { parseOffset } = require('./model');
const { Rng } = require('./rng');
const { until } = require('./sockets');

const SUBSCRIBED_MS = 60000;

function positionsOf(event) {
  const m = new Map();
  for (const p of event.positions || []) m.set(p.topic, { offset: Number(p.offset), epoch: p.epoch });
  return m;
}

class Subscriber {
  /** `world`: { model, names, cores, namespace }. */
  constructor(index, seed, world) {
    this.index = index;
    this.world = world;
    this.rng = new Rng(seed, `subscriber/${index}`);
    this.coreIndex = index - 1; // ensureOpen moves to the next core before each stream
    this.pattern = index % 4 === 3;
    const n = world.names;
    if (this.pattern) {
      this.topics = [this.rng.chance(0.5) ? `room:${n.tag}-*` : `user:${n.tag}-*`];
    } else {
      const pool = [...n.claimRooms.map((r) => `room:${r}`), ...n.serverRooms.map((r) => `room:${r}`), ...n.users.map((u) => `user:${u}`), '*'];
      const count = this.rng.int(1, 3);
      // The first one also follows `*`, which brings it every event of the namespace.
      const topics = new Set(index === 0 ? ['*'] : []);
      while (topics.size < count + (index === 0 ? 1 : 0)) topics.add(this.rng.pick(pool));
      this.topics = [...topics];
    }
    this.stream = null;
    this.receiver = null;
    this.streams = 0;
    this.broken = false;
  }

  get model() {
    return this.world.model;
  }

  core() {
    const n = this.world.cores.length;
    return this.world.cores[((this.coreIndex % n) + n) % n];
  }

  newReceiver() {
    this.streams += 1;
    return this.model.addReceiver({
      kind: this.pattern ? 'pattern' : 'subscribe',
      name: `subscriber ${this.index}${this.pattern ? `.${this.streams}` : ''} (${this.topics.join(', ')})`,
      topics: this.topics,
      registeredAt: null,
      told: null,
      received: [],
      start: new Map(), // topic -> { offset, epoch } the first stream started after
      last: new Map(), // topic -> { offset, epoch } newest received (resume point)
      notRecovered: [],
      resumes: 0,
      streamErrors: [],
    });
  }

  /** Where each named topic stands now (History's `latest`): the first stream starts after it. */
  async startPositions() {
    const r = this.receiver;
    for (const topic of this.topics) {
      const res = await this.core().call('History', { namespace: this.world.namespace, topic, limit: 1, reverse: true });
      const latest = res.latest || { offset: '0', epoch: '' };
      const p = { offset: Number(latest.offset), epoch: latest.epoch };
      r.start.set(topic, p);
      r.last.set(topic, p);
    }
  }

  /** Opens a stream (from the resume points for named topics); resolves once it is live. */
  async open() {
    if (this.pattern || !this.receiver) this.receiver = this.newReceiver();
    const r = this.receiver;
    if (!this.pattern && r.start.size === 0) await this.startPositions();
    const since = this.pattern ? [] : this.topics.map((topic) => ({ topic, ...r.last.get(topic) }));
    if (this.streams > 1 || r.registeredAt !== null) r.resumes += 1;
    const stream = this.core().subscribe({ namespace: this.world.namespace, topics: this.topics, since });
    this.stream = stream;
    let live = false;
    stream.on('data', (item) => {
      if (this.stream !== stream) return;
      if (item.item === 'subscribed') {
        live = true;
        if (r.registeredAt === null) r.registeredAt = tick();
      } else if (item.item === 'not_recovered') {
        const nr = item.not_recovered;
        const current = { offset: Number(nr.current ? nr.current.offset : 0), epoch: nr.current ? nr.current.epoch : '' };
        r.notRecovered.push({ topic: nr.topic, reason: nr.reason, current, at: tick() });
        this.model.stats.notRecoveredTopics += 1;
        if (!this.pattern) r.last.set(nr.topic, current);
      } else if (item.item === 'event') {
        this.onEvent(r, item.event);
      }
    });
    const ended = (why) => {
      if (this.stream !== stream) return;
      this.stream = null;
      r.streamErrors.push({ at: tick(), why });
      if (this.pattern && !r.told) r.told = { at: tick(), why: `stream ended: ${why}` };
    };
    stream.on('error', (err) => ended(`${err.code}: ${err.details || err.message}`));
    stream.on('end', () => ended('end'));
    await until(() => live || this.stream !== stream, SUBSCRIBED_MS);
    return live;
  }

  onEvent(r, event) {
    if (event.name !== 'ck' || !event.args || !event.args[0] || event.args[0].value !== 'json') return;
    let payload;
    try {
      payload = JSON.parse(event.args[0].json);
    } catch {
      return;
    }
    const ev = this.model.eventOf(payload);
    if (!ev) return;
    const positions = positionsOf(event);
    const offset = parseOffset(event.offset);
    r.received.push({ ev, at: tick(), positions, offset });
    if (offset) this.model.learnOffset(ev, offset, r);
    if (this.pattern) return;
    for (const topic of this.topics) {
      const p = positions.get(topic);
      const last = r.last.get(topic);
      if (p && (!last || last.epoch !== p.epoch || p.offset > last.offset)) r.last.set(topic, p);
    }
  }

  /** Cancels the stream (no item after this point counts). */
  cancel() {
    const stream = this.stream;
    this.stream = null;
    if (!stream) return;
    // A pattern stream has no resume point: its receiver ends here, knowingly.
    if (this.pattern && this.receiver && !this.receiver.told) {
      this.receiver.told = { at: tick(), why: 'stream cancelled by the subscriber' };
    }
    stream.cancel();
  }

  /** Opens a stream if there is none, on the next core, trying again until one is live. */
  async ensureOpen() {
    const deadline = Date.now() + SUBSCRIBED_MS;
    let why = 'no Subscribed item';
    while (!this.stream) {
      this.coreIndex += 1;
      try {
        if (await this.open()) return true;
      } catch (err) {
        why = err.message;
      }
      this.cancel();
      if (Date.now() > deadline) {
        if (!this.broken) this.model.error(`subscriber ${this.index}: could not subscribe within ${SUBSCRIBED_MS / 1000} s: ${why}`);
        this.broken = true;
        return false;
      }
      await sleep(200);
    }
    return true;
  }

  async run(running) {
    const { rng } = this;
    if (!(await this.ensureOpen())) return;
    while (running()) {
      if (!(await this.ensureOpen())) return;
      const action = rng.weighted({ idle: 50, drop: 25, slow: 25 });
      const ms = rng.int(100, 3000);
      if (action === 'drop') {
        this.cancel();
        this.model.stats.resumes += 1;
        await sleep(ms / 2);
      } else if (action === 'slow' && this.stream) {
        const stream = this.stream;
        this.model.stats.slowReads += 1;
        stream.pause();
        await sleep(ms);
        stream.resume();
      }
      await sleep(rng.int(200, 1500));
    }
  }

  close() {
    this.cancel();
  }
}

module.exports = { Subscriber };
