// A gRPC client for herald.v1.HeraldService built from proto/ at run time (@grpc/proto-loader).
'use strict';

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const { PROTO_DIR } = require('./process');
const { GUARD_MS, withGuard } = require('./wait');

const cachedPackages = new Map();

/** The `herald.v1` package as defined by one file of proto/herald/v1 (loaded once). */
function protoPackage(file) {
  if (!cachedPackages.has(file)) {
    const def = protoLoader.loadSync(path.join('herald', 'v1', file), {
      includeDirs: [PROTO_DIR],
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    cachedPackages.set(file, grpc.loadPackageDefinition(def).herald.v1);
  }
  return cachedPackages.get(file);
}

function heraldPackage() {
  return protoPackage('herald.proto');
}

/** A JSON argument (the value is serialized here). */
function jsonArg(value) {
  return { json: JSON.stringify(value) };
}

/** A binary argument. */
function binArg(bytes) {
  return { binary: Buffer.from(bytes) };
}

/**
 * Client bound to a running herald `h`. `emit(request, { token })` resolves the EmitResponse or
 * rejects with the gRPC error (err.code is a grpc.status). `token: null` sends no credential.
 */
function grpcClient(h) {
  const Service = heraldPackage().HeraldService;
  const client = new Service(h.grpcAddr, grpc.credentials.createInsecure());
  h.track(() => client.close());

  function call(method, request, { token = h.config.serviceToken, deadlineMs = GUARD_MS } = {}) {
    const md = new grpc.Metadata();
    if (token !== null) md.set('authorization', `Bearer ${token}`);
    return new Promise((resolve, reject) => {
      client[method](request, md, { deadline: Date.now() + deadlineMs }, (err, res) => {
        if (err) reject(err);
        else resolve(res);
      });
    });
  }

  /** Opens a Subscribe stream; see `subscription` below. */
  function subscribe(request, { token = h.config.serviceToken } = {}) {
    const md = new grpc.Metadata();
    if (token !== null) md.set('authorization', `Bearer ${token}`);
    const stream = client.Subscribe({ namespace: '/', ...request }, md);
    return subscription(h, stream);
  }

  const withNs = (method) => (request, opts) => call(method, { namespace: '/', ...request }, opts);

  return {
    client,
    call,
    emit: withNs('Emit'),
    join: withNs('Join'),
    leave: withNs('Leave'),
    presence: withNs('Presence'),
    disconnect: withNs('Disconnect'),
    stats: (request = {}, opts) => call('Stats', request, opts),
    subscribe,
  };
}

/**
 * Wraps a Subscribe stream: records events (`events`, each the herald.v1.Event), the
 * `subscribed` item, and the end/error. `ready()` resolves the Subscribed item (rejects with the
 * gRPC error if the stream fails first); `waitEvents(pred, what)` resolves once pred(events) holds.
 */
function subscription(h, stream) {
  const events = [];
  const waiters = new Set();
  let subscribed = null;
  let error = null;
  let ended = false;
  const notify = () => {
    for (const w of [...waiters]) {
      if (w()) waiters.delete(w);
    }
  };
  stream.on('data', (item) => {
    if (item.item === 'subscribed') subscribed = item.subscribed;
    else if (item.item === 'event') events.push(item.event);
    notify();
  });
  stream.on('error', (err) => {
    error = err;
    notify();
  });
  stream.on('end', () => {
    ended = true;
    notify();
  });
  h.track(() => stream.cancel());

  function until(predicate, what, ms = GUARD_MS) {
    return withGuard(
      new Promise((resolve, reject) => {
        const w = () => {
          const value = predicate();
          if (value) {
            resolve(value);
            return true;
          }
          if (error || ended) {
            reject(error || new Error(`the Subscribe stream ended while waiting for ${what}`));
            return true;
          }
          return false;
        };
        if (!w()) waiters.add(w);
      }),
      ms,
      `${what} on the Subscribe stream (events: ${JSON.stringify(events.map((e) => [e.targets, e.name]))})`,
    );
  }

  return {
    stream,
    events,
    error: () => error,
    ready: () => until(() => subscribed, 'the Subscribed item'),
    /** Resolves the stream's error (rejects if it delivers an item or ends cleanly first). */
    failed: () =>
      withGuard(
        new Promise((resolve, reject) => {
          const w = () => {
            if (error) resolve(error);
            else if (subscribed || events.length || ended) reject(new Error('the Subscribe stream did not fail'));
            else return false;
            return true;
          };
          if (!w()) waiters.add(w);
        }),
        GUARD_MS,
        'the Subscribe stream to fail',
      ),
    waitEvents: (predicate, what) => until(() => predicate(events), what),
    cancel: () => stream.cancel(),
  };
}

/** Asserts `promise` rejects with the given grpc status code; returns the error. */
async function expectGrpcError(promise, code) {
  let res;
  try {
    res = await promise;
  } catch (err) {
    if (err.code !== code) {
      const got = `${grpc.status[err.code] ?? err.code}: ${err.details ?? err.message}`;
      throw new Error(`expected gRPC status ${grpc.status[code]}, got ${got}`);
    }
    return err;
  }
  throw new Error(`expected gRPC status ${grpc.status[code]}, but the call succeeded: ${JSON.stringify(res)}`);
}

module.exports = { heraldPackage, protoPackage, grpcClient, jsonArg, binArg, expectGrpcError, grpcStatus: grpc.status };
