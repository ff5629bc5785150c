// The demo inbox: an unmodified socket.io-client talking to the Herald edge. Client events go to the
// demo backend (examples/demo/backend.py) over Herald's Handle stream; the backend's Emits come back
// as events. No framework, no build step.
(function () {
  'use strict';

  var $ = function (id) { return document.getElementById(id); };
  var TYPING_IDLE_MS = 3000;
  var state = {
    me: null,
    users: {},
    online: {},
    convos: new Map(), // id -> {id, title, members, snoozed, messages: [...]}
    open: null,
    typing: new Map(), // conversation id -> Map(user -> timer)
  };
  var socket = null;
  var everConnected = false;
  var serverReason = '';
  var myTyping = null; // {conversationId, timer} while this tab is typing

  function el(tag, props, children) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (k) {
      if (k === 'text') node.textContent = props[k];
      else if (k === 'class') node.className = props[k];
      else if (k.slice(0, 2) === 'on') node.addEventListener(k.slice(2), props[k]);
      else node.setAttribute(k, props[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function setConn(kind, text) {
    $('conn').dataset.state = kind;
    $('conn').textContent = text;
  }

  function name(user) { return state.users[user] || user; }

  function title(conv) {
    if (conv.title) return conv.title;
    return conv.members.filter(function (m) { return m !== state.me; }).map(name).join(', ');
  }

  function unread(conv) {
    return conv.messages.filter(function (m) { return m.from !== state.me && m.read.indexOf(state.me) < 0; }).length;
  }

  function others(conv) { return conv.members.filter(function (m) { return m !== state.me; }); }

  // ---- rendering -------------------------------------------------------------------------------

  function renderConvos() {
    var lists = { inbox: $('convos'), snoozed: $('snoozed') };
    lists.inbox.textContent = '';
    lists.snoozed.textContent = '';
    state.convos.forEach(function (conv) {
      var n = unread(conv);
      var peer = conv.members.length === 2 ? others(conv)[0] : null;
      var dot = peer ? el('span', { class: 'dot' + (state.online[peer] ? ' online' : ''), title: state.online[peer] ? 'online' : 'offline' }) : null;
      var btn = el('button', {
        type: 'button',
        'aria-current': String(state.open === conv.id),
        onclick: function () { openConv(conv.id); },
      }, [
        dot,
        el('span', { class: 'title', text: title(conv) }),
        n ? el('span', { class: 'badge', text: String(n), 'aria-label': n + ' unread' }) : null,
      ]);
      lists[conv.snoozed ? 'snoozed' : 'inbox'].appendChild(el('li', { 'data-conv': conv.id }, [btn]));
    });
  }

  function ticks(conv, m) {
    var rest = others(conv);
    var all = function (list) { return rest.every(function (u) { return list.indexOf(u) >= 0; }); };
    if (all(m.read)) return ['read', '✓✓ Read'];
    if (all(m.delivered)) return ['delivered', '✓✓ Delivered'];
    return ['sent', '✓ Sent'];
  }

  function renderThread() {
    var conv = state.convos.get(state.open);
    $('messages').textContent = '';
    $('composer').hidden = !conv;
    $('snooze').hidden = !conv;
    if (!conv) return;
    $('thread-title').textContent = title(conv);
    $('snooze').textContent = conv.snoozed ? 'Unsnooze' : 'Snooze';
    conv.messages.forEach(function (m) {
      var mine = m.from === state.me;
      var t = mine ? ticks(conv, m) : null;
      $('messages').appendChild(el('li', { class: mine ? 'mine' : '', 'data-id': m.id }, [
        el('span', { class: 'author', text: mine ? 'You' : name(m.from) }),
        el('span', { class: 'text', text: m.text }),
        t ? el('span', { class: 'ticks', 'data-status': t[0], text: t[1] }) : null,
      ]));
    });
    $('messages').scrollTop = $('messages').scrollHeight;
    renderTyping();
  }

  function renderTyping() {
    var who = state.typing.get(state.open);
    var names = who ? Array.from(who.keys()).map(name) : [];
    $('typing').textContent = names.length ? names.join(', ') + (names.length > 1 ? ' are' : ' is') + ' typing…' : '';
  }

  function renderPeople() {
    $('people').textContent = '';
    Object.keys(state.users).forEach(function (u) {
      var on = u === state.me || state.online[u];
      $('people').appendChild(el('li', { 'data-user': u }, [
        el('span', { class: 'dot' + (on ? ' online' : '') }),
        el('span', { text: ' ' + name(u) + (u === state.me ? ' (you) ' : ' ') }),
        el('span', { class: 'state', text: on ? 'online' : 'offline' }),
      ]));
    });
  }

  function render() { renderConvos(); renderThread(); renderPeople(); }

  // ---- state changes -----------------------------------------------------------------------------

  function addMessage(m) {
    var conv = state.convos.get(m.conversationId);
    if (!conv) return false;
    var existing = conv.messages.find(function (x) { return x.id === m.id; });
    if (existing) return false; // a replayed or echoed copy: shown once
    conv.messages.push(m);
    return true;
  }

  function markRead(id) {
    var conv = state.convos.get(id);
    if (!conv || !unread(conv)) return;
    socket.emit('convo_mark_conversation_read', { conversationId: id, roomId: 'conv:' + id });
  }

  function openConv(id) {
    state.open = id;
    render();
    markRead(id);
    $('text').focus();
  }

  function clearTyping(convId, user) {
    var who = state.typing.get(convId);
    if (!who || !who.has(user)) return;
    clearTimeout(who.get(user));
    who.delete(user);
    if (convId === state.open) renderTyping();
  }

  function load() {
    socket.timeout(10000).emit('inbox:load', function (err, res) {
      if (err || !res || res.error) { setConn('offline', 'Inbox unavailable: ' + (err ? err.message : res && res.error)); return; }
      state.users = res.users;
      state.online = res.online;
      res.conversations.forEach(function (c) {
        var known = state.convos.get(c.id);
        if (known) {
          c.messages.forEach(function (m) { if (!addMessage(m)) Object.assign(known.messages.find(function (x) { return x.id === m.id; }), m); });
          known.snoozed = c.snoozed;
        } else {
          state.convos.set(c.id, c);
        }
      });
      render();
      if (state.open) markRead(state.open);
    });
  }

  // ---- the connection ----------------------------------------------------------------------------

  function connect(token) {
    socket = io('/', { auth: { token: token } });

    socket.on('connect', function () {
      if (!everConnected) {
        everConnected = true;
        setConn('connected', 'Connected as ' + state.me);
        load();
      } else if (socket.recovered) {
        setConn('recovered', 'Reconnected: session recovered, missed messages replayed');
      } else {
        setConn('reloaded', 'Reconnected: session not recovered, inbox reloaded');
        load();
      }
    });
    socket.on('herald:disconnect', function (p) { serverReason = (p && p.reason) || ''; });
    socket.on('disconnect', function (reason) {
      if (reason === 'io server disconnect') {
        setConn('offline', 'Disconnected by the server' + (serverReason ? ': ' + serverReason : ''));
      } else {
        setConn('offline', 'Offline: reconnecting…');
      }
    });
    socket.on('connect_error', function (err) {
      setConn('offline', everConnected && socket.active ? 'Offline: reconnecting…' : 'Cannot connect: ' + err.message);
    });

    socket.on('new_message', function (m) {
      var ack = arguments[arguments.length - 1];
      if (typeof ack === 'function') ack({ received: true });
      else if (m.from !== state.me) socket.emit('message:delivered', { conversationId: m.conversationId, messageIds: [m.id] });
      if (!addMessage(m)) return;
      clearTyping(m.conversationId, m.from);
      renderConvos();
      if (m.conversationId === state.open) { renderThread(); markRead(m.conversationId); }
    });
    socket.on('message_status', function (s) {
      var conv = state.convos.get(s.conversationId);
      var m = conv && conv.messages.find(function (x) { return x.id === s.messageId; });
      if (!m) return;
      // Receipts only grow: a status emitted before a read receipt may arrive after it.
      var union = function (a, b) { return a.concat(b.filter(function (u) { return a.indexOf(u) < 0; })); };
      m.delivered = union(m.delivered, s.delivered);
      m.read = union(m.read, s.read);
      if (s.conversationId === state.open) renderThread();
    });
    socket.on('convo_message_read', function (r) {
      var conv = state.convos.get(r.conversationId);
      if (!conv) return;
      conv.messages.forEach(function (m) {
        if (r.messageIds.indexOf(m.id) < 0) return;
        if (m.read.indexOf(r.readBy._id) < 0) m.read.push(r.readBy._id);
        if (m.delivered.indexOf(r.readBy._id) < 0) m.delivered.push(r.readBy._id);
      });
      render();
    });
    socket.on('convo_someone_typing', function (t) {
      if (!t || t.userId === state.me) return; // never our own other tabs
      var who = state.typing.get(t.conversationId) || new Map();
      state.typing.set(t.conversationId, who);
      clearTimeout(who.get(t.userId));
      who.set(t.userId, setTimeout(function () { clearTyping(t.conversationId, t.userId); }, TYPING_IDLE_MS));
      if (t.conversationId === state.open) renderTyping();
    });
    socket.on('convo_stopped_typing', function (t) { if (t) clearTyping(t.conversationId, t.userId); });
    socket.on('presence', function (p) {
      if (p.room !== 'lobby') return;
      state.online[p.user_id] = p.status === 'join';
      renderConvos();
      renderPeople();
    });
    socket.on('convo_snooze_conversation', function (s) {
      var conv = state.convos.get(s.conversationId);
      if (conv) { conv.snoozed = true; render(); }
    });
    socket.on('conversation_unsnoozed', function (s) {
      var conv = state.convos.get(s.conversationId);
      if (conv) { conv.snoozed = false; render(); }
    });
    socket.on('system_announcement', function (a) {
      $('banner-title').textContent = (a.title || 'Announcement') + ':';
      $('banner-text').textContent = a.message || '';
      $('banner').hidden = false;
    });
    socket.on('scrape_progress', function (p) {
      var pr = p.progress || {};
      $('leads-status').textContent = 'Searching… page ' + pr.page + ' of ' + pr.pages + ', ' + pr.leads_so_far + ' leads so far';
    });
    socket.on('scrape_complete', function (p) {
      $('leads-status').textContent = p.result.leads_found + ' leads found';
    });
    socket.on('scrape_failed', function (p) {
      $('leads-status').textContent = 'Search failed: ' + (p.error || p.status);
    });
    socket.on('push_sent', function (p) {
      $('pushes').appendChild(el('li', { text: 'push sent to ' + p.to + ': “' + p.text + '”' }));
    });
  }

  // ---- the page's controls ---------------------------------------------------------------------

  function stopTyping() {
    if (!myTyping) return;
    clearTimeout(myTyping.timer);
    socket.emit('convo_stopped_typing', { roomId: 'conv:' + myTyping.conversationId, conversationId: myTyping.conversationId, userId: state.me });
    myTyping = null;
  }

  $('text').addEventListener('input', function () {
    var id = state.open;
    if (!id || !socket) return;
    if (myTyping && myTyping.conversationId !== id) stopTyping();
    if (!myTyping) {
      socket.emit('convo_someone_typing', { roomId: 'conv:' + id, conversationId: id, userId: state.me, userName: name(state.me) });
      myTyping = { conversationId: id, timer: null };
    }
    clearTimeout(myTyping.timer);
    myTyping.timer = setTimeout(stopTyping, TYPING_IDLE_MS);
  });

  $('composer').addEventListener('submit', function (e) {
    e.preventDefault();
    var text = $('text').value.trim();
    var id = state.open;
    if (!text || !id) return;
    $('text').value = '';
    $('send-error').textContent = '';
    stopTyping();
    socket.timeout(10000).emit('message:send', { conversationId: id, roomId: 'conv:' + id, text: text }, function (err, res) {
      if (err || !res || res.error) { $('send-error').textContent = 'Not sent: ' + (err ? 'no answer' : res && res.error); return; }
      if (addMessage(res.message) && res.message.conversationId === state.open) renderThread();
      renderConvos();
    });
  });

  $('snooze').addEventListener('click', function () {
    var conv = state.convos.get(state.open);
    if (!conv) return;
    socket.emit(conv.snoozed ? 'convo_unsnooze_conversation' : 'convo_snooze_conversation', { conversationId: conv.id, roomId: 'conv:' + conv.id });
  });

  $('leads').addEventListener('submit', function (e) {
    e.preventDefault();
    $('leads-status').textContent = 'Submitting…';
    socket.timeout(10000).emit('leads:find', { keyword: $('keyword').value, location: $('location').value }, function (err, res) {
      if (err || !res || res.error) { $('leads-status').textContent = 'Not submitted: ' + (err ? 'no answer' : res && res.error); return; }
      $('leads-status').textContent = 'Searching for ' + $('keyword').value + ' in ' + $('location').value + '…';
    });
  });

  $('announce').addEventListener('submit', function (e) {
    e.preventDefault();
    socket.emit('demo:announce', $('announce-text').value);
  });
  $('banner-close').addEventListener('click', function () { $('banner').hidden = true; });

  // ---- start: pick a user, get a token from the demo backend, connect ----------------------------

  document.querySelectorAll('#picker button').forEach(function (b) {
    b.addEventListener('click', function () { location.search = '?user=' + encodeURIComponent(b.dataset.user); });
  });

  if (typeof io !== 'function') {
    $('picker').hidden = false;
    $('picker-error').textContent = 'socket.io-client is not loaded: start the demo with bash examples/demo/run.sh';
    return;
  }
  var user = new URLSearchParams(location.search).get('user');
  if (!user) { $('picker').hidden = false; return; }

  // Demo mode only: the backend hands out tokens on the anonymous /demo namespace.
  setConn('connecting', 'Getting a token…');
  var demo = io('/demo', { forceNew: true, reconnection: false });
  demo.on('connect_error', function (err) { setConn('offline', 'Cannot reach Herald: ' + err.message); });
  demo.on('connect', function () {
    demo.timeout(10000).emit('demo:token', user, function (err, res) {
      demo.disconnect();
      if (err || !res || res.error) {
        $('picker').hidden = false;
        $('picker-error').textContent = 'No token for ' + user + ': ' + (err ? 'the demo backend did not answer' : res && res.error);
        setConn('offline', 'Not connected');
        return;
      }
      state.me = res.user;
      $('me-name').textContent = res.user;
      $('me').hidden = false;
      $('app').hidden = false;
      document.title = res.user + ' · Herald demo';
      setConn('connecting', 'Connecting…');
      connect(res.token);
    });
  });
})();
