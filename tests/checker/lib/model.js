// What the checker did and saw: the events it emitted (with when each Emit was sent and answered),
// the receivers (Socket.IO sessions, Subscribe streams) with what each received, and each
// session's room memberships as the checker set them. The checks read only this record.
'use strict';

const { tick } = require('./clock');

/** "{epoch}:{seq}" -> { epoch, seq }, or null. */
function parseOffset(text) {
  if (typeof text !== 'string') return null;
  const i = text.lastIndexOf(':');
  if (i <= 0) return null;
  const seq = Number(text.slice(i + 1));
  if (!Number.isSafeInteger(seq)) return null;
  return { epoch: text.slice(0, i), seq };
}

/**
 * A room membership over time, as a step function of ticks: 'in' (a join was acknowledged),
 * 'out' (a leave was acknowledged, or never joined), 'maybe' (a join/leave is in flight or its
 * outcome is unknown).
 */
class Membership {
  constructor() {
    this.steps = new Map(); // topic -> [{ at, state }], in tick order
  }

  set(topic, state, at = tick()) {
    if (!this.steps.has(topic)) this.steps.set(topic, []);
    this.steps.get(topic).push({ at, state });
  }

  /** The states a topic has over [from, to] (before any step: 'out'). */
  statesOver(topic, from, to) {
    const steps = this.steps.get(topic) || [];
    let current = 'out';
    const seen = new Set();
    for (const s of steps) {
      if (s.at <= from) current = s.state;
      else if (s.at <= to) seen.add(s.state);
      else break;
    }
    seen.add(current);
    return seen;
  }

  definitelyIn(topic, from, to) {
    const s = this.statesOver(topic, from, to);
    return s.size === 1 && s.has('in');
  }

  definitelyOut(topic, from, to) {
    const s = this.statesOver(topic, from, to);
    return s.size === 1 && s.has('out');
  }

  /** Topics ever set (joined, left or in doubt). */
  topics() {
    return [...this.steps.keys()];
  }
}

class Model {
  constructor({ seed, tag }) {
    this.seed = seed;
    this.tag = tag;
    this.events = new Map(); // id -> event record
    this.eventList = []; // the same records, in the order they were sent (increasing `start`)
    this.receivers = [];
    this.errors = []; // things that stopped the run from exercising something (not guarantees)
    this.stats = { emits: 0, emitErrors: 0, drops: 0, recovered: 0, notRecovered: 0, kicks: 0, slowReads: 0, joins: 0, leaves: 0, resumes: 0, notRecoveredTopics: 0 };
  }

  /** Registers an event about to be emitted; returns its record. */
  newEvent(emitter, seq, targets, delivery) {
    const ev = {
      id: `e${emitter}:${seq}`,
      emitter,
      seq,
      targets,
      delivery, // 'recoverable' | 'volatile'
      start: tick(),
      end: null, // tick of the OK answer
      ok: null, // true: accepted; false: refused or unknown
      error: null,
      serverId: null,
      positions: new Map(), // topic -> { offset, epoch } from the EmitResponse
      offset: null, // { epoch, seq } learned from receivers
    };
    this.events.set(ev.id, ev);
    this.eventList.push(ev);
    return ev;
  }

  /** The payload an event carries: the run's tag, its emitter and its number at that emitter. */
  payload(ev) {
    return { ck: this.tag, emitter: ev.emitter, seq: ev.seq };
  }

  /** The event record of a received payload, or null when it is not one of this run's. */
  eventOf(payload) {
    if (!payload || typeof payload !== 'object' || payload.ck !== this.tag) return null;
    return this.events.get(`e${payload.emitter}:${payload.seq}`) || null;
  }

  addReceiver(r) {
    this.receivers.push(r);
    return r;
  }

  error(message) {
    this.errors.push(message);
  }

  /** Learns an event's broker offset from a receiver; a different one is reported by the checks. */
  learnOffset(ev, offset, receiver) {
    if (!offset) return;
    if (!ev.offset) ev.offset = { ...offset, by: receiver.name };
    else if (ev.offset.epoch !== offset.epoch || ev.offset.seq !== offset.seq) {
      (ev.offsetConflicts ||= []).push({ offset, by: receiver.name });
    }
  }
}

module.exports = { Model, Membership, parseOffset };
