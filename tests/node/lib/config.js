// Writes a per-test herald TOML config (fresh secret and service token every time).
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

/** A TOML basic string (JSON string escapes are valid TOML escapes). */
function str(value) {
  return JSON.stringify(String(value));
}

/** A TOML value: string, boolean, number, or an array of those. */
function tomlValue(value) {
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(', ')}]`;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return String(value);
  return str(value);
}

/** Option keys of a namespace entry rendered specially (the rest become `key = value` lines). */
const NS_SPECIAL = new Set(['name', 'anonymous', 'room_aliases']);

function randomSecret(prefix) {
  return `${prefix}-${crypto.randomBytes(18).toString('hex')}`;
}

/** The namespaces every test server has: "/" (token required) and "/anon" (anonymous). */
const DEFAULT_NAMESPACES = [
  { name: '/', anonymous: false },
  { name: '/anon', anonymous: true },
];

/**
 * Renders the config as TOML text. Options (all optional):
 * secret, serviceToken, audience, issuer, leewaySecs, roomsClaim, pingIntervalMs, pingTimeoutMs,
 * maxPayload, staticDir, namespaces, extraToml, handlerTimeoutMs, connectionStateRecovery, edge
 * (more `[edge]` options as { snake_case_key: value }).
 * `connectionStateRecovery` (default false) is written as `connection_state_recovery` for every
 * namespace entry that does not set that key itself: with it on, recoverable events carry their
 * offset as an extra last argument, which the tests comparing exact arguments do not expect.
 * A namespace entry is { name, anonymous, ...any other NamespaceSection key (snake_case) with a
 * string / boolean / number / array value, room_aliases: [{ join, leave, prefix }] }.
 */
function renderConfig(o) {
  const lines = [
    '# written by tests/node/lib/config.js for one test',
    '[core]',
    'listen = "127.0.0.1:0"',
    `service_tokens = [${str(o.serviceToken)}]`,
  ];
  if (o.handlerTimeoutMs !== undefined) lines.push(`handler_timeout_ms = ${Number(o.handlerTimeoutMs)}`);
  lines.push(
    '',
    '[edge]',
    'listen = "127.0.0.1:0"',
    'core_url = "http://127.0.0.1:50051"',
    `service_token = ${str(o.serviceToken)}`,
    `ping_interval_ms = ${o.pingIntervalMs}`,
    `ping_timeout_ms = ${o.pingTimeoutMs}`,
    `max_payload = ${o.maxPayload}`,
  );
  if (o.staticDir !== undefined) lines.push(`static_dir = ${str(o.staticDir)}`);
  // `edge`: more [edge] options, { key: value } with snake_case keys.
  for (const [key, value] of Object.entries(o.edge || {})) lines.push(`${key} = ${tomlValue(value)}`);
  lines.push(
    '',
    '[auth]',
    'algorithms = ["HS256"]',
    `hs256_secret = ${str(o.secret)}`,
    `audience = ${str(o.audience)}`,
    `issuer = ${str(o.issuer)}`,
    `leeway_secs = ${o.leewaySecs}`,
    `rooms_claim = ${str(o.roomsClaim)}`,
  );
  for (const ns of o.namespaces) {
    lines.push('', '[[namespaces]]', `name = ${str(ns.name)}`, `anonymous = ${ns.anonymous ? 'true' : 'false'}`);
    for (const [key, value] of Object.entries(ns)) {
      if (!NS_SPECIAL.has(key) && value !== undefined) lines.push(`${key} = ${tomlValue(value)}`);
    }
    if (ns.connection_state_recovery === undefined) {
      lines.push(`connection_state_recovery = ${o.connectionStateRecovery ? 'true' : 'false'}`);
    }
    for (const alias of ns.room_aliases || []) {
      lines.push('[[namespaces.room_aliases]]');
      for (const [key, value] of Object.entries(alias)) lines.push(`${key} = ${tomlValue(value)}`);
    }
  }
  if (o.extraToml) lines.push('', o.extraToml);
  return `${lines.join('\n')}\n`;
}

/** Fills defaults, writes `<dir>/herald.toml`, returns the options plus `path` and `text`. */
function writeConfig(dir, options = {}) {
  const o = {
    secret: randomSecret('test-secret'),
    serviceToken: randomSecret('test-service'),
    audience: '',
    issuer: '',
    leewaySecs: 5,
    roomsClaim: 'rooms',
    pingIntervalMs: 1000,
    pingTimeoutMs: 5000,
    maxPayload: 1000000,
    namespaces: DEFAULT_NAMESPACES,
    connectionStateRecovery: false,
    ...options,
  };
  const text = renderConfig(o);
  const file = path.join(dir, 'herald.toml');
  fs.writeFileSync(file, text);
  return { ...o, path: file, text };
}

module.exports = { writeConfig, renderConfig, DEFAULT_NAMESPACES };
