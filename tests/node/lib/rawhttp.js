// Raw HTTP towards the edge: one request on its own connection, and a bare TCP connection, for
// tests of the HTTP / Engine.IO layer (status codes, headers, slow or odd clients).
'use strict';

const http = require('node:http');
const net = require('node:net');

const { GUARD_MS, withGuard } = require('./wait');

/**
 * One request on a fresh connection (from `localAddress`, e.g. 127.0.0.2, when given), guarded by
 * `ms`; resolves { status, headers, body }.
 */
function request(h, { method = 'GET', path, headers = {}, body, localAddress, ms = GUARD_MS } = {}) {
  return withGuard(
    new Promise((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: h.edgePort, method, path, headers, agent: false, localAddress },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c) => {
            text += c;
          });
          res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
        },
      );
      req.on('upgrade', (res, socket) => {
        socket.destroy();
        resolve({ status: res.statusCode, headers: res.headers, body: '' });
      });
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    }),
    ms,
    `${method} ${path}`,
  );
}

/** A polling handshake; resolves the session id. */
async function pollingHandshake(h, headers = {}, localAddress = undefined) {
  const r = await request(h, { path: '/socket.io/?EIO=4&transport=polling', headers, localAddress });
  if (r.status !== 200 || !r.body.startsWith('0')) {
    throw new Error(`polling handshake failed: ${r.status} ${r.body}`);
  }
  return JSON.parse(r.body.slice(1)).sid;
}

/** A bare TCP connection to the edge: write raw bytes, read everything, see when it closes. */
function rawTcp(h) {
  const socket = net.connect(h.edgePort, '127.0.0.1');
  h.track(() => socket.destroy());
  let received = '';
  const closed = new Promise((resolve) => {
    socket.on('close', () => resolve(received));
  });
  socket.on('error', () => {
    // "close" follows.
  });
  socket.setEncoding('latin1');
  socket.on('data', (c) => {
    received += c;
  });
  const connected = new Promise((resolve) => socket.once('connect', resolve));
  return {
    socket,
    connected,
    closed,
    received: () => received,
    write: (data) => socket.write(data),
  };
}

module.exports = { request, pollingHandshake, rawTcp };
