// The demo (bash examples/demo/run.sh) in a real browser: two users in two browser contexts, one
// user in two tabs, the network dropped and restored. Every assertion is about what the page shows.
'use strict';

const assert = require('node:assert/strict');
const { demoTest, seeText, texts, until } = require('./lib/browser');

/** A tab signed in as `user` (its own token from the demo backend), with its inbox loaded. */
async function openAs(context, demo, user) {
  const page = await context.newPage();
  await page.goto(`${demo.url}?user=${user}`);
  await seeText(page.locator('#conn'), `Connected as ${user}`);
  await until(async () => (await page.locator('#convos li').count()) > 0, `${user}'s inbox`);
  return page;
}

const conv = (page, id) => page.locator(`#convos li[data-conv="${id}"]`);
const snoozedConv = (page, id) => page.locator(`#snoozed li[data-conv="${id}"]`);
const badge = (page, id) => conv(page, id).locator('.badge');
const person = (page, user) => page.locator(`#people li[data-user="${user}"] .state`);
const lastTicks = (page) => page.locator('#messages li.mine .ticks').last();

async function send(page, text) {
  await page.locator('#text').fill(text);
  await page.locator('#composer button[type=submit]').click();
}

demoTest('a new user picks a demo user and gets a token of their own', async (t, { demo, browser }) => {
  const page = await (await browser.newContext()).newPage();
  await page.goto(demo.url);
  await page.getByRole('heading', { name: 'Pick a demo user' }).waitFor();
  assert.deepEqual(await texts(page.locator('#picker .users button')), ['alice', 'bob', 'carol']);
  await page.getByRole('button', { name: 'bob' }).click();
  await seeText(page.locator('#conn'), 'Connected as bob');
  await seeText(page.locator('#me'), 'Signed in as bob (switch user)');
  assert.deepEqual(await texts(page.locator('#convos li .title')), ['Alice', 'Team']);

  const stranger = await (await browser.newContext()).newPage();
  await stranger.goto(`${demo.url}?user=mallory`);
  await seeText(stranger.locator('#picker-error'), 'No token for mallory: pick one of alice, bob, carol');
});

demoTest('messages: unread badge, delivered then read ticks, presence dots', async (t, { demo, browser }) => {
  const alice = await openAs(await browser.newContext(), demo, 'alice');
  await seeText(person(alice, 'bob'), 'offline');
  const bobContext = await browser.newContext();
  const bob = await openAs(bobContext, demo, 'bob');
  await seeText(person(alice, 'bob'), 'online');
  await seeText(person(bob, 'alice'), 'online');
  assert.equal(await conv(alice, 'c-ab').locator('.dot.online').count(), 1, 'the direct conversation shows bob online');

  await conv(alice, 'c-ab').locator('button').click();
  await send(alice, 'hello bob');
  await seeText(alice.locator('#messages li.mine .text'), 'hello bob');
  // Bob's device acked the event: delivered, not read (he has not opened the conversation).
  await seeText(lastTicks(alice), '✓✓ Delivered');
  await seeText(badge(bob, 'c-ab'), '1');
  await send(alice, 'are you there?');
  await seeText(badge(bob, 'c-ab'), '2');

  await conv(bob, 'c-ab').locator('button').click();
  assert.deepEqual(await texts(bob.locator('#messages li .text')), ['hello bob', 'are you there?']);
  assert.equal(await badge(bob, 'c-ab').count(), 0, 'opening the conversation clears the badge');
  await until(async () => (await texts(alice.locator('#messages li.mine .ticks'))).every((x) => x === '✓✓ Read'), 'both messages read');

  // In the group, "read" needs every other member: carol is offline, so alice's message is only sent.
  await conv(alice, 'c-team').locator('button').click();
  await send(alice, 'team lunch?');
  await seeText(lastTicks(alice), '✓ Sent');

  await bobContext.close();
  await seeText(person(alice, 'bob'), 'offline');
  assert.equal(await conv(alice, 'c-ab').locator('.dot.online').count(), 0);
});

demoTest('one user in two tabs: typing, read state and snooze stay in sync', async (t, { demo, browser }) => {
  const aliceContext = await browser.newContext();
  const tab1 = await openAs(aliceContext, demo, 'alice');
  const tab2 = await openAs(aliceContext, demo, 'alice');
  const bob = await openAs(await browser.newContext(), demo, 'bob');
  for (const p of [tab1, tab2, bob]) await conv(p, 'c-ab').locator('button').click();

  // Alice types in tab 1: bob sees it, alice's own other tab never does.
  await tab1.locator('#text').pressSequentially('hi b');
  await seeText(bob.locator('#typing'), 'Alice is typing…');
  assert.equal((await tab2.locator('#typing').innerText()).trim(), '', "the typist's other tab shows nothing");
  // Three seconds without typing clear it.
  await seeText(bob.locator('#typing'), '', 'the typing indicator to clear');

  // Bob types: both of alice's tabs see it.
  await bob.locator('#text').pressSequentially('hey');
  await seeText(tab1.locator('#typing'), 'Bob is typing…');
  await seeText(tab2.locator('#typing'), 'Bob is typing…');
  await bob.locator('#composer button[type=submit]').click();
  // The message replaces the indicator in both tabs.
  for (const tab of [tab1, tab2]) {
    await seeText(tab.locator('#messages li .text').last(), 'hey');
    await seeText(tab.locator('#typing'), '');
  }

  // A message arriving while tab 1 looks elsewhere: tab 2 has the conversation open and reads it,
  // so tab 1's badge never stays.
  await conv(tab1, 'c-team').locator('button').click();
  await send(bob, 'second');
  await seeText(tab2.locator('#messages li .text').last(), 'second');
  await seeText(lastTicks(bob), '✓✓ Read');
  assert.equal(await badge(tab1, 'c-ab').count(), 0);

  // Snooze in tab 1 moves the conversation to Snoozed in tab 2; unsnooze in tab 2 brings it back.
  await conv(tab1, 'c-ab').locator('button').click();
  await tab1.getByRole('button', { name: 'Snooze', exact: true }).click();
  await snoozedConv(tab2, 'c-ab').waitFor();
  assert.equal(await conv(tab2, 'c-ab').count(), 0);
  assert.equal(await snoozedConv(bob, 'c-ab').count(), 0, "a snooze is alice's alone");
  await tab2.getByRole('button', { name: 'Unsnooze' }).click();
  await conv(tab1, 'c-ab').waitFor();
  assert.equal(await snoozedConv(tab1, 'c-ab').count(), 0);
});

demoTest('a system announcement reaches every user as a banner', async (t, { demo, browser }) => {
  const alice = await openAs(await browser.newContext(), demo, 'alice');
  const bob = await openAs(await browser.newContext(), demo, 'bob');
  const carol = await openAs(await browser.newContext(), demo, 'carol');
  for (const p of [alice, bob, carol]) assert.equal(await p.locator('#banner').isVisible(), false);
  await alice.locator('#announce-text').fill('Deploy at noon');
  await alice.getByRole('button', { name: 'Announce to everyone' }).click();
  for (const p of [alice, bob, carol]) {
    await seeText(p.locator('#banner-text'), 'Deploy at noon');
    assert.equal(await p.getByRole('alert').filter({ hasText: 'Deploy at noon' }).isVisible(), true);
    assert.equal((await p.locator('#banner-title').innerText()).trim(), 'Announcement:');
  }
  await bob.getByRole('button', { name: 'Dismiss announcement' }).click();
  assert.equal(await bob.locator('#banner').isVisible(), false);
});

demoTest('lead finder: a Python worker finds 42 leads, shown to the submitting user only', async (t, { demo, browser }) => {
  const alice = await openAs(await browser.newContext(), demo, 'alice');
  const bob = await openAs(await browser.newContext(), demo, 'bob');
  // Record every text the status line shows, so the short progress phase cannot be missed.
  await alice.evaluate(() => {
    window.leadTexts = [];
    const node = document.getElementById('leads-status');
    new MutationObserver(() => window.leadTexts.push(node.textContent)).observe(node, { childList: true, characterData: true, subtree: true });
  });
  await alice.getByRole('button', { name: 'Find leads' }).click();
  await seeText(alice.locator('#leads-status'), '42 leads found');
  const seen = await alice.evaluate(() => window.leadTexts);
  assert.ok(seen.includes('Searching for plumber in Springfield…'), JSON.stringify(seen));
  assert.ok(seen.includes('Searching… page 1 of 5, 10 leads so far'), JSON.stringify(seen));
  assert.ok(seen.includes('Searching… page 5 of 5, 42 leads so far'), JSON.stringify(seen));
  assert.equal((await bob.locator('#leads-status').innerText()).trim(), '', "bob sees nothing of alice's search");

  await alice.locator('#keyword').fill('');
  await alice.getByRole('button', { name: 'Find leads' }).click();
  await seeText(alice.locator('#leads-status'), 'Not submitted: give a keyword and a location');
});

demoTest('network drop: the page says the session was recovered and missed messages appear once, in order', async (t, { demo, browser }) => {
  const alice = await openAs(await browser.newContext(), demo, 'alice');
  const bobContext = await browser.newContext();
  const bob = await openAs(bobContext, demo, 'bob');
  await conv(alice, 'c-ab').locator('button').click();
  await conv(bob, 'c-ab').locator('button').click();
  await send(alice, 'before');
  await seeText(bob.locator('#messages li .text'), 'before');
  // socket.io-client keeps the offset of the last event that asked for no ack (new_message asks for
  // one): bob's read receipt, which also clears his badge, gives him one to come back with.
  await until(async () => (await badge(bob, 'c-ab').count()) === 0, "bob's read receipt");

  await bobContext.setOffline(true);
  await seeText(bob.locator('#conn'), 'Offline: reconnecting…');
  for (const text of ['missed 1', 'missed 2', 'missed 3']) {
    await send(alice, text);
    await seeText(alice.locator('#messages li.mine .text').last(), text);
  }
  await bobContext.setOffline(false);
  await seeText(bob.locator('#conn'), 'Reconnected: session recovered, missed messages replayed');
  await until(async () => (await bob.locator('#messages li').count()) >= 4, 'the missed messages');
  assert.deepEqual(await texts(bob.locator('#messages li .text')), ['before', 'missed 1', 'missed 2', 'missed 3']);
  // Bob has the conversation open: alice sees all of them read.
  await until(async () => (await texts(alice.locator('#messages li.mine .ticks'))).every((x) => x === '✓✓ Read'),
    'read ticks').catch(async (e) => { throw new Error(`${e.message}: ${await texts(alice.locator('#messages li.mine'))}`); });
  // Live traffic after the recovery is not duplicated either.
  await send(alice, 'after');
  await seeText(bob.locator('#messages li .text').last(), 'after');
  assert.deepEqual(await texts(bob.locator('#messages li .text')), ['before', 'missed 1', 'missed 2', 'missed 3', 'after']);
});

demoTest('network drop with nothing to resume from: the page says not recovered and reloads, each message once', async (t, { demo, browser }) => {
  const alice = await openAs(await browser.newContext(), demo, 'alice');
  const bobContext = await browser.newContext();
  const bob = await openAs(bobContext, demo, 'bob');
  // Bob opens nothing: every event he gets asks for an ack, so socket.io-client holds no offset.
  await conv(alice, 'c-ab').locator('button').click();
  await send(alice, 'first');
  await seeText(badge(bob, 'c-ab'), '1');

  await bobContext.setOffline(true);
  await seeText(bob.locator('#conn'), 'Offline: reconnecting…');
  await send(alice, 'second');
  await send(alice, 'third');
  await until(async () => (await alice.locator('#messages li.mine').count()) === 3, "alice's three messages");
  await bobContext.setOffline(false);
  await seeText(bob.locator('#conn'), 'Reconnected: session not recovered, inbox reloaded');
  await seeText(badge(bob, 'c-ab'), '3');
  await conv(bob, 'c-ab').locator('button').click();
  assert.deepEqual(await texts(bob.locator('#messages li .text')), ['first', 'second', 'third']);
  await until(async () => (await texts(alice.locator('#messages li.mine .ticks'))).every((x) => x === '✓✓ Read'), 'read ticks');
});

demoTest('push when offline: a message to bob with no connection becomes "push sent to bob"', async (t, { demo, browser }) => {
  const alice = await openAs(await browser.newContext(), demo, 'alice');
  await conv(alice, 'c-ab').locator('button').click();
  await send(alice, 'call me');
  await seeText(alice.locator('#pushes li'), 'push sent to bob: “call me”');
  await seeText(lastTicks(alice), '✓ Sent');

  // Online, bob gets the message itself and no push; carol, offline, gets one (a later task).
  const bob = await openAs(await browser.newContext(), demo, 'bob');
  await seeText(lastTicks(alice), '✓✓ Delivered', 'delivered once bob loaded his inbox');
  await send(alice, 'you are online');
  await seeText(lastTicks(alice), '✓✓ Delivered');
  await conv(alice, 'c-ac').locator('button').click();
  await send(alice, 'carol?');
  await until(async () => (await alice.locator('#pushes li').count()) >= 2, 'the push to carol');
  assert.deepEqual(await texts(alice.locator('#pushes li')), ['push sent to bob: “call me”', 'push sent to carol: “carol?”']);
  assert.equal(await bob.locator('#pushes li').count(), 0);
});
