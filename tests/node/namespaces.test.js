// Namespaces: an anonymous one accepts connections without a token; unknown ones are refused.
'use strict';

const assert = require('node:assert/strict');
const { heraldTest, connect, connectError, makeToken, grpcClient, jsonArg } = require('./lib/herald');

heraldTest('the anonymous namespace /anon accepts a connection without a token', async (t, h) => {
  const grpc = grpcClient(h);
  const s = await connect(h, '/anon', {});
  assert.equal(s.connected, true);

  await grpc.emit({ namespace: '/anon', targets: ['*'], event: 'public', args: [jsonArg('to all')] });
  assert.deepEqual((await s.inbox.wait('public'))[0], ['to all']);

  await grpc.emit({ namespace: '/anon', targets: [`conn:${s.id}`], event: 'direct', args: [jsonArg(1)] });
  assert.deepEqual((await s.inbox.wait('direct'))[0], [1]);
});

heraldTest('the root namespace still requires a token while /anon does not', async (t, h) => {
  assert.equal(await connectError(h, '/', {}), 'missing token');
  await connect(h, '/anon', {});
});

heraldTest('an event emitted in one namespace does not reach another', async (t, h) => {
  const grpc = grpcClient(h);
  const anon = await connect(h, '/anon', {});
  const root = await connect(h, '/', { token: makeToken(h.config, { sub: 'alice' }) });
  await grpc.emit({ namespace: '/', targets: ['*'], event: 'root-only', args: [] });
  await root.inbox.wait('root-only');
  await grpc.emit({ namespace: '/anon', targets: ['*'], event: 'marker', args: [] });
  await anon.inbox.wait('marker');
  assert.deepEqual(anon.inbox.all('root-only'), []);
});

heraldTest('an unknown namespace gets connect_error "Invalid namespace"', async (t, h) => {
  const token = makeToken(h.config, { sub: 'alice' });
  assert.equal(await connectError(h, '/nope', { token }), 'Invalid namespace');
  assert.equal(await connectError(h, '/nope', {}), 'Invalid namespace');
  // The edge is still fine afterwards.
  await connect(h, '/', { token });
});
