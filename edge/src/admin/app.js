// Herald's admin console: plain JS over the JSON API under /admin/api/, sending the admin secret the
// operator typed (kept in this tab's sessionStorage only).
(function () {
  'use strict';

  var $ = function (id) { return document.getElementById(id); };
  var KEY = 'herald-admin-secret';
  var lastEvents = {};
  var lastFrames = null;
  var timer = null;

  function el(tag, text, cls) {
    var n = document.createElement(tag);
    if (text !== undefined) n.textContent = text;
    if (cls) n.className = cls;
    return n;
  }

  function say(id, text, ok) {
    $(id).textContent = text;
    $(id).className = 'out ' + (ok ? 'ok' : 'error');
  }

  /** Calls the API; resolves with the JSON body, rejects with the server's {"error"} text. */
  function api(method, path, body) {
    var opts = { method: method, headers: { Authorization: 'Bearer ' + sessionStorage.getItem(KEY) } };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    return fetch('api/' + path, opts).then(function (r) {
      return r.json().catch(function () { return { error: 'HTTP ' + r.status }; }).then(function (j) {
        if (r.status === 401) signOut(j.error);
        if (!r.ok) throw new Error(j.error || 'HTTP ' + r.status);
        return j;
      });
    });
  }

  function signOut(why) {
    sessionStorage.removeItem(KEY);
    clearInterval(timer);
    $('console').hidden = true;
    $('login').hidden = false;
    $('who').textContent = '';
    $('login-msg').textContent = why || '';
  }

  function row(cells) {
    var tr = el('tr');
    cells.forEach(function (c) {
      var td = el('td');
      if (c instanceof Node) td.appendChild(c); else td.textContent = String(c);
      tr.appendChild(td);
    });
    return tr;
  }

  function refresh() {
    api('GET', 'stats').then(function (s) {
      $('namespaces').textContent = '';
      var now = Date.now();
      s.namespaces.forEach(function (n) {
        // Events per second from two readings of the namespace's accepted Emits.
        var prev = lastEvents[n.namespace];
        var secs = prev ? (now - prev.at) / 1000 : 0;
        var rate = secs > 0 ? ((n.events - prev.n) / secs).toFixed(1) : '…';
        lastEvents[n.namespace] = { at: now, n: n.events };
        $('namespaces').appendChild(row([n.namespace, n.connections, n.users, n.rooms, n.events, rate]));
      });
      if (lastFrames) {
        var secs = (now - lastFrames.at) / 1000;
        $('eps').textContent = secs > 0 ? ((s.edge.frames_sent - lastFrames.n) / secs).toFixed(1) : '…';
      }
      lastFrames = { at: now, n: s.edge.frames_sent };
      $('edges').textContent = s.edges;
      $('handlers').textContent = s.handlers;
      $('overview-msg').textContent = '';
      return api('GET', 'workers');
    }).then(function (w) {
      $('workers').textContent = '';
      w.workers.forEach(function (x) { $('workers').appendChild(row([x.name, x.queues.join(', '), x.capacity, x.running])); });
    }).catch(function (e) { $('overview-msg').textContent = e.message; });
  }

  function start() {
    $('login').hidden = true;
    $('console').hidden = false;
    $('who').textContent = 'signed in';
    refresh();
    clearInterval(timer);
    timer = setInterval(refresh, 2000);
  }

  $('login-form').addEventListener('submit', function (e) {
    e.preventDefault();
    sessionStorage.setItem(KEY, $('secret').value);
    api('GET', 'stats').then(function () { $('login-msg').textContent = ''; start(); }).catch(function (err) {
      $('login-msg').textContent = err.message;
    });
  });

  // ---- user: presence, connections, disconnect --------------------------------------------------

  function lookUp() {
    var user = $('user-id').value.trim();
    var ns = $('user-ns').value.trim() || '/';
    $('user-msg').textContent = '';
    return api('GET', 'users/' + encodeURIComponent(user) + '?namespace=' + encodeURIComponent(ns)).then(function (u) {
      var out = $('user-out');
      out.textContent = '';
      out.appendChild(el('p', u.user_id + ': ' + (u.online ? 'online, ' + u.connections + ' connection' + (u.connections === 1 ? '' : 's') : 'offline, no connection'), 'presence'));
      var list = el('ul');
      u.connection_ids_on_this_edge.forEach(function (id) {
        var li = el('li');
        li.appendChild(el('span', id + ' ', 'mono'));
        var b = el('button', 'Disconnect ' + id);
        b.type = 'button';
        b.addEventListener('click', function () { kick({ namespace: ns, connection_id: id }); });
        li.appendChild(b);
        list.appendChild(li);
      });
      out.appendChild(list);
      $('kick-form').hidden = !u.online;
    }).catch(function (e) { say('user-msg', e.message); });
  }

  function kick(target) {
    target.reason = $('kick-reason').value;
    api('POST', 'disconnect', target).then(function (r) {
      say('user-msg', 'Disconnected ' + r.connections + ' connection' + (r.connections === 1 ? '' : 's'), true);
      return lookUp().then(function () { say('user-msg', 'Disconnected ' + r.connections + ' connection' + (r.connections === 1 ? '' : 's'), true); });
    }).catch(function (e) { say('user-msg', e.message); });
  }

  $('user-form').addEventListener('submit', function (e) { e.preventDefault(); lookUp(); });
  $('kick-form').addEventListener('submit', function (e) {
    e.preventDefault();
    kick({ namespace: $('user-ns').value.trim() || '/', user_id: $('user-id').value.trim() });
  });

  // ---- room, history -----------------------------------------------------------------------------

  $('room-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var ns = $('room-ns').value.trim() || '/';
    api('GET', 'rooms/' + encodeURIComponent($('room-name').value.trim()) + '?namespace=' + encodeURIComponent(ns)).then(function (r) {
      var out = $('room-out');
      out.textContent = '';
      out.appendChild(el('p', r.room + ': ' + r.users.length + ' user' + (r.users.length === 1 ? '' : 's') + ', ' + r.connections + ' connection' + (r.connections === 1 ? '' : 's')));
      var list = el('ul');
      r.users.forEach(function (u) { list.appendChild(el('li', u.user_id + ' (' + u.connections + ')')); });
      out.appendChild(list);
    }).catch(function (err) { $('room-out').textContent = ''; $('room-out').appendChild(el('p', err.message, 'error')); });
  });

  $('history-form').addEventListener('submit', function (e) {
    e.preventDefault();
    $('history-out').textContent = '';
    var q = 'history?namespace=' + encodeURIComponent($('history-ns').value.trim() || '/') + '&topic=' + encodeURIComponent($('history-topic').value.trim());
    api('GET', q).then(function (h) {
      h.events.forEach(function (ev) {
        var text = ev.event + ' ' + ev.args.map(function (a) { return JSON.stringify(a); }).join(' ');
        var li = el('li', text.length > 240 ? text.slice(0, 240) + '…' : text);
        li.title = text;
        $('history-out').appendChild(li);
      });
      say('history-msg', h.events.length + ' event' + (h.events.length === 1 ? '' : 's') + ', newest first' + (h.truncated ? ' (more in the window)' : ''), true);
    }).catch(function (err) { say('history-msg', err.message); });
  });

  // ---- emit ------------------------------------------------------------------------------------------

  $('emit-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var args;
    try {
      args = JSON.parse($('emit-args').value || '[]');
      if (!Array.isArray(args)) throw new Error('not an array');
    } catch (err) {
      say('emit-msg', 'Arguments must be a JSON array: ' + err.message);
      return;
    }
    var targets = $('emit-targets').value.split(',').map(function (t) { return t.trim(); }).filter(Boolean);
    api('POST', 'emit', { namespace: $('emit-ns').value.trim() || '/', targets: targets, event: $('emit-event').value.trim(), args: args })
      .then(function (r) {
        say('emit-msg', 'Sent to ' + r.connections + ' connection' + (r.connections === 1 ? '' : 's') +
          (r.offline_users.length ? '; offline: ' + r.offline_users.join(', ') : ''), true);
      })
      .catch(function (err) { say('emit-msg', err.message); });
  });

  // ---- tasks -------------------------------------------------------------------------------------------

  function loadTasks() {
    var q = 'tasks?status=' + encodeURIComponent($('tasks-status').value) + '&queue=' + encodeURIComponent($('tasks-queue').value.trim());
    return api('GET', q).then(function (r) {
      $('tasks').textContent = '';
      r.tasks.forEach(function (t) {
        var actions = el('span');
        [['cancel', 'Cancel', ['queued', 'running']], ['retry', 'Retry', ['failed', 'dead', 'cancelled']]].forEach(function (a) {
          if (a[2].indexOf(t.status) < 0) return;
          var b = el('button', a[1]);
          b.type = 'button';
          b.setAttribute('aria-label', a[1] + ' task ' + t.id);
          b.addEventListener('click', function () {
            api('POST', 'tasks/' + encodeURIComponent(t.id) + '/' + a[0], a[0] === 'cancel' ? { reason: 'cancelled by an operator' } : undefined)
              .then(function (res) { return loadTasks().then(function () { say('tasks-msg', 'Task ' + t.id + ' is ' + res.task.status, true); }); })
              .catch(function (err) { say('tasks-msg', err.message); });
          });
          actions.appendChild(b);
        });
        var tr = row([el('span', t.id, 'mono'), t.queue, t.status, t.attempt + '/' + t.max_attempts, t.last_error, actions]);
        tr.dataset.task = t.id;
        $('tasks').appendChild(tr);
      });
      say('tasks-msg', r.tasks.length + ' task' + (r.tasks.length === 1 ? '' : 's'), true);
    }).catch(function (err) { say('tasks-msg', err.message); });
  }
  $('tasks-form').addEventListener('submit', function (e) { e.preventDefault(); loadTasks(); });

  if (sessionStorage.getItem(KEY)) start(); else signOut('');
})();
