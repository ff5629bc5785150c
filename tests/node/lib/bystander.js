// A bystander: a connected client that must not notice a refusal aimed at another one.
'use strict';

const assert = require('node:assert/strict');

const { grpcClient, jsonArg } = require('./grpc');

/** The bystander is still connected, never disconnected, and still receives an event sent to it. */
async function assertBystanderFine(h, s) {
  assert.equal(s.connected, true, 'the bystander must stay connected');
  await grpcClient(h).emit({ targets: [`conn:${s.id}`], event: 'still', args: [jsonArg('here')] });
  assert.deepEqual((await s.inbox.wait('still'))[0], ['here']);
  assert.deepEqual(s.inbox.disconnects, []);
}

module.exports = { assertBystanderFine };
