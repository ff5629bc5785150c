// The guarantees, checked on the model after a run. Per receiver (a Socket.IO session or a
// Subscribe receiver) and per topic:
//   order       recoverable events in strictly increasing offsets (the Socket.IO offset for
//               sockets, the topic position for Subscribe), and no event before one that was
//               accepted before it was even emitted (every delivery class);
//   missing     every recoverable event the receiver was due gets there, unless it was told
//               (socket.recovered === false, a server disconnect, NotRecovered, a failed stream);
//               "recovered" marks the ones lost although the client got socket.recovered === true;
//   gap         Subscribe positions of a topic follow each other with no hole;
//   duplicate   no event twice;
//   unexpected  no event to a receiver that was not in any of its topics;
//   offset      recoverable events end with an offset on sockets (volatile ones never do), and an
//               event has the same offset everywhere;
//   count       an Emit answered `connections: 0` reached no connection live.
// Who was due what comes from the checker's own actions: an event is due when its Emit was sent
// after the receiver registered and while the receiver was surely in one of its target topics
// (a join acknowledged, no leave sent), until the Emit was answered.
'use strict';

class Tally {
  constructor(seed) {
    this.seed = seed;
    this.counts = new Map(); // kind -> { passed, failed }
    this.violations = [];
    this.excused = 0;
  }

  pass(kind, n = 1) {
    this.entry(kind).passed += n;
  }

  fail(kind, receiver, topic, text) {
    this.entry(kind).failed += 1;
    this.violations.push({ kind, receiver: receiver.name, topic, text });
  }

  entry(kind) {
    if (!this.counts.has(kind)) this.counts.set(kind, { passed: 0, failed: 0 });
    return this.counts.get(kind);
  }

  totals() {
    let passed = 0;
    let failed = 0;
    for (const c of this.counts.values()) {
      passed += c.passed;
      failed += c.failed;
    }
    return { passed, failed };
  }
}

const fmtOffset = (o) => (o ? `${o.epoch}:${o.seq}` : 'none');

/** Whether a socket session is surely in / surely out of `topic` over ticks [from, to]. */
function socketState(s, topic, from, to) {
  if (topic === '*') return 'in';
  if (topic.startsWith('user:')) return topic.slice(5) === s.user ? 'in' : 'out';
  if (topic.startsWith('conn:')) return topic.slice(5) === s.id ? 'in' : 'out';
  if (s.rooms.definitelyIn(topic, from, to)) return 'in';
  if (s.rooms.definitelyOut(topic, from, to)) return 'out';
  return 'maybe';
}

/** Whether a Subscribe receiver follows `topic` (a `*` subscriber gets every event of the namespace). */
function follows(r, topic) {
  return r.topics.some((t) => t === '*' || (t.endsWith('*') ? topic.startsWith(t.slice(0, -1)) : t === topic));
}

/** The newest things a receiver got: the latest Emit start and the highest offset per epoch. */
function horizon(r) {
  let maxStart = 0;
  const maxSeq = new Map();
  for (const x of r.received) {
    if (x.ev.start > maxStart) maxStart = x.ev.start;
    if (x.offset && !(maxSeq.get(x.offset.epoch) >= x.offset.seq)) maxSeq.set(x.offset.epoch, x.offset.seq);
  }
  return { maxStart, maxSeq };
}

/** Whether `ev` surely came before something the receiver got (so its loss is a gap, told or not). */
function beforeSomethingReceived(ev, h) {
  if (ev.end !== null && ev.ok && ev.end < h.maxStart) return true;
  return Boolean(ev.offset && h.maxSeq.get(ev.offset.epoch) > ev.offset.seq);
}

/** The first index of a non-decreasing array whose value exceeds `v` (the length if none). */
function firstAbove(values, v) {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (values[mid] > v) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Until when a session must have stayed in a topic for an event to be due to it. An accepted event
 * is handed out after its Emit returns, so a leave sent right after may come first. But it was
 * surely handed out before the session received anything that comes after it in the broker's
 * order (a higher offset, or an event emitted after it was accepted): the membership must hold
 * until that receipt, or until the session ended when there is none.
 */
function fanOutBound(s, receipts) {
  const end = s.closedAt ?? s.endedAt ?? Number.MAX_SAFE_INTEGER;
  const ats = receipts.map((x) => x.at);
  const startMax = [];
  const seqMax = new Map(); // epoch -> running max of seq, per receipt index (-1 for other epochs)
  let m = 0;
  for (const x of receipts) {
    m = Math.max(m, x.ev.start);
    startMax.push(m);
  }
  const seqFor = (epoch) => {
    if (!seqMax.has(epoch)) {
      let best = -1;
      seqMax.set(
        epoch,
        receipts.map((x) => {
          if (x.offset && x.offset.epoch === epoch) best = Math.max(best, x.offset.seq);
          return best;
        }),
      );
    }
    return seqMax.get(epoch);
  };
  return (ev) => {
    let i = ev.end !== null ? firstAbove(startMax, ev.end) : receipts.length;
    if (ev.offset) i = Math.min(i, firstAbove(seqFor(ev.offset.epoch), ev.offset.seq));
    return i < receipts.length ? ats[i] : end;
  };
}

/** No event twice. Returns the receipts without repeats. */
function checkDuplicates(r, t) {
  const seen = new Map();
  const firsts = [];
  r.received.forEach((x, i) => {
    if (seen.has(x.ev.id)) {
      t.fail('duplicate', r, x.ev.targets.join(','), `event ${x.ev.id} (${x.ev.delivery}) received twice (receipts #${seen.get(x.ev.id)} and #${i})`);
    } else {
      seen.set(x.ev.id, i);
      firsts.push(x);
      t.pass('duplicate');
    }
  });
  return firsts;
}

/** Socket.IO offsets strictly increase within an epoch. */
function checkSocketOffsets(r, receipts, t) {
  let prev = null;
  for (const x of receipts) {
    if (x.ev.delivery === 'recoverable' && !x.offset) {
      t.fail('offset', r, x.ev.targets.join(','), `recoverable event ${x.ev.id} arrived without an offset argument (last argument ${JSON.stringify(x.rawOffset)})`);
      continue;
    }
    if (x.ev.delivery === 'volatile') {
      if (x.offset) t.fail('offset', r, x.ev.targets.join(','), `volatile event ${x.ev.id} arrived with offset ${x.rawOffset}`);
      else t.pass('offset');
      continue;
    }
    t.pass('offset');
    if (prev && prev.offset.epoch === x.offset.epoch) {
      if (x.offset.seq <= prev.offset.seq) {
        t.fail('order', r, x.ev.targets.join(','), `offset ${fmtOffset(x.offset)} (${x.ev.id}) arrived after ${fmtOffset(prev.offset)} (${prev.ev.id})`);
      } else {
        t.pass('order');
      }
    }
    prev = x;
  }
}

/** Subscribe positions of each followed topic strictly increase within an epoch. */
function checkPositions(r, receipts, t) {
  const prev = new Map();
  for (const x of receipts) {
    for (const [topic, p] of x.positions) {
      if (!follows(r, topic)) continue;
      const before = prev.get(topic);
      if (before && before.p.epoch === p.epoch) {
        if (p.offset <= before.p.offset) {
          t.fail('order', r, topic, `position ${p.offset} (${x.ev.id}) arrived after position ${before.p.offset} (${before.ev.id})`);
        } else {
          t.pass('order');
        }
      }
      prev.set(topic, { p, ev: x.ev });
    }
  }
}

/**
 * Per topic the receiver was surely in at both ends: an event accepted (Emit answered) before
 * another one was even sent never arrives after it.
 */
function checkCausalOrder(r, receipts, t, inTopic) {
  const perTopic = new Map(); // topic -> { maxStart, ev }
  for (const x of receipts) {
    for (const topic of x.ev.targets) {
      if (!inTopic(topic, x)) continue;
      const seen = perTopic.get(topic);
      if (seen && x.ev.ok && x.ev.end < seen.maxStart) {
        t.fail('order', r, topic, `${x.ev.id} arrived after ${seen.ev.id}, but its Emit was answered before ${seen.ev.id} was emitted`);
      } else if (seen) {
        t.pass('order');
      }
      if (!seen || x.ev.start > seen.maxStart) perTopic.set(topic, { maxStart: x.ev.start, ev: x.ev });
    }
  }
}

function checkSocketSession(model, s, t) {
  const receipts = checkDuplicates(s, t);
  checkSocketOffsets(s, receipts, t);
  checkCausalOrder(s, receipts, t, (topic, x) => socketState(s, topic, x.ev.start, x.at) === 'in');
  for (const x of receipts) {
    if (x.ev.targets.every((topic) => socketState(s, topic, x.ev.start, x.at) === 'out')) {
      t.fail('unexpected', s, x.ev.targets.join(','), `event ${x.ev.id} arrived though the session was in none of its topics (${x.ev.targets.join(', ')})`);
    } else {
      t.pass('unexpected');
    }
  }
  // An Emit that said it reached no connection reached none live (a replay after a recovery may
  // still bring it: only receipts on a connection that was up from the Emit to the receipt count).
  for (const x of receipts) {
    if (!x.ev.ok || x.ev.connections === undefined) continue;
    const up = s.recoveries.filter((rc) => rc.backAt < x.at).reduce((m, rc) => Math.max(m, rc.backAt), s.registeredAt);
    const live = !s.disconnects.some((d) => d.at > x.ev.start && d.at < x.at) && (up < x.ev.start || s.registeredAt > x.ev.start);
    if (!live) continue;
    if (x.ev.connections === 0) {
      t.fail('count', s, x.ev.targets.join(','), `event ${x.ev.id} arrived live, but its EmitResponse said connections: 0`);
    } else {
      t.pass('count');
    }
  }
  for (const rec of s.recoveries) {
    if (rec.recovered && rec.newId !== s.id) {
      t.fail('recovery', s, '', `socket.recovered === true but the id changed to ${rec.newId}`);
    } else if (rec.recovered) {
      t.pass('recovery');
    }
  }
  const got = new Set(receipts.map((x) => x.ev.id));
  const h = horizon(s);
  const dueUntil = fanOutBound(s, receipts);
  let pending = 0;
  const list = model.eventList;
  const first = firstAbove(model.starts, s.registeredAt);
  for (let i = first; i < list.length; i += 1) {
    const ev = list[i];
    if ((s.endedAt !== null && ev.start >= s.endedAt) || (s.closedAt !== null && ev.start >= s.closedAt)) break;
    if (!ev.ok || ev.delivery !== 'recoverable') continue;
    const until = dueUntil(ev);
    const topic = ev.targets.find((tp) => socketState(s, tp, ev.start, until) === 'in');
    if (!topic) continue;
    if (got.has(ev.id)) {
      t.pass('missing');
      continue;
    }
    if (s.told && !beforeSomethingReceived(ev, h)) {
      t.excused += 1;
      continue;
    }
    pending += 1;
    const rec = s.recoveries.find((x) => x.recovered && ev.end > x.dropAt && ev.start < x.backAt);
    const later = rec ? null : s.recoveries.find((x) => x.recovered && ev.start > x.backAt);
    if (rec) {
      t.fail('missing', s, topic, `event ${ev.id} (offset ${fmtOffset(ev.offset)}) emitted while the client was away was not replayed, yet socket.recovered === true`);
    } else {
      const why = later ? ' (after a recovery with socket.recovered === true)' : '';
      t.fail('missing', s, topic, `event ${ev.id} (offset ${fmtOffset(ev.offset)}) never arrived${why}${s.told ? `; told only: ${s.told.why}` : ''}`);
    }
  }
  return pending;
}

/** What holds for every Subscribe stream: no repeat, order per topic, only followed topics. */
function checkStream(r, t) {
  const receipts = checkDuplicates(r, t);
  checkPositions(r, receipts, t);
  checkCausalOrder(r, receipts, t, (topic) => follows(r, topic));
  for (const x of receipts) {
    if (!x.ev.targets.some((topic) => follows(r, topic))) {
      t.fail('unexpected', r, x.ev.targets.join(','), `event ${x.ev.id} is addressed to none of the subscribed topics or patterns`);
    } else {
      t.pass('unexpected');
    }
  }
  return receipts;
}

/** A named-topic subscriber: per topic, every position after where it started, once and in order. */
function checkSubscriber(model, r, t) {
  const receipts = checkStream(r, t);
  let pending = 0;
  for (const topic of r.topics) {
    if (topic.endsWith('*') && topic !== '*') continue;
    const start = r.start.get(topic);
    if (!start) continue;
    const excusedUpTo = (p) => r.notRecovered.some((n) => n.topic === topic && n.current.epoch === p.epoch && p.offset <= n.current.offset) || r.notRecovered.some((n) => n.topic === topic && n.current.epoch !== p.epoch);
    const got = new Map(); // offset -> receipt, of the start's epoch (or the first one seen)
    let epoch = start.epoch;
    for (const x of receipts) {
      const p = x.positions.get(topic);
      if (!p) continue;
      if (!epoch) epoch = p.epoch;
      if (p.epoch === epoch) got.set(p.offset, x);
    }
    const known = new Map(); // offset -> event, from the Emit answers
    for (const ev of model.events.values()) {
      const p = ev.ok && ev.positions.get(topic);
      if (p && (p.epoch === epoch || !epoch) && p.offset > start.offset) known.set(p.offset, ev);
    }
    let top = 0;
    for (const o of [...known.keys(), ...got.keys()]) top = Math.max(top, o);
    for (let o = start.offset + 1; o <= top; o += 1) {
      if (got.has(o)) {
        t.pass(known.has(o) ? 'missing' : 'gap');
        continue;
      }
      if (excusedUpTo({ offset: o, epoch })) {
        t.excused += 1;
        continue;
      }
      pending += 1;
      const ev = known.get(o);
      const resumed = r.resumes ? ` (after ${r.resumes} resume(s) from positions, no NotRecovered)` : '';
      if (ev) t.fail('missing', r, topic, `event ${ev.id} at position ${o} never arrived${resumed}`);
      else t.fail('gap', r, topic, `position ${o} (an event not known to the checker) never arrived${resumed}`);
    }
  }
  return pending;
}

/** A pattern stream: what was emitted after it went live to a matching topic arrives, once and in order. */
function checkPatternStream(model, r, t) {
  const receipts = checkStream(r, t);
  if (r.registeredAt === null) return 0;
  const got = new Set(receipts.map((x) => x.ev.id));
  const h = horizon(r);
  let pending = 0;
  for (const ev of model.events.values()) {
    if (!ev.ok || ev.delivery !== 'recoverable' || ev.start <= r.registeredAt) continue;
    if (r.told && ev.start >= r.told.at) continue; // the stream was over before this was sent
    const topic = ev.targets.find((tp) => follows(r, tp));
    if (!topic) continue;
    if (got.has(ev.id)) {
      t.pass('missing');
    } else if (r.told && !beforeSomethingReceived(ev, h)) {
      t.excused += 1;
    } else {
      pending += 1;
      t.fail('missing', r, topic, `event ${ev.id} never arrived on the live stream${r.told ? `; told only: ${r.told.why}` : ''}`);
    }
  }
  return pending;
}

/** An event has one offset, whoever received it. */
function checkOffsetAgreement(model, t) {
  for (const ev of model.events.values()) {
    if (!ev.offset) continue;
    if (ev.offsetConflicts) {
      for (const c of ev.offsetConflicts) {
        t.fail('offset', { name: c.by }, ev.targets.join(','), `event ${ev.id} arrived with offset ${fmtOffset(c.offset)} here, ${fmtOffset(ev.offset)} at ${ev.offset.by}`);
      }
    } else {
      t.pass('offset');
    }
  }
}

/** Runs every check; returns the tally and the number of due events still missing. */
function runChecks(model) {
  const t = new Tally(model.seed);
  model.starts = model.eventList.map((ev) => ev.start);
  let pending = 0;
  for (const r of model.receivers) {
    if (r.kind === 'socket') pending += checkSocketSession(model, r, t);
    else if (r.kind === 'subscribe') pending += checkSubscriber(model, r, t);
    else pending += checkPatternStream(model, r, t);
  }
  checkOffsetAgreement(model, t);
  return { tally: t, pending };
}

module.exports = { runChecks };
