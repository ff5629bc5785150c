// The seeds' Lead Finder flow with real clients: a backend submits a scrape task over gRPC, a worker
// takes it on the ScrapeTask stream, and the submitting user's socket.io-client receives
// `scrape_complete` (or `scrape_failed`) through the normal Emit path.
'use strict';

const assert = require('node:assert/strict');
const grpc = require('@grpc/grpc-js');
const { heraldTest, connect, makeToken, protoPackage, grpcClient, jsonArg } = require('./lib/herald');

function taskClient(h) {
  const client = new (protoPackage('tasks.proto').TaskService)(h.grpcAddr, grpc.credentials.createInsecure());
  h.track(() => client.close());
  const md = () => {
    const m = new grpc.Metadata();
    m.set('authorization', `Bearer ${h.config.serviceToken}`);
    return m;
  };
  return {
    submit: (req) =>
      new Promise((resolve, reject) => {
        client.SubmitTask(req, md(), (err, res) => (err ? reject(err) : resolve(res)));
      }),
    /** A worker on `queue` that answers each assignment with `answer(task)`: {result} or {error}. */
    worker(queue, answer) {
      const stream = client.ScrapeTask(md());
      h.track(() => stream.cancel());
      stream.on('error', () => {});
      stream.write({ hello: { name: 'node-worker', queues: [queue], capacity: 1 } });
      stream.on('data', (msg) => {
        if (msg.msg !== 'assignment') return;
        const { task, lease_token: token } = msg.assignment;
        const a = answer(task);
        if (a.result !== undefined) {
          stream.write({ result: { task_id: task.id, lease_token: token, result_json: JSON.stringify(a.result) } });
        } else {
          stream.write({ failure: { task_id: task.id, lease_token: token, error: a.error, retryable: false } });
        }
      });
      return stream;
    },
  };
}

heraldTest('the submitting user receives scrape_complete with the result', async (t, h) => {
  const user = await connect(h, '/', { token: makeToken(h.config, { sub: '42' }) });
  const other = await connect(h, '/', { token: makeToken(h.config, { sub: '43' }) });
  const tasks = taskClient(h);
  tasks.worker('scrape', (task) => {
    const { keyword, location } = JSON.parse(task.payload_json);
    return { result: { leads_found: 42, keyword, location } };
  });
  const submitted = await tasks.submit({
    queue: 'scrape',
    payload_json: JSON.stringify({ keyword: 'plumber', location: 'NYC' }),
    notify: { topic: 'user:42', completed_event: 'scrape_complete', failed_event: 'scrape_failed' },
  });
  assert.equal(submitted.created, true);

  const [[done]] = await user.inbox.wait('scrape_complete');
  assert.equal(done.task_id, submitted.task.id);
  assert.equal(done.status, 'succeeded');
  assert.deepEqual(done.result, { leads_found: 42, keyword: 'plumber', location: 'NYC' });

  // Only the submitting user was told: a marker to the other user arrives with nothing before it.
  await grpcClient(h).emit({ targets: ['user:43'], event: 'marker', args: [jsonArg(1)] });
  await other.inbox.wait('marker');
  assert.deepEqual(other.inbox.all('scrape_complete'), []);
});

heraldTest('a task that fails for good reaches the user as scrape_failed with its error', async (t, h) => {
  const user = await connect(h, '/', { token: makeToken(h.config, { sub: '42' }) });
  const tasks = taskClient(h);
  tasks.worker('scrape', () => ({ error: 'blocked by the site' }));
  const submitted = await tasks.submit({
    queue: 'scrape',
    payload_json: '{"keyword":"dentist"}',
    notify: { topic: 'user:42', completed_event: 'scrape_complete', failed_event: 'scrape_failed' },
  });
  const [[failed]] = await user.inbox.wait('scrape_failed');
  assert.equal(failed.task_id, submitted.task.id);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error, 'blocked by the site');
  assert.deepEqual(user.inbox.all('scrape_complete'), []);
});
