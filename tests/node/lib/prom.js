// A strict parser of the Prometheus text exposition format (0.0.4), for the metrics tests.
'use strict';

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/y;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseLabels(text, line) {
  const labels = {};
  let i = 0;
  while (i < text.length) {
    LABEL.lastIndex = i;
    const m = LABEL.exec(text);
    if (!m) throw new Error(`bad labels in: ${line}`);
    if (m[1] in labels) throw new Error(`duplicate label ${m[1]} in: ${line}`);
    labels[m[1]] = m[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    i = LABEL.lastIndex;
    if (i < text.length) {
      if (text[i] !== ',') throw new Error(`bad labels in: ${line}`);
      i += 1;
    }
  }
  return labels;
}

/** The family a sample name belongs to, given the family's type. */
function familyOf(families, sample) {
  if (families.has(sample)) return sample;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (sample.endsWith(suffix)) {
      const base = sample.slice(0, -suffix.length);
      const f = families.get(base);
      if (f && (f.type === 'histogram' || f.type === 'summary')) return base;
    }
  }
  return undefined;
}

/**
 * Parses `text`; throws on anything the format does not allow (a sample before its TYPE, a family
 * declared twice, a bad name, label or value, a counter not named *_total, non-cumulative buckets).
 * Returns Map name -> { type, help, samples: [{ name, labels, value }] }.
 */
function parseProm(text) {
  const families = new Map();
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) {
      const [, kind, name, ...rest] = line.split(' ');
      if (!NAME.test(name)) throw new Error(`bad metric name: ${line}`);
      const f = families.get(name) || { type: undefined, help: undefined, samples: [] };
      if (kind === 'HELP') {
        if (f.help !== undefined) throw new Error(`HELP given twice: ${line}`);
        f.help = rest.join(' ');
      } else {
        if (f.type !== undefined) throw new Error(`TYPE given twice: ${line}`);
        if (f.samples.length) throw new Error(`TYPE after samples: ${line}`);
        if (!TYPES.has(rest[0]) || rest.length !== 1) throw new Error(`bad TYPE: ${line}`);
        f.type = rest[0];
        if (f.type === 'counter' && !name.endsWith('_total')) throw new Error(`counter not named *_total: ${name}`);
      }
      families.set(name, f);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([^{\s]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`bad sample line: ${line}`);
    const [, name, labelText, valueText] = m;
    if (!NAME.test(name)) throw new Error(`bad sample name: ${line}`);
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    if (Number.isNaN(value) && valueText !== 'NaN') throw new Error(`bad value: ${line}`);
    const fname = familyOf(families, name);
    if (!fname || families.get(fname).type === undefined) throw new Error(`sample without a TYPE: ${line}`);
    families.get(fname).samples.push({ name, labels: labelText ? parseLabels(labelText, line) : {}, value });
  }
  for (const [name, f] of families) {
    if (f.type !== 'histogram') continue;
    const series = new Map();
    for (const s of f.samples) {
      const { le, ...rest } = s.labels;
      const key = JSON.stringify(rest);
      if (!series.has(key)) series.set(key, { buckets: [], count: undefined });
      const e = series.get(key);
      if (s.name === `${name}_bucket`) e.buckets.push([le === '+Inf' ? Infinity : Number(le), s.value]);
      if (s.name === `${name}_count`) e.count = s.value;
    }
    for (const [key, e] of series) {
      for (let i = 1; i < e.buckets.length; i += 1) {
        if (!(e.buckets[i][0] > e.buckets[i - 1][0])) throw new Error(`${name}${key}: bucket bounds not increasing`);
        if (e.buckets[i][1] < e.buckets[i - 1][1]) throw new Error(`${name}${key}: buckets not cumulative`);
      }
      const inf = e.buckets.find((b) => b[0] === Infinity);
      if (!inf || inf[1] !== e.count) throw new Error(`${name}${key}: +Inf bucket differs from _count`);
    }
  }
  return families;
}

/** The value of the sample `name` whose labels include `labels` (undefined when absent). */
function sample(families, name, labels = {}) {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}

module.exports = { parseProm, sample };
