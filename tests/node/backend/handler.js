#!/usr/bin/env node
// A real backend service for the end-to-end tests: it opens HeraldService.Handle, registers for a
// namespace's client events and implements the chat flows (message:send, message:read, $connect,
// $join, $disconnect, whoami), plus misbehaving modes (slow replies, exiting with events in flight).
//
// Usage: node backend/handler.js --addr HOST:PORT --token SERVICE_TOKEN [--namespace /]
//          [--events message:send,message:read,...] [--mode normal|slow|exit]
//          [--delay-ms N] [--exit-after N] [--ack-timeout-ms N] [--proto-dir DIR]
//
// stdout, one line each (the tests read them):
//   handler ready <handler_id>          registered (HandleRegistered arrived)
//   event <json>                        a ClientEvent arrived (call_id, event, connection_id, user_id, ...)
//   replied <json>                      a reply was written ({call_id, args | error})
//   emitted <json>                      an Emit made by a flow returned ({event, targets, response})
//   emit-error <json>                   an Emit made by a flow failed
//   held <json>                         exit mode: an event kept without a reply ({call_id, held})
//   handler exiting <n>                 exit mode: leaving with n events in flight
//   handler stream-error <message>      the Handle stream failed (the process exits 1)
//   handler stream-end                  the server closed the Handle stream (the process exits 0)
'use strict';

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

function parseArgs(argv) {
  const opts = {
    addr: '',
    token: '',
    namespace: '/',
    events: ['message:send', 'message:read'],
    mode: 'normal',
    delayMs: 0,
    exitAfter: 1,
    ackTimeoutMs: 3000,
    protoDir: path.resolve(__dirname, '..', '..', '..', 'proto'),
  };
  for (let i = 2; i < argv.length; i += 1) {
    const key = argv[i];
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${key} needs a value`);
    i += 1;
    switch (key) {
      case '--addr':
        opts.addr = value;
        break;
      case '--token':
        opts.token = value;
        break;
      case '--namespace':
        opts.namespace = value;
        break;
      case '--events':
        opts.events = value.split(',').filter(Boolean);
        break;
      case '--mode':
        if (!['normal', 'slow', 'exit'].includes(value)) throw new Error(`unknown mode ${value}`);
        opts.mode = value;
        break;
      case '--delay-ms':
        opts.delayMs = Number(value);
        break;
      case '--exit-after':
        opts.exitAfter = Number(value);
        break;
      case '--ack-timeout-ms':
        opts.ackTimeoutMs = Number(value);
        break;
      case '--proto-dir':
        opts.protoDir = value;
        break;
      default:
        throw new Error(`unknown option ${key}`);
    }
  }
  if (!opts.addr) throw new Error('--addr is required');
  return opts;
}

function out(kind, value) {
  process.stdout.write(`${kind} ${typeof value === 'string' ? value : JSON.stringify(value)}\n`);
}

/** JSON arguments of an event as values (binary arguments become {binary: <base64>}). */
function argValues(args) {
  return (args || []).map((a) => {
    if (a.value === 'binary') return { binary: Buffer.from(a.binary).toString('base64') };
    try {
      return JSON.parse(a.json);
    } catch {
      return { invalid_json: a.json };
    }
  });
}

function jsonArg(value) {
  return { json: JSON.stringify(value) };
}

function parseJson(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { invalid_json: text };
  }
}

function main() {
  const opts = parseArgs(process.argv);
  const def = protoLoader.loadSync(path.join('herald', 'v1', 'herald.proto'), {
    includeDirs: [opts.protoDir],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def).herald.v1;
  const client = new pkg.HeraldService(opts.addr, grpc.credentials.createInsecure());
  const metadata = () => {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${opts.token}`);
    return md;
  };

  // In-memory message store of the chat flows: id -> { id, room, from_user, from_conn, text }.
  const messages = new Map();
  let nextMessage = 1;
  let held = 0;

  function emit(request) {
    const req = { namespace: opts.namespace, ...request };
    client.Emit(req, metadata(), { deadline: Date.now() + opts.ackTimeoutMs + 10000 }, (err, res) => {
      if (err) out('emit-error', { event: req.event, targets: req.targets, code: err.code, details: err.details });
      else out('emitted', { event: req.event, targets: req.targets, response: res });
    });
  }

  const call = client.Handle(metadata());

  function reply(callId, result) {
    const msg = { call_id: callId };
    if (result.error) msg.error = result.error;
    else msg.args = (result.args || []).map(jsonArg);
    const send = () => {
      call.write({ reply: msg });
      out('replied', { call_id: callId, ...(result.error ? { error: result.error } : { args: result.args || [] }) });
    };
    if (opts.mode === 'slow') setTimeout(send, opts.delayMs);
    else send();
  }

  /** The flows: what each client event does. Returns {args} / {error}, or null for no reply. */
  function flow(ev) {
    const args = argValues(ev.args);
    const first = args[0];
    switch (ev.event) {
      case '$connect': {
        const claims = parseJson(ev.claims_json) || {};
        if (claims.suspended) return { error: 'account suspended' };
        const decision = { rooms: ['whatsapp:acc-1', `user-rooms:${ev.user_id}`], data: { plan: 'pro' } };
        // Events for the new socket right after its CONNECT (`io.on("connection", s => s.emit(...))`).
        if (claims.welcome) {
          decision.emit = [
            { event: 'welcome', args: [{ user: ev.user_id }] },
            { event: 'unread', args: [3, 'convo:1'] },
          ];
        }
        return { args: [decision] };
      }
      case '$join':
        if (typeof ev.room === 'string' && ev.room.startsWith('convo:')) return { args: [] };
        return { error: `backend refuses room ${ev.room}` };
      case '$disconnect':
        return null;
      case 'message:send': {
        const body = first && typeof first === 'object' ? first : {};
        const id = `m${nextMessage}`;
        nextMessage += 1;
        const msg = {
          id,
          room: String(body.room || ''),
          from_user: ev.user_id,
          from_conn: ev.connection_id,
          text: body.text,
        };
        messages.set(id, msg);
        // The reply (the client's ack) goes first; then the room hears about the message.
        setImmediate(() => {
          emit({
            targets: [`room:${msg.room}`],
            except: body.skip_sender ? [`conn:${ev.connection_id}`] : [],
            event: 'new_message',
            args: [jsonArg({ id, room: msg.room, from: msg.from_user, text: msg.text })],
            ack_timeout_ms: opts.ackTimeoutMs,
          });
        });
        return { args: [{ ok: true, id }] };
      }
      case 'message:read': {
        const id = first && typeof first === 'object' ? first.id : first;
        const msg = messages.get(String(id));
        if (!msg) return { error: `unknown message ${id}` };
        setImmediate(() => {
          emit({
            targets: [`user:${msg.from_user}`],
            event: 'message:read',
            args: [jsonArg({ id: msg.id, room: msg.room, reader: ev.user_id })],
          });
        });
        return { args: [{ ok: true }] };
      }
      case 'whoami':
        return {
          args: [
            {
              user_id: ev.user_id,
              connection_id: ev.connection_id,
              data: parseJson(ev.data_json),
              claims: parseJson(ev.claims_json),
              args,
            },
          ],
        };
      default:
        return { error: `handler does not know ${ev.event}` };
    }
  }

  call.on('data', (res) => {
    if (res.msg === 'registered') {
      out('handler ready', res.registered.handler_id);
      return;
    }
    if (res.msg !== 'event') return;
    const ev = res.event;
    out('event', {
      call_id: ev.call_id,
      namespace: ev.namespace,
      event: ev.event,
      connection_id: ev.connection_id,
      user_id: ev.user_id,
      room: ev.room,
      claims: parseJson(ev.claims_json),
      data: parseJson(ev.data_json),
      args: argValues(ev.args),
    });
    if (opts.mode === 'exit') {
      held += 1;
      out('held', { call_id: ev.call_id, held });
      if (held >= opts.exitAfter) {
        out('handler exiting', String(held));
        // Leave abruptly, replies owed: the server must fail the calls in flight.
        process.exit(0);
      }
      return;
    }
    const result = flow(ev);
    if (result && ev.call_id !== '0' && ev.call_id !== 0) reply(ev.call_id, result);
  });
  call.on('error', (err) => {
    out('handler stream-error', `${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`);
    process.exit(1);
  });
  call.on('end', () => {
    out('handler stream-end', '');
    process.exit(0);
  });

  call.write({ register: { namespace: opts.namespace, events: opts.events } });

  const stop = () => {
    call.end();
    client.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

try {
  main();
} catch (err) {
  process.stderr.write(`handler: ${err.message}\n`);
  process.exit(2);
}
