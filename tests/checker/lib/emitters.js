// Backend emitters: each calls Emit on its core in a seeded rhythm, sometimes several calls at
// once, to users, claim rooms, server rooms, connections, the whole namespace or several topics,
// recoverable or volatile. Every event carries its emitter and number in its payload (event "eE:N").
'use strict';

const { tick, sleep } = require('./clock');
const { Rng } = require('./rng');

const DELIVERY = {
  recoverable: 'DELIVERY_CLASS_RECOVERABLE',
  volatile: 'DELIVERY_CLASS_VOLATILE',
};

class Emitter {
  /**
   * `world`: { model, names, core, namespace, liveConnIds(), meanGapMs }.
   */
  constructor(index, seed, world) {
    this.index = index;
    this.rng = new Rng(seed, `emitter/${index}`);
    this.world = world;
    this.seq = 0;
    this.inflight = new Set();
  }

  targets() {
    const { rng } = this;
    const n = this.world.names;
    const kind = rng.weighted({ room: 35, server: 20, user: 25, conn: 5, all: 3, multi: 12 });
    switch (kind) {
      case 'room':
        return [`room:${rng.pick(n.claimRooms)}`];
      case 'server':
        return [`room:${rng.pick(n.serverRooms)}`];
      case 'user':
        return [`user:${rng.pick(n.users)}`];
      case 'conn': {
        const ids = this.world.liveConnIds();
        // The draw happens whatever the list, so that the stream of decisions stays the same.
        const i = rng.int(0, 1 << 20);
        return ids.length ? [`conn:${ids[i % ids.length]}`] : [`user:${n.users[i % n.users.length]}`];
      }
      case 'all':
        return ['*'];
      default:
        return [`room:${rng.pick([...n.claimRooms, ...n.serverRooms])}`, `user:${rng.pick(n.users)}`];
    }
  }

  /** One Emit; records when it was sent and answered and what the core said. */
  async emitOne() {
    const { model, core, namespace } = this.world;
    this.seq += 1;
    const delivery = this.rng.chance(0.15) ? 'volatile' : 'recoverable';
    const ev = model.newEvent(this.index, this.seq, this.targets(), delivery);
    model.stats.emits += 1;
    try {
      const res = await core.call('Emit', {
        namespace,
        targets: ev.targets,
        event: 'ck',
        args: [{ json: JSON.stringify(model.payload(ev)) }],
        delivery: DELIVERY[delivery],
      });
      ev.end = tick();
      ev.ok = true;
      ev.serverId = res.event_id;
      ev.connections = res.connections;
      for (const p of res.positions || []) {
        ev.positions.set(p.topic, { offset: Number(p.offset), epoch: p.epoch });
      }
    } catch (err) {
      ev.end = tick();
      ev.ok = false;
      ev.error = `${err.code}: ${err.details || err.message}`;
      model.stats.emitErrors += 1;
    }
  }

  /** Emits until `running()` is false, then waits for the calls in flight. */
  async run(running) {
    const mean = this.world.meanGapMs;
    while (running()) {
      const burst = this.rng.chance(0.35) ? this.rng.int(2, 8) : 1;
      const calls = [];
      for (let i = 0; i < burst; i += 1) calls.push(this.emitOne());
      await Promise.all(calls);
      await sleep(this.rng.int(0, Math.max(1, Math.round(2 * mean * burst))));
    }
  }
}

module.exports = { Emitter };
