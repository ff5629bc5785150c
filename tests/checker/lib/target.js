// The Herald under test: a deployment given by URLs, or one the checker starts itself
// (`herald core` and two `herald edge` processes from HERALD_BIN) with connection-state recovery
// on for the namespace. Either way the rest of the checker sees the same shape.
'use strict';

const path = require('node:path');

const NODE_LIB = path.join(__dirname, '..', '..', 'node', 'lib');
const { startCluster } = require(path.join(NODE_LIB, 'cluster'));
const { startMulticore } = require(path.join(NODE_LIB, 'multicore'));
const { startRedisCluster } = require(path.join(NODE_LIB, 'redis'));
const { heraldPackage } = require(path.join(NODE_LIB, 'grpc'));
const { createRequire } = require('node:module');

const nodeRequire = createRequire(path.join(__dirname, '..', '..', 'node', 'package.json'));
const grpc = nodeRequire('@grpc/grpc-js');

/** Recovery window of the checker's own Herald: far longer than any run's absences. */
const OWN_WINDOW_SECS = 600;
const OWN_MAX_EVENTS = 1000000;

/** A gRPC client of one core: unary calls with a deadline, and Subscribe streams. */
function coreClient(addr, serviceToken) {
  const Service = heraldPackage().HeraldService;
  const client = new Service(addr, grpc.credentials.createInsecure());
  const metadata = () => {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${serviceToken}`);
    return md;
  };
  return {
    addr,
    call(method, request, deadlineMs = 30000) {
      return new Promise((resolve, reject) => {
        client[method](request, metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => {
          if (err) reject(err);
          else resolve(res);
        });
      });
    },
    subscribe(request) {
      return client.Subscribe(request, metadata());
    },
    close() {
      client.close();
    },
  };
}

/**
 * Opens the target. Resolves { cores: [coreClient], edges: [url], namespace, tokenConfig,
 * roomsClaim, own, describe, stderr(), stop() }.
 */
async function openTarget(o) {
  let cluster = null;
  let redisCluster = null;
  let grpcAddrs = o.grpc;
  let edgeUrls = o.edge;
  let serviceToken = o.serviceToken;
  let tokenConfig = { secret: o.tokenSecret, audience: o.audience, issuer: o.issuer };
  let roomsClaim = o.roomsClaim;
  let namespace = o.namespace;
  if (grpcAddrs.length === 0) {
    namespace = '/';
    const config = {
      connectionStateRecovery: true,
      // Generous Engine.IO timeouts: paused readers and a busy 2-core machine must not look dead.
      pingIntervalMs: 5000,
      pingTimeoutMs: 30000,
      namespaces: [
        {
          name: '/',
          anonymous: false,
          recovery_window_secs: OWN_WINDOW_SECS,
          recovery_max_events: OWN_MAX_EVENTS,
          max_rooms_per_connection: 1000,
        },
      ],
    };
    if (o.cores > 1) {
      // Several cores on Redis, each with its edge: emitters and subscribers use every core,
      // sockets every edge, and reconnections go through another core's edge.
      // With --redis-cluster, on a private Redis Cluster (sharded channels, keys by namespace).
      const redis = {};
      if (o.redisCluster) {
        redisCluster = await startRedisCluster();
        Object.assign(redis, { redisUrl: redisCluster.url, redisCluster: true });
      }
      try {
        cluster = await startMulticore(config, { cores: o.cores, edgesPerCore: 1, ...redis });
      } catch (err) {
        if (redisCluster) await redisCluster.stop();
        throw err;
      }
      grpcAddrs = cluster.nodes.map((n) => n.core.addr);
      edgeUrls = cluster.nodes.flatMap((n) => n.edges.map((e) => `http://${e.addr}`));
    } else {
      cluster = await startCluster(config, { edges: 2 });
      grpcAddrs = [cluster.grpcAddr];
      edgeUrls = cluster.edges.map((e) => `http://${e.addr}`);
    }
    serviceToken = cluster.config.serviceToken;
    tokenConfig = { secret: cluster.config.secret, audience: '', issuer: '' };
    roomsClaim = cluster.config.roomsClaim;
  }
  const cores = grpcAddrs.map((addr) => coreClient(addr, serviceToken));
  return {
    cores,
    edges: edgeUrls,
    namespace,
    tokenConfig,
    roomsClaim,
    own: Boolean(cluster),
    describe: cluster
      ? `own Herald (cores ${grpcAddrs.join(', ')}, edges ${edgeUrls.join(', ')}${redisCluster ? `, Redis Cluster ${redisCluster.url}` : ''})`
      : `cores ${grpcAddrs.join(', ')}, edges ${edgeUrls.join(', ')}, namespace ${namespace}`,
    stderr: () => (cluster ? cluster.stderr() : ''),
    async stop() {
      for (const c of cores) c.close();
      if (cluster) await cluster.stop();
      if (redisCluster) await redisCluster.stop();
    },
  };
}

module.exports = { openTarget, nodeRequire, grpc };
