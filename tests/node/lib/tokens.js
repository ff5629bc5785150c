// Forges JWTs for the tests: valid ones and every kind the edge must refuse.
'use strict';

const jwt = require('jsonwebtoken');

function nowSecs() {
  return Math.floor(Date.now() / 1000);
}

/**
 * Signs claims with HS256 and the config's secret. `claims` is merged over { sub, exp: now+1h }
 * plus aud/iss when the config checks them; pass `exp: undefined` to drop exp.
 */
function makeToken(config, claims = {}, { secret = config.secret, algorithm = 'HS256' } = {}) {
  const payload = { sub: 'alice', exp: nowSecs() + 3600 };
  if (config.audience) payload.aud = config.audience;
  if (config.issuer) payload.iss = config.issuer;
  Object.assign(payload, claims);
  for (const key of Object.keys(payload)) {
    if (payload[key] === undefined) delete payload[key];
  }
  return jwt.sign(payload, secret, { algorithm, noTimestamp: false });
}

function b64url(value) {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** An unsigned token (`alg: none`) built by hand, with otherwise valid claims. */
function noneToken(config, claims = {}) {
  const payload = { sub: 'alice', exp: nowSecs() + 3600, iat: nowSecs() };
  if (config.audience) payload.aud = config.audience;
  if (config.issuer) payload.iss = config.issuer;
  Object.assign(payload, claims);
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(payload)}.`;
}

module.exports = { makeToken, noneToken, nowSecs };
