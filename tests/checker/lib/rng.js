// Seeded pseudo-random numbers: every actor of a run draws from its own stream, derived from the
// run's seed and the actor's name, so that a seed replays the same decisions whatever the timing.
'use strict';

/** A 32-bit hash of a text (FNV-1a), used to derive one stream per actor. */
function hash32(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

class Rng {
  /** The stream named `label` of run `seed`. */
  constructor(seed, label) {
    this.state = hash32(`${seed}/${label}`) || 0x9e3779b9;
  }

  /** A float in [0, 1) (a 32-bit xorshift with a multiplicative finish). */
  float() {
    let x = this.state;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.state = x;
    return (Math.imul(x, 0x2545f491) >>> 0) / 4294967296;
  }

  /** An integer in [lo, hi]. */
  int(lo, hi) {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  chance(p) {
    return this.float() < p;
  }

  pick(items) {
    return items[Math.floor(this.float() * items.length)];
  }

  /** A key of `weights` ({ name: weight }), chosen in proportion to its weight. */
  weighted(weights) {
    const entries = Object.entries(weights);
    const total = entries.reduce((sum, [, w]) => sum + w, 0);
    let r = this.float() * total;
    for (const [key, w] of entries) {
      if (r < w) return key;
      r -= w;
    }
    return entries[entries.length - 1][0];
  }
}

module.exports = { Rng, hash32 };
