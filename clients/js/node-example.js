// Connects to a Herald edge with a token and prints every event it receives.
// Usage: node node-example.js "$(herald token --sub alice)" [http://127.0.0.1:8080/]
'use strict';

const { io } = require('socket.io-client');

const token = process.argv[2] || process.env.HERALD_TOKEN;
const url = process.argv[3] || process.env.HERALD_URL || 'http://127.0.0.1:8080/';
if (!token) {
  console.error('usage: node node-example.js TOKEN [URL]   (get a TOKEN with: herald token --sub alice)');
  process.exit(2);
}

const socket = io(url, { auth: { token } });
socket.on('connect', () => console.log(`connected to ${url} as ${socket.id}`));
socket.on('connect_error', (err) => console.error(`connect_error: ${err.message}`));
socket.on('disconnect', (reason) => console.log(`disconnected: ${reason}`));
socket.onAny((event, ...args) => {
  const ack = typeof args[args.length - 1] === 'function' ? args.pop() : null;
  console.log(event, ...args.map((a) => (Buffer.isBuffer(a) ? `<binary ${a.length} bytes>` : JSON.stringify(a))));
  if (ack) ack({ received: true });
});
process.on('SIGINT', () => {
  socket.disconnect();
  process.exit(0);
});
