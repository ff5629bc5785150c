// A gRPC client for herald.v1.HeraldService built from proto/ at run time (@grpc/proto-loader).
'use strict';

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const { PROTO_DIR } = require('./process');
const { GUARD_MS } = require('./wait');

let cachedPackage;

function heraldPackage() {
  if (!cachedPackage) {
    const def = protoLoader.loadSync(path.join('herald', 'v1', 'herald.proto'), {
      includeDirs: [PROTO_DIR],
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    cachedPackage = grpc.loadPackageDefinition(def).herald.v1;
  }
  return cachedPackage;
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

  return {
    client,
    emit: (request, opts) => call('Emit', { namespace: '/', ...request }, opts),
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

module.exports = { grpcClient, jsonArg, binArg, expectGrpcError, grpcStatus: grpc.status };
