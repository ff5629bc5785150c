// Socket.IO client helpers (real socket.io-client), an event inbox, and a raw Engine.IO WebSocket.
'use strict';

const { io } = require('socket.io-client');
const WebSocket = require('ws');

const { GUARD_MS, withGuard } = require('./wait');

/** Records every event a socket receives (via onAny) and its disconnects; lets tests wait for them. */
class Inbox {
  constructor(socket) {
    this.events = [];
    this.disconnects = [];
    this.waiters = new Set();
    socket.onAny((event, ...args) => {
      this.events.push({ event, args });
      this.notify();
    });
    socket.on('disconnect', (reason) => {
      this.disconnects.push(reason);
      this.events.push({ event: 'disconnect', args: [reason], local: true });
      this.notify();
    });
  }

  notify() {
    for (const w of [...this.waiters]) {
      if (w.check()) this.waiters.delete(w);
    }
  }

  /** Argument lists of the received `event`s, in order. */
  all(event) {
    return this.events.filter((e) => e.event === event && !e.local).map((e) => e.args);
  }

  /** Event names received so far, in order. */
  names() {
    return this.events.map((e) => e.event);
  }

  /** Waits until `predicate()` is true; `what` names it in the hang-guard error. */
  until(predicate, what, ms = GUARD_MS) {
    return withGuard(
      new Promise((resolve) => {
        const w = {
          check: () => {
            const value = predicate();
            if (value) resolve(value);
            return Boolean(value);
          },
        };
        if (!w.check()) this.waiters.add(w);
      }),
      ms,
      `${what} (received so far: ${JSON.stringify(this.names())})`,
    );
  }

  /** Resolves the argument lists of the first `n` `event`s once that many arrived. */
  async wait(event, n = 1, ms = GUARD_MS) {
    await this.until(() => this.all(event).length >= n, `${n} "${event}" event(s)`, ms);
    return this.all(event).slice(0, n);
  }

  /** Resolves the reason of the first disconnect. */
  async disconnected(ms = GUARD_MS) {
    await this.until(() => this.disconnects.length > 0, 'a disconnect', ms);
    return this.disconnects[0];
  }
}

/**
 * Creates a socket.io-client socket (auto-connecting, never reconnecting) and its Inbox
 * (`socket.inbox`), attached before any packet can arrive. Default transport: websocket only.
 */
function openSocket(h, ns = '/', options = {}) {
  const { token, transports = ['websocket'], ...rest } = options;
  const opts = { forceNew: true, reconnection: false, transports, ...rest };
  if (token !== undefined) opts.auth = { token };
  const socket = io(h.edgeUrl + ns, opts);
  socket.inbox = new Inbox(socket);
  h.track(() => socket.disconnect());
  return socket;
}

/** Resolves the socket on "connect"; rejects with Error(connect_error message). */
function whenConnected(socket, ms = GUARD_MS) {
  if (socket.connected) return Promise.resolve(socket);
  return withGuard(
    new Promise((resolve, reject) => {
      const onConnect = () => {
        socket.off('connect_error', onError);
        resolve(socket);
      };
      const onError = (err) => {
        socket.off('connect', onConnect);
        const e = new Error(err && err.message ? err.message : String(err));
        e.data = err && err.data;
        reject(e);
      };
      socket.once('connect', onConnect);
      socket.once('connect_error', onError);
    }),
    ms,
    'Socket.IO connect / connect_error',
  );
}

/** Connects and resolves the connected socket (rejects with the connect_error message). */
function connect(h, ns = '/', options = {}) {
  return whenConnected(openSocket(h, ns, options));
}

/** Expects the connection to be refused; resolves the connect_error message. */
async function connectError(h, ns = '/', options = {}) {
  const socket = openSocket(h, ns, options);
  try {
    await whenConnected(socket);
  } catch (err) {
    if (/^timed out/.test(err.message)) throw err;
    socket.disconnect();
    return err.message;
  }
  socket.disconnect();
  throw new Error(`expected connect_error, but the socket connected to ${ns} (id ${socket.id})`);
}

/** Converts a received binary value (Buffer, ArrayBuffer or typed array) to a Buffer, or null. */
function toBuffer(value) {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof ArrayBuffer) return Buffer.from(new Uint8Array(value));
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return null;
}

/**
 * A raw Engine.IO v4 WebSocket (no socket.io-client): waits for the OPEN packet, answers pings
 * ("2" -> "3") so that only what the test sends can get it closed, records text messages.
 */
async function rawEngine(h, query = 'EIO=4&transport=websocket') {
  const url = `ws://${h.edgeAddr}/socket.io/?${query}`;
  const ws = new WebSocket(url);
  h.track(() => ws.terminate());
  const messages = [];
  const waiters = new Set();
  let closeInfo = null;
  const closed = new Promise((resolve) => {
    ws.on('close', (code, reason) => {
      closeInfo = { code, reason: reason.toString() };
      resolve(closeInfo);
    });
  });
  ws.on('error', () => {
    // "close" follows; the tests look at that.
  });
  ws.on('message', (data, isBinary) => {
    const text = isBinary ? null : data.toString();
    if (text === '2') ws.send('3');
    messages.push(isBinary ? data : text);
    for (const w of [...waiters]) {
      if (w()) waiters.delete(w);
    }
  });

  function next(predicate, what, ms = GUARD_MS) {
    return withGuard(
      new Promise((resolve) => {
        const w = () => {
          const found = messages.find((m) => typeof m === 'string' && predicate(m));
          if (found !== undefined) resolve(found);
          return found !== undefined;
        };
        if (!w()) waiters.add(w);
      }),
      ms,
      `${what} on the raw WebSocket (messages: ${JSON.stringify(messages.slice(0, 20))})`,
    );
  }

  const openPacket = await withGuard(
    Promise.race([
      next((m) => m.startsWith('0'), 'the Engine.IO OPEN packet'),
      closed.then((c) => {
        throw new Error(`raw WebSocket closed before OPEN (code ${c.code})`);
      }),
    ]),
    GUARD_MS,
    'the Engine.IO OPEN packet',
  );
  const handshake = JSON.parse(openPacket.slice(1));
  return {
    ws,
    handshake,
    messages,
    closed,
    isClosed: () => closeInfo !== null,
    send: (data) => ws.send(data),
    next,
    /** Sends a Socket.IO CONNECT for `ns` with `auth` and waits for the CONNECT reply. */
    async connectNamespace(ns, auth) {
      const prefix = ns === '/' ? '' : `${ns},`;
      ws.send(`40${prefix}${auth ? JSON.stringify(auth) : ''}`);
      const reply = await next((m) => m.startsWith(`40${prefix}`) || m.startsWith(`44${prefix}`), 'CONNECT reply');
      if (!reply.startsWith(`40${prefix}`)) throw new Error(`namespace CONNECT refused: ${reply}`);
      return reply;
    },
  };
}

module.exports = { Inbox, openSocket, whenConnected, connect, connectError, toBuffer, rawEngine };
