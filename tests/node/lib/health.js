// A gRPC health (grpc.health.v1) client for the core's per-service health.
'use strict';

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const { GUARD_MS } = require('./wait');

function healthClient(addr) {
  const def = protoLoader.loadSync('health.proto', {
    includeDirs: [path.join(__dirname, '..', 'proto')],
    keepCase: true,
    enums: String,
    defaults: true,
  });
  const Health = grpc.loadPackageDefinition(def).grpc.health.v1.Health;
  return new Health(addr, grpc.credentials.createInsecure());
}

function check(client, service) {
  return new Promise((resolve, reject) => {
    client.Check({ service }, { deadline: Date.now() + GUARD_MS }, (err, res) => {
      if (err) reject(err);
      else resolve(res.status);
    });
  });
}

module.exports = { healthClient, check };
