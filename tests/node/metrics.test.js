// /metrics: every metric documented in docs/operations.md is served (with its documented type), the
// exposition is valid Prometheus text, and each metric moves when its event happens.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const {
  REPO_ROOT,
  heraldTest,
  connect,
  connectError,
  makeToken,
  grpcClient,
  jsonArg,
  protoPackage,
  withGuard,
  GUARD_MS,
} = require('./lib/herald');
const { parseProm, sample } = require('./lib/prom');

/** Metrics a core serves only in a cluster (`[broker] url` set): checked by the cluster test below. */
const CLUSTER_ONLY = /^herald_(redis|broker|cluster)_/;

/** The metrics table of docs/operations.md: Map name -> type. */
function documented() {
  const text = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'operations.md'), 'utf8');
  const out = new Map();
  for (const m of text.matchAll(/^\| `([a-z_]+)` \| (counter|gauge|histogram) \|/gm)) out.set(m[1], m[2]);
  return out;
}

function scrape(h) {
  return withGuard(
    new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: h.edgePort, path: '/metrics' }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c) => {
            body += c;
          });
          res.on('end', () => {
            assert.equal(res.statusCode, 200);
            assert.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
            resolve(parseProm(body));
          });
        })
        .on('error', reject);
    }),
    GUARD_MS,
    'GET /metrics',
  );
}

/** Scrapes until `name{labels}` satisfies `ok(value)`; fails with the last value after a generous deadline. */
async function until(h, name, labels, ok, what) {
  const deadline = Date.now() + 30000;
  for (;;) {
    const v = sample(await scrape(h), name, labels);
    if (v !== undefined && ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${name}${JSON.stringify(labels)}: ${what} (last: ${v})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function taskClient(h) {
  const client = new (protoPackage('tasks.proto').TaskService)(h.grpcAddr, grpc.credentials.createInsecure());
  h.track(() => client.close());
  const md = () => {
    const m = new grpc.Metadata();
    m.set('authorization', `Bearer ${h.config.serviceToken}`);
    return m;
  };
  const call = (method, req) =>
    new Promise((resolve, reject) => {
      client[method](req, md(), (err, res) => (err ? reject(err) : resolve(res)));
    });
  return { client, md, call };
}

heraldTest('every documented metric is served with its type, in valid Prometheus text', async (t, h) => {
  const docs = documented();
  assert.ok(docs.size >= 30, `the metrics table lists ${docs.size} metrics`);
  // A worker and a finished task make the task series appear.
  const tasks = taskClient(h);
  const worker = tasks.client.ScrapeTask(tasks.md());
  h.track(() => worker.cancel());
  worker.on('error', () => {});
  worker.write({ hello: { name: 'm', queues: ['scrape'], capacity: 2 } });
  await tasks.call('SubmitTask', { queue: 'push', payload_json: '{}' });
  const families = await scrape(h);
  for (const [name, type] of docs) {
    if (name === 'herald_core_up') continue; // `herald edge` only (checked below with a cluster)
    if (CLUSTER_ONLY.test(name)) continue;
    assert.ok(families.has(name), `${name} is documented but not served`);
    assert.equal(families.get(name).type, type, `${name}: documented as ${type}`);
  }
  for (const name of families.keys()) {
    if (name.startsWith('herald_') || name.startsWith('process_')) {
      assert.ok(docs.has(name), `${name} is served but not documented in docs/operations.md`);
    }
  }
  assert.ok(sample(families, 'process_resident_memory_bytes') > 0);
  assert.ok(sample(families, 'process_open_fds') > 0);
});

heraldTest('emits, deliveries, latency, handshakes, refusals and counts move with their events', async (t, h) => {
  const before = await scrape(h);
  const at = (name, labels = {}) => sample(before, name, labels) || 0;
  const ns = { namespace: '/' };

  const token = makeToken(h.config, { sub: 'alice', rooms: ['lobby'] });
  const ws = await connect(h, '/', { token });
  const polling = await connect(h, '/', { token: makeToken(h.config, { sub: 'bob' }), transports: ['polling'] });
  assert.deepEqual(await ws.timeout(10000).emitWithAck('join', 'lobby'), { ok: true });
  await connectError(h, '/', { token: 'not-a-token' });
  await connectError(h, '/nope', { token });

  const rpc = grpcClient(h);
  await rpc.emit({ targets: ['user:alice'], event: 'hi', args: [jsonArg(1)] });
  await ws.inbox.wait('hi');
  await assert.rejects(rpc.emit({ targets: ['nowhere:x'], event: 'hi', args: [] }));

  const grew = (name, labels = {}, by = 1) =>
    until(h, name, { ...labels }, (v) => v >= at(name, labels) + by, `should grow by ${by}`);
  await grew('herald_emits_total', { ...ns, result: 'ok' });
  await grew('herald_emits_total', { ...ns, result: 'invalid' });
  await grew('herald_deliveries_total', { ...ns, result: 'queued' });
  await grew('herald_edge_emit_to_write_seconds_count');
  await grew('herald_edge_handshakes_total', { transport: 'websocket' });
  await grew('herald_edge_handshakes_total', { transport: 'polling' });
  await grew('herald_edge_sessions_opened_total', {}, 2);
  await grew('herald_edge_connect_refusals_total', { reason: 'auth' });
  await grew('herald_edge_connect_refusals_total', { reason: 'namespace' });
  await grew('herald_edge_frames_sent_total');
  await grew('herald_connections', ns, 2);
  await grew('herald_users', ns, 2);
  await grew('herald_rooms', ns, 1);
  await grew('herald_edge_sockets', ns, 2);
  await grew('herald_edge_sessions', {}, 2);

  const sub = rpc.subscribe({ topics: ['room:lobby'] });
  await sub.ready();
  await grew('herald_subscribers');
  polling.disconnect();
});

heraldTest(
  'in a cluster, the Redis and broker metrics are served with their documented types and move',
  {
    config: {
      extraToml: [
        '[broker]',
        `url = ${JSON.stringify(process.env.HERALD_TEST_REDIS_URL || 'redis://127.0.0.1:6379')}`,
        `key_prefix = "herald-test-metrics-${process.pid}-${Date.now()}"`,
        '[store]',
        'url = ""',
      ].join('\n'),
    },
  },
  async (t, h) => {
    const docs = documented();
    const clusterOnly = [...docs.keys()].filter((n) => CLUSTER_ONLY.test(n));
    assert.ok(clusterOnly.length >= 8, `${clusterOnly.length} cluster metrics documented`);
    await until(h, 'herald_cluster_nodes', {}, (v) => v === 1, 'the core counts itself live');
    await until(h, 'herald_redis_subscriber_connected', {}, (v) => v === 1, 'the subscriber connection is up');
    const families = await scrape(h);
    for (const name of clusterOnly) {
      assert.ok(families.has(name), `${name} is documented but not served in a cluster`);
      assert.equal(families.get(name).type, docs.get(name), `${name}: documented as ${docs.get(name)}`);
    }
    const ok = (f) => sample(f, 'herald_redis_commands_total', { result: 'ok' }) || 0;
    const before = ok(families);
    const topicsBefore = sample(families, 'herald_broker_topics');
    const ws = await connect(h, '/', { token: makeToken(h.config, { sub: 'carol' }) });
    await until(h, 'herald_broker_topics', {}, (v) => v > topicsBefore, 'the core follows the new topics');
    await grpcClient(h).emit({ targets: ['user:carol'], event: 'hi', args: [jsonArg(1)] });
    await ws.inbox.wait('hi');
    const after = await scrape(h);
    assert.ok(ok(after) > before, 'commands counted');
    assert.ok(
      sample(after, 'herald_redis_command_seconds_count') >= ok(after),
      'every command measured',
    );
    ws.disconnect();
  },
);

heraldTest('task and worker metrics move with submits, workers and finished tasks', async (t, h) => {
  const before = await scrape(h);
  const at = (name, labels = {}) => sample(before, name, labels) || 0;
  const tasks = taskClient(h);
  const worker = tasks.client.ScrapeTask(tasks.md());
  h.track(() => worker.cancel());
  worker.on('error', () => {});
  const assigned = new Promise((resolve) => {
    worker.on('data', (m) => {
      if (m.msg === 'assignment') resolve(m.assignment);
    });
  });
  worker.write({ hello: { name: 'metrics-worker', queues: ['scrape'], capacity: 3 } });
  await until(h, 'herald_workers', { queue: 'scrape' }, (v) => v === 1, 'one live worker');
  await until(h, 'herald_worker_capacity', { queue: 'scrape' }, (v) => v === 3, 'its capacity');

  const submitted = await tasks.call('SubmitTask', { queue: 'scrape', payload_json: '{"n":1}' });
  const a = await withGuard(assigned, GUARD_MS, 'the assignment');
  await until(h, 'herald_worker_busy', { queue: 'scrape' }, (v) => v === 1, 'one task held');
  await until(h, 'herald_tasks', { queue: 'scrape', status: 'running' }, (v) => v === 1, 'one running task');

  worker.write({ result: { task_id: a.task.id, lease_token: a.lease_token, result_json: '{"ok":true}' } });
  await until(h, 'herald_tasks', { queue: 'scrape', status: 'succeeded' }, (v) => v === 1, 'one succeeded task');
  assert.equal(submitted.task.id, a.task.id);
  await until(
    h,
    'herald_task_duration_seconds_count',
    {},
    (v) => v >= at('herald_task_duration_seconds_count') + 1,
    'a finished task measured',
  );
  await until(h, 'herald_task_attempts_count', {}, (v) => v >= at('herald_task_attempts_count') + 1, 'its attempts');
  await until(h, 'herald_task_attempts_sum', {}, (v) => v >= at('herald_task_attempts_sum') + 1, 'one attempt');
  await until(h, 'herald_worker_busy', { queue: 'scrape' }, (v) => v === 0, 'the slot freed');
});

const { test } = require('node:test');
const os = require('node:os');
const { coreAndEdge } = require('./lib/cluster');
const { writeConfig } = require('./lib/config');
const { freePort } = require('./lib/herald');

test('herald core serves its metrics on core.metrics_listen; herald edge reports herald_core_up', { timeout: 60000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-metrics-'));
  const config = writeConfig(dir);
  const metricsPort = await freePort();
  fs.writeFileSync(
    config.path,
    config.text.replace('[core]\n', `[core]\nmetrics_listen = "127.0.0.1:${metricsPort}"\n`),
  );
  const procs = [];
  try {
    const { edgePort } = await coreAndEdge(dir, config.path, procs);
    const coreMetrics = parseProm(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
    assert.ok(coreMetrics.has('herald_emits_total'));
    assert.ok(coreMetrics.has('process_resident_memory_bytes'));
    assert.ok(!coreMetrics.has('herald_edge_sessions'), 'the core serves no edge metrics');
    const h = { edgePort };
    await until(h, 'herald_core_up', {}, (v) => v === 1, 'the edge sees its core');
    await until(h, 'herald_edges', {}, (v) => v === 1, 'the core counts the edge');
    const notFound = await fetch(`http://127.0.0.1:${metricsPort}/other`);
    assert.equal(notFound.status, 404);
  } finally {
    for (const p of procs.reverse()) await p.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the Grafana dashboard uses only documented metrics', () => {
  const dash = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'docs', 'grafana-dashboard.json'), 'utf8'));
  const docs = documented();
  const used = new Set();
  for (const panel of dash.panels) {
    assert.ok(panel.targets.length > 0, `panel ${panel.title} has a query`);
    for (const target of panel.targets) {
      for (const m of target.expr.matchAll(/\b((?:herald|process)_[a-z_]+)/g)) {
        const name = m[1].replace(/_(bucket|sum|count)$/, '');
        assert.ok(docs.has(name), `${panel.title}: ${m[1]} is not a documented metric`);
        used.add(name);
      }
    }
  }
  assert.ok(used.size >= 20, `the dashboard uses ${used.size} metrics`);
});
