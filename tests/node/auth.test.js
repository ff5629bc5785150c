// JWT authentication at the edge: what connects, and the exact connect_error text of each refusal.
'use strict';

const assert = require('node:assert/strict');
const {
  heraldTest,
  connect,
  connectError,
  makeToken,
  noneToken,
  nowSecs,
  grpcClient,
  jsonArg,
} = require('./lib/herald');

const AUTH_CONFIG = { audience: 'herald-tests', issuer: 'herald-test-issuer' };

/** The socket receives an event emitted to user:<sub> (proves which user the edge saw). */
async function assertReceivesAsUser(h, socket, sub) {
  const grpc = grpcClient(h);
  await grpc.emit({ targets: [`user:${sub}`], event: 'whoami', args: [jsonArg({ sub })] });
  const [args] = await socket.inbox.wait('whoami');
  assert.deepEqual(args, [{ sub }]);
}

heraldTest('a valid token (auth payload) connects and is that user', { config: AUTH_CONFIG }, async (t, h) => {
  const socket = await connect(h, '/', { token: makeToken(h.config, { sub: 'alice' }) });
  assert.equal(socket.connected, true);
  assert.equal(typeof socket.id, 'string');
  await assertReceivesAsUser(h, socket, 'alice');
});

heraldTest('a token in the Authorization header works over polling', { config: AUTH_CONFIG }, async (t, h) => {
  const token = makeToken(h.config, { sub: 'alice' });
  const socket = await connect(h, '/', {
    transports: ['polling'],
    extraHeaders: { Authorization: `Bearer ${token}` },
  });
  assert.equal(socket.io.engine.transport.name, 'polling');
  await assertReceivesAsUser(h, socket, 'alice');
});

heraldTest('a token in the Authorization header works over websocket', { config: AUTH_CONFIG }, async (t, h) => {
  const token = makeToken(h.config, { sub: 'bob' });
  const socket = await connect(h, '/', {
    transports: ['websocket'],
    extraHeaders: { Authorization: `Bearer ${token}` },
  });
  await assertReceivesAsUser(h, socket, 'bob');
});

const REFUSALS = [
  {
    name: 'a missing token',
    token: () => undefined,
    message: 'missing token',
  },
  {
    name: 'an expired token',
    token: (c) => makeToken(c, { exp: nowSecs() - 3600 }),
    message: 'token expired',
  },
  {
    name: 'a wrongly signed token',
    token: (c) => makeToken(c, {}, { secret: 'not-the-configured-secret' }),
    message: 'invalid signature',
  },
  {
    name: 'an `alg: none` token',
    token: (c) => noneToken(c),
    message: 'algorithm not allowed',
  },
  {
    name: 'an HS384 token (not in the allow-list)',
    token: (c) => makeToken(c, {}, { algorithm: 'HS384' }),
    message: 'algorithm not allowed',
  },
  {
    name: 'a wrong-audience token',
    token: (c) => makeToken(c, { aud: 'someone-else' }),
    message: 'invalid audience',
  },
  {
    name: 'a wrong-issuer token',
    token: (c) => makeToken(c, { iss: 'someone-else' }),
    message: 'invalid issuer',
  },
  {
    name: 'a not-yet-valid token',
    token: (c) => makeToken(c, { nbf: nowSecs() + 3600 }),
    message: 'token not yet valid',
  },
  {
    name: 'a token without exp',
    token: (c) => makeToken(c, { exp: undefined }),
    message: 'token has no exp',
  },
  {
    name: 'a token without sub',
    token: (c) => makeToken(c, { sub: undefined }),
    message: 'token has no sub',
  },
  {
    name: 'a garbage token',
    token: () => 'this-is-not-a-jwt',
    message: 'malformed token',
  },
];

for (const r of REFUSALS) {
  heraldTest(`${r.name} is refused with "${r.message}"`, { config: AUTH_CONFIG }, async (t, h) => {
    const message = await connectError(h, '/', { token: r.token(h.config) });
    assert.equal(message, r.message);
  });
}

heraldTest('a wrongly signed token in the Authorization header is refused', { config: AUTH_CONFIG }, async (t, h) => {
  const token = makeToken(h.config, {}, { secret: 'not-the-configured-secret' });
  const message = await connectError(h, '/', {
    transports: ['polling'],
    extraHeaders: { Authorization: `Bearer ${token}` },
  });
  assert.equal(message, 'invalid signature');
});

heraldTest('a refused client does not stop others from connecting', { config: AUTH_CONFIG }, async (t, h) => {
  assert.equal(await connectError(h, '/', {}), 'missing token');
  const socket = await connect(h, '/', { token: makeToken(h.config, { sub: 'carol' }) });
  await assertReceivesAsUser(h, socket, 'carol');
});
