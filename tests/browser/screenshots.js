// Takes the README's screenshots (docs/demo.png, docs/admin-console.png) from a running demo:
//   node tests/browser/screenshots.js
// Needs what the browser suite needs (tests/node's npm install, Debian's chromium).
'use strict';

const path = require('node:path');
const { REPO, launch, startDemo, seeText, until } = require('./lib/browser');

const SECRET = 'herald-demo-admin';

async function openAs(browser, demo, user) {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 720 } })).newPage();
  await page.goto(`${demo.url}?user=${user}`);
  await seeText(page.locator('#conn'), `Connected as ${user}`);
  await until(async () => (await page.locator('#convos li').count()) > 0, `${user}'s inbox`);
  return page;
}

async function say(page, conv, text) {
  await page.locator(`#convos li[data-conv="${conv}"] button`).click();
  await page.locator('#text').fill(text);
  await page.locator('#composer button[type=submit]').click();
  await seeText(page.locator('#messages li .text').last(), text);
}

async function main() {
  const demo = await startDemo({ DEMO_ADMIN_SECRET: SECRET });
  const browser = await launch();
  try {
    const alice = await openAs(browser, demo, 'alice');
    const bob = await openAs(browser, demo, 'bob');
    await say(alice, 'c-team', 'Standup in 5?');
    await say(alice, 'c-ac', 'Carol, the Springfield list is ready');
    await seeText(alice.locator('#pushes li').last(), 'push sent to carol: “Carol, the Springfield list is ready”');
    await say(alice, 'c-ab', 'Hi Bob! Did the plumber leads come in?');
    await bob.locator('#convos li[data-conv="c-ab"] button').click();
    await seeText(alice.locator('#messages li.mine .ticks').last(), '✓✓ Read');
    await say(bob, 'c-ab', 'Yes, 42 of them. Sending the file now');
    await alice.getByRole('button', { name: 'Find leads' }).click();
    await seeText(alice.locator('#leads-status'), '42 leads found');
    await bob.getByRole('button', { name: 'Announce to everyone' }).click();
    await seeText(alice.locator('#banner-text'), 'Scheduled maintenance on Monday, 2-4 AM');
    await bob.locator('#text').pressSequentially('one more thing');
    await seeText(alice.locator('#typing'), 'Bob is typing…');
    await alice.screenshot({ path: path.join(REPO, 'docs', 'demo.png') });

    const ops = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await ops.goto(`${demo.url}admin/`);
    await ops.getByLabel('Admin secret').fill(SECRET);
    await ops.getByRole('button', { name: 'Sign in' }).click();
    await until(async () => (await ops.locator('#workers tr').count()) === 2, 'the workers');
    await ops.getByLabel('User id').fill('bob');
    await ops.getByRole('button', { name: 'Look up' }).click();
    await ops.locator('#room-name').fill('conv:c-team');
    await ops.getByRole('button', { name: 'Members' }).click();
    await ops.getByLabel('Topic').fill('user:bob');
    await ops.getByRole('button', { name: 'Show history' }).click();
    await ops.getByRole('button', { name: 'Show tasks' }).click();
    await until(async () => (await ops.locator('#tasks tr').count()) >= 2, 'the tasks');
    await until(async () => /^\d+\.\d$/.test((await ops.locator('#eps').innerText()).trim()), 'events per second');
    await ops.screenshot({ path: path.join(REPO, 'docs', 'admin-console.png'), fullPage: true });
    console.log('wrote docs/demo.png and docs/admin-console.png');
  } catch (e) {
    console.error(demo.logs());
    throw e;
  } finally {
    await browser.close();
    await demo.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
