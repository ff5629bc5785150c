// Graceful shutdown: on SIGTERM connected clients get `herald:disconnect` with a reason, then their
// transport is closed ("transport close", so a client with reconnection on comes back by itself,
// to this server once restarted or to another behind the load balancer), and the process exits 0.
'use strict';

const assert = require('node:assert/strict');
const { heraldTest, connect, makeToken, withGuard } = require('./lib/herald');

for (const transport of ['websocket', 'polling']) {
  heraldTest(`SIGTERM disconnects clients with a reason and exits 0 (${transport})`, async (t, h) => {
    const s = await connect(h, '/', { token: makeToken(h.config, { sub: 'alice' }), transports: [transport] });
    const anon = await connect(h, '/anon', { transports: [transport] });

    h.stopped = true;
    h.proc.kill('SIGTERM');

    for (const socket of [s, anon]) {
      const reason = await socket.inbox.disconnected();
      const notice = socket.inbox.all('herald:disconnect');
      assert.equal(notice.length, 1, `expected one herald:disconnect before the disconnect, got ${JSON.stringify(socket.inbox.names())}`);
      assert.equal(typeof notice[0][0], 'object');
      assert.equal(typeof notice[0][0].reason, 'string');
      assert.notEqual(notice[0][0].reason, '');
      const names = socket.inbox.names();
      assert.ok(
        names.indexOf('herald:disconnect') < names.indexOf('disconnect'),
        `herald:disconnect must come before the disconnect: ${JSON.stringify(names)}`,
      );
      assert.equal(reason, 'transport close', 'a restart is not a kick: the client may reconnect');
    }

    const { code, signal } = await withGuard(h.exited, 20000, 'herald to exit after SIGTERM');
    assert.equal(signal, null, 'herald exits by itself, not killed by the signal');
    assert.equal(code, 0);
  });
}
