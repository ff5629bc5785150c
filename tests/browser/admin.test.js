// The admin console (/admin/ on the edge) in a real browser, next to demo users in their own browser
// contexts, plus its JSON API's refusals. Every assertion is about what the operator or a user sees.
'use strict';

const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { REPO, demoTest, seeText, texts, until } = require('./lib/browser');

const SECRET = 'console-test-secret';

async function openAs(context, demo, user) {
  const page = await context.newPage();
  await page.goto(`${demo.url}?user=${user}`);
  await seeText(page.locator('#conn'), `Connected as ${user}`);
  await until(async () => (await page.locator('#convos li').count()) > 0, `${user}'s inbox`);
  return page;
}

async function openConsole(browser, demo) {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${demo.url}admin/`);
  await page.getByLabel('Admin secret').fill(SECRET);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Live' }).waitFor();
  return page;
}

/** The cells of the row whose first cell is `first`, in a table body. */
async function rowOf(page, tbody, first) {
  const rows = page.locator(`#${tbody} tr`).filter({ has: page.locator('td').first().getByText(first, { exact: true }) });
  return texts(rows.first().locator('td'));
}

demoTest('a wrong or missing admin secret gets 401 with a message, in the API and on the page', async (t, { demo, browser }) => {
  const page = await (await browser.newContext()).newPage();
  const none = await page.request.get(`${demo.url}admin/api/stats`);
  assert.equal(none.status(), 401);
  assert.match((await none.json()).error, /wrong or missing admin secret/);
  const wrong = await page.request.post(`${demo.url}admin/api/emit`, {
    headers: { Authorization: 'Bearer nope' },
    data: { targets: ['*'], event: 'x' },
  });
  assert.equal(wrong.status(), 401, 'refused before the body is even read');

  await page.goto(`${demo.url}admin/`);
  await page.getByLabel('Admin secret').fill('not-the-secret');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await seeText(page.locator('#login-msg'), 'wrong or missing admin secret (send Authorization: Bearer <edge.admin_secret>)');
  assert.equal(await page.locator('#console').isVisible(), false);
}, { DEMO_ADMIN_SECRET: SECRET });

demoTest('without edge.admin_secret the console and its API do not exist', async (t, { demo, browser }) => {
  const page = await (await browser.newContext()).newPage();
  for (const url of [`${demo.url}admin/`, `${demo.url}admin/api/stats`]) {
    const r = await page.request.get(url, { headers: { Authorization: 'Bearer ' } });
    assert.equal(r.status(), 404, url);
    assert.match(await r.text(), /the admin console is disabled: set edge.admin_secret/);
  }
}, { DEMO_ADMIN_SECRET: '' });

demoTest('live view, a user and a room, history, emit and disconnect', async (t, { demo, browser }) => {
  const alice = await openAs(await browser.newContext(), demo, 'alice');
  const bob = await openAs(await browser.newContext(), demo, 'bob');
  const ops = await openConsole(browser, demo);

  await until(async () => (await rowOf(ops, 'namespaces', '/')).slice(0, 4).join('|') === '/|2|2|4', 'the / namespace with 2 connections, 2 users, 4 rooms');
  await until(async () => /^\d+\.\d$/.test((await rowOf(ops, 'namespaces', '/'))[5]), "the / namespace's events per second");
  await until(async () => /^\d+\.\d$/.test((await ops.locator('#eps').innerText()).trim()), 'an events-per-second figure');
  assert.deepEqual(await rowOf(ops, 'workers', 'demo-scraper'), ['demo-scraper', 'scrape', '2', '0']);
  assert.deepEqual(await rowOf(ops, 'workers', 'demo-push'), ['demo-push', 'push', '4', '0']);

  // A user's presence and connections; an unknown user is simply offline.
  await ops.getByLabel('User id').fill('bob');
  await ops.getByRole('button', { name: 'Look up' }).click();
  await seeText(ops.locator('#user-out .presence'), 'bob: online, 1 connection');
  assert.equal(await ops.locator('#user-out li button').count(), 1, "a button per bob's connection");
  await ops.getByLabel('User id').fill('zed');
  await ops.getByRole('button', { name: 'Look up' }).click();
  await seeText(ops.locator('#user-out .presence'), 'zed: offline, no connection');
  assert.equal(await ops.getByRole('button', { name: 'Disconnect user' }).isVisible(), false);

  // A room's members.
  await ops.locator('#room-name').fill('conv:c-ab');
  await ops.getByRole('button', { name: 'Members' }).click();
  await seeText(ops.locator('#room-out p'), 'conv:c-ab: 2 users, 2 connections');
  assert.deepEqual((await texts(ops.locator('#room-out li'))).sort(), ['alice (1)', 'bob (1)']);

  // History of a topic: alice's message to bob is in bob's user topic.
  await alice.locator('#convos li[data-conv="c-ab"] button').click();
  await alice.locator('#text').fill('seen by ops');
  await alice.locator('#composer button[type=submit]').click();
  await seeText(bob.locator('#convos li[data-conv="c-ab"] .badge'), '1');
  await ops.getByLabel('Topic').fill('user:bob');
  await ops.getByRole('button', { name: 'Show history' }).click();
  await until(async () => (await texts(ops.locator('#history-out li'))).some((x) => x.startsWith('new_message ') && x.includes('"text":"seen by ops"')), 'the message in the history');

  // Emit to any target; bad input gets a clear message.
  await ops.getByLabel('Targets (comma-separated)').fill('user:bob');
  await ops.getByLabel('Event').fill('system_announcement');
  await ops.getByLabel('Arguments (a JSON array)').fill('[{"title":"Ops","message":"from the console"}]');
  const eventsBefore = Number((await rowOf(ops, 'namespaces', '/'))[4]);
  await ops.getByRole('button', { name: 'Emit' }).click();
  await seeText(ops.locator('#emit-msg'), 'Sent to 1 connection');
  await until(async () => Number((await rowOf(ops, 'namespaces', '/'))[4]) > eventsBefore, "the emit in the / namespace's events");
  await seeText(bob.locator('#banner-text'), 'from the console');
  assert.equal(await alice.locator('#banner').isVisible(), false, 'only bob was targeted');
  await ops.getByLabel('Targets (comma-separated)').fill('bob');
  await ops.getByRole('button', { name: 'Emit' }).click();
  await seeText(ops.locator('#emit-msg'), 'targets: topic "bob": expected "user:ID", "room:NAME", "conn:ID" or "*"');
  await ops.getByLabel('Arguments (a JSON array)').fill('{oops');
  await ops.getByRole('button', { name: 'Emit' }).click();
  await until(async () => (await ops.locator('#emit-msg').innerText()).startsWith('Arguments must be a JSON array'), 'the JSON complaint');

  // Disconnect a user with a reason: the user's page says why.
  await ops.getByLabel('User id').fill('bob');
  await ops.getByRole('button', { name: 'Look up' }).click();
  await seeText(ops.locator('#user-out .presence'), 'bob: online, 1 connection');
  await ops.getByLabel('Reason shown to the user').fill('maintenance window');
  await ops.getByRole('button', { name: 'Disconnect user' }).click();
  await seeText(ops.locator('#user-msg'), 'Disconnected 1 connection');
  await seeText(bob.locator('#conn'), 'Disconnected by the server: maintenance window');
  await seeText(ops.locator('#user-out .presence'), 'bob: offline, no connection');
  await seeText(alice.locator('#people li[data-user="bob"] .state'), 'offline');

  // Disconnect one connection: only that tab of alice's is closed.
  const alice2 = await openAs(alice.context(), demo, 'alice');
  await ops.getByLabel('User id').fill('alice');
  await ops.getByRole('button', { name: 'Look up' }).click();
  await seeText(ops.locator('#user-out .presence'), 'alice: online, 2 connections');
  const target = (await ops.locator('#user-out li .mono').first().innerText()).trim();
  await ops.getByLabel('Reason shown to the user').fill('one tab too many');
  await ops.getByRole('button', { name: `Disconnect ${target}` }).click();
  await seeText(ops.locator('#user-msg'), 'Disconnected 1 connection');
  await seeText(ops.locator('#user-out .presence'), 'alice: online, 1 connection');
  const states = async () => (await Promise.all([alice, alice2].map((p) => p.locator('#conn').innerText()))).map((x) => x.trim()).sort();
  await until(async () => (await states()).join('|') === 'Connected as alice|Disconnected by the server: one tab too many', 'one of the two tabs closed');

  const api = await ops.request.post(`${demo.url}admin/api/disconnect`, {
    headers: { Authorization: `Bearer ${SECRET}` },
    data: { user_id: 'bob', reason: 'again' },
  });
  assert.equal(api.status(), 404);
  assert.deepEqual(await api.json(), { error: 'user bob has no connection in namespace /' });
}, { DEMO_ADMIN_SECRET: SECRET });

demoTest('tasks: cancel a queued one, retry it, and see it run once a worker connects', async (t, { demo, browser }) => {
  const alice = await openAs(await browser.newContext(), demo, 'alice');
  const ops = await openConsole(browser, demo);
  assert.equal(await ops.locator('#workers tr').count(), 0, 'no worker yet');

  await alice.getByRole('button', { name: 'Find leads' }).click();
  await seeText(alice.locator('#leads-status'), 'Searching for plumber in Springfield…');
  await ops.getByLabel('Status').selectOption('queued');
  await ops.getByRole('button', { name: 'Show tasks' }).click();
  await seeText(ops.locator('#tasks-msg'), '1 task');
  const id = (await ops.locator('#tasks tr td').first().innerText()).trim();
  const row = ops.locator(`#tasks tr[data-task="${id}"] td`);
  assert.deepEqual((await texts(row)).slice(1, 5), ['scrape', 'queued', '0/3', '']);

  await ops.getByLabel('Status').selectOption('');
  await ops.getByRole('button', { name: `Cancel task ${id}` }).click();
  await seeText(ops.locator('#tasks-msg'), `Task ${id} is cancelled`);
  assert.deepEqual((await texts(row)).slice(1, 5), ['scrape', 'cancelled', '0/3', 'cancelled by an operator']);
  await seeText(alice.locator('#leads-status'), 'Search failed: cancelled by an operator');

  await ops.getByRole('button', { name: `Retry task ${id}` }).click();
  await seeText(ops.locator('#tasks-msg'), `Task ${id} is queued`);
  assert.deepEqual((await texts(row)).slice(1, 4), ['scrape', 'queued', '0/3']);
  // Retrying a queued task is refused with a reason.
  const again = await ops.request.post(`${demo.url}admin/api/tasks/${id}/retry`, { headers: { Authorization: `Bearer ${SECRET}` } });
  assert.equal(again.status(), 409);
  assert.match((await again.json()).error, /queued/);
  const unknown = await ops.request.post(`${demo.url}admin/api/tasks/no-such-task/cancel`, { headers: { Authorization: `Bearer ${SECRET}` } });
  assert.equal(unknown.status(), 404);
  assert.deepEqual(await unknown.json(), { error: 'no task no-such-task' });

  // A worker connects: the retried task runs and alice gets her leads.
  const worker = spawn(path.join(REPO, '.venv', 'bin', 'python'), [path.join(REPO, 'examples', 'demo', 'workers.py'), '--url', demo.core], {
    stdio: 'ignore',
    env: { ...process.env, PYTHONPATH: path.join(REPO, 'clients', 'python') },
  });
  t.after(() => worker.kill());
  await seeText(alice.locator('#leads-status'), '42 leads found');
  await until(async () => (await ops.locator('#workers tr').count()) === 2, 'the workers in the live view');
  await ops.getByRole('button', { name: 'Show tasks' }).click();
  await until(async () => (await texts(row)).slice(1, 4).join('|') === 'scrape|succeeded|1/3', 'the task succeeded on its first new attempt');
}, { DEMO_ADMIN_SECRET: SECRET, DEMO_WORKERS: '0' });
