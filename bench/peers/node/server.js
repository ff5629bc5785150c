// Node peer for the Herald benchmark: socket.io 4.8 on the WebSocket transport, HS256 JWT check on
// CONNECT (auth.token), a `join` event with ack (allowed by the token's rooms claim), a `chat` relay
// to the sender's room, and `POST /emit?room=R&event=E` (JSON body) as the emit trigger.
'use strict';

const http = require('node:http');
const { Server } = require('socket.io');
const jwt = require('jsonwebtoken');

const secret = process.env.BENCH_SECRET || 'herald-bench-secret-0123456789abcdef';
const port = Number(process.env.PORT || 0);

function allowed(claims, room) {
  const rooms = Array.isArray(claims.rooms) ? claims.rooms : [];
  return rooms.some((p) => (p.endsWith('*') ? room.startsWith(p.slice(0, -1)) : p === room));
}

const httpServer = http.createServer((req, res) => {
  if (req.method !== 'POST' || !req.url.startsWith('/emit')) {
    res.statusCode = 404;
    res.end();
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url, 'http://localhost');
    let data;
    try {
      data = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (e) {
      res.statusCode = 400;
      res.end('bad json');
      return;
    }
    io.to(url.searchParams.get('room')).emit(url.searchParams.get('event'), data);
    res.setHeader('Content-Length', '2');
    res.end('ok');
  });
});

const io = new Server(httpServer, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
});

io.use((socket, next) => {
  const token = socket.handshake.auth && socket.handshake.auth.token;
  try {
    socket.data.claims = jwt.verify(token, secret, { algorithms: ['HS256'] });
    next();
  } catch (e) {
    next(new Error('invalid token'));
  }
});

io.on('connection', (socket) => {
  socket.on('join', (room, ack) => {
    const ok = typeof room === 'string' && allowed(socket.data.claims, room);
    if (ok) socket.join(room);
    if (typeof ack === 'function') ack(ok ? { ok: true } : { ok: false, error: `not allowed to join room ${room}` });
  });
  socket.on('chat', (msg) => {
    if (msg && typeof msg.room === 'string' && socket.rooms.has(msg.room)) {
      socket.to(msg.room).emit('chat', msg);
    }
  });
});

httpServer.listen(port, '127.0.0.1', () => {
  const a = httpServer.address();
  console.log(`listening on ${a.address}:${a.port}`);
});
process.on('SIGTERM', () => process.exit(0));
