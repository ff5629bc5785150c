// Command-line options of tests/checker/check.js.
'use strict';

const crypto = require('node:crypto');

const USAGE = `usage: node tests/checker/check.js [options]

  --seed N              seed of the schedule (default: random, printed first)
  --runs K              run seeds N, N+1, ... N+K-1 one after the other (default 1)
  --seconds S           length of the active phase of each run (default 20)
  --minutes M           same, in minutes (soaks: --minutes 10)
  --settle-seconds S    longest wait at the end for expected events (default 30)

Target (default: the checker starts its own Herald from HERALD_BIN, a core and two edges):
  --cores N                            own Herald as N cores on Redis (HERALD_TEST_REDIS_URL, default
                                       redis://127.0.0.1:6379), each with its own edge (default 1)
  --redis-cluster                      with --cores N (N >= 2): the cores run on a private
                                       three-master Redis Cluster (broker.cluster = true) instead
  --grpc host:port[,host:port...]      cores; emitters and subscribers are spread over all
  --edge http://host:port[,...]        edges; sockets are spread over all, reconnects use another
  --namespace NS                       namespace with connection-state recovery on (default /)
  --token-secret S                     HS256 secret the edges accept (default herald-dev-secret)
  --service-token T                    gRPC service token (default herald-dev-service-token)
  --audience A, --issuer I             claims to put in client tokens, when the edges check them
  --rooms-claim NAME                   claim listing the rooms a client may join (default rooms)

Load:
  --emitters N (6)  --sockets N (24)  --subscribers N (4)  --rate EVENTS_PER_SECOND (300)
  --max-print N     violations printed per kind and run (default 40)
  --verbose         progress lines while running
  --dump FILE       write what the run did and saw (events, receivers, receipts) as JSON to FILE
`;

const DEFAULTS = {
  seed: null,
  runs: 1,
  seconds: 20,
  settleSeconds: 30,
  cores: 1,
  grpc: [],
  edge: [],
  namespace: '/',
  tokenSecret: 'herald-dev-secret',
  serviceToken: 'herald-dev-service-token',
  audience: '',
  issuer: '',
  roomsClaim: 'rooms',
  emitters: 6,
  sockets: 24,
  subscribers: 4,
  rate: 300,
  maxPrint: 40,
  verbose: false,
  redisCluster: false,
  dump: '',
};

const NUMBERS = new Set(['cores', 'seed', 'runs', 'seconds', 'settleSeconds', 'emitters', 'sockets', 'subscribers', 'rate', 'maxPrint']);
const LISTS = new Set(['grpc', 'edge']);

function camel(flag) {
  return flag.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
}

/** Parses argv (without node and the script); throws Error(message) on a bad option. */
function parseArgs(argv) {
  const o = { ...DEFAULTS, grpc: [], edge: [] };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return { help: USAGE };
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${JSON.stringify(arg)}`);
    let [flag, value] = arg.slice(2).split(/=(.*)/s, 2);
    const key = flag === 'minutes' ? 'minutes' : camel(flag);
    if (key === 'verbose' || key === 'redisCluster') {
      o[key] = true;
      continue;
    }
    if (!(key in DEFAULTS) && key !== 'minutes') throw new Error(`unknown option --${flag}`);
    if (value === undefined) {
      i += 1;
      value = argv[i];
      if (value === undefined) throw new Error(`--${flag} needs a value`);
    }
    if (key === 'minutes') {
      const m = Number(value);
      if (!(m > 0)) throw new Error('--minutes must be a positive number');
      o.seconds = m * 60;
    } else if (NUMBERS.has(key)) {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0 || (key === 'seed' && !Number.isSafeInteger(n))) {
        throw new Error(`--${flag} must be a non-negative number, got ${JSON.stringify(value)}`);
      }
      o[key] = n;
    } else if (LISTS.has(key)) {
      o[key].push(...value.split(',').map((s) => s.trim()).filter(Boolean));
    } else {
      o[key] = value;
    }
  }
  if (o.seed === null) o.seed = crypto.randomInt(1, 2 ** 31);
  if ((o.grpc.length === 0) !== (o.edge.length === 0)) {
    throw new Error('give both --grpc and --edge to target a deployment, or neither to start a Herald');
  }
  if (o.redisCluster && (o.cores < 2 || o.grpc.length > 0)) {
    throw new Error('--redis-cluster runs the checker\'s own cores: give --cores N (N >= 2) and no --grpc');
  }
  if (o.runs < 1 || o.emitters < 1 || o.sockets < 1 || o.seconds <= 0 || o.rate <= 0) {
    throw new Error('--runs, --emitters, --sockets, --seconds and --rate must be positive');
  }
  o.edge = o.edge.map((u) => u.replace(/\/+$/, ''));
  return o;
}

module.exports = { parseArgs, USAGE };
