//! Socket.IO over a session: packet dispatch (CONNECT, EVENT, ACK, DISCONNECT), binary reassembly and
//! the small helpers the client-event modules share (acks, arg conversion).

pub(crate) mod commands;
mod connect;
pub(crate) mod core;
mod events;
pub(crate) mod fanout;
pub(crate) mod forward;
mod handler;
pub(crate) mod lane;
pub(crate) mod member;
pub(crate) mod reason;
pub(crate) mod recovery;
pub(crate) mod relay;
mod rooms;
pub(crate) mod session;
pub(crate) mod state;
pub(crate) mod user_rate;

#[cfg(test)]
mod fake_core;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use bytes::Bytes;
use herald_codec::event::{Arg, ack_from_packet, encode_ack, event_from_packet, is_reserved_event};
use herald_codec::socket::{self, Packet, PacketKind};
use herald_codec::{BinaryAssembly, CodecError};
use herald_proto::v1::{ClientAck, link_request::Msg};
use serde_json::Value;

use crate::socketio::reason::Reason;
use crate::socketio::session::Session;
use crate::socketio::session::SessionExt;
use crate::socketio::state::Sio;
use lane::Job;

/// The peer broke the Socket.IO protocol; the session is closed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProtocolError {
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("{0}")]
    Other(&'static str),
}

/// Handles the text of one Engine.IO message.
pub(crate) async fn on_message(
    sio: &Arc<Sio>,
    session: &Arc<Session>,
    text: &str,
) -> Result<(), ProtocolError> {
    let packet = socket::decode(text)?;
    if packet.needs_attachments() {
        // Attachments are buffered only for a socket that passed its CONNECT (and its auth), at
        // most `max_payload` bytes of them per packet.
        if !session.has_socket(&packet.namespace) {
            return Err(ProtocolError::Other(
                "binary packet for a namespace that is not connected",
            ));
        }
        let ns: Arc<str> = Arc::from(packet.namespace.as_str());
        let max_bytes = sio.engine.settings.max_payload_bytes();
        if !session.start_assembly(BinaryAssembly::with_limit(packet, max_bytes), ns) {
            return Err(ProtocolError::Other(
                "binary packet started before the previous one completed",
            ));
        }
        return Ok(());
    }
    if session.take_assembly().is_some() {
        return Err(ProtocolError::Other(
            "text packet while binary attachments were expected",
        ));
    }
    on_packet(sio, session, packet, Vec::new(), text.len()).await
}

/// Handles one binary Engine.IO message (an attachment).
pub(crate) async fn on_binary(
    sio: &Arc<Sio>,
    session: &Arc<Session>,
    bin: Bytes,
) -> Result<(), ProtocolError> {
    let Some((mut assembly, ns)) = session.take_assembly() else {
        return Err(ProtocolError::Other("unexpected binary message"));
    };
    match assembly.push(bin) {
        Ok(Some(done)) => {
            let size = lane::size_of(0, &done.attachments);
            on_packet(sio, session, done.packet, done.attachments, size).await
        }
        Ok(None) => {
            session.put_assembly((assembly, ns));
            Ok(())
        }
        Err(CodecError::AttachmentsTooLarge) => {
            tracing::info!(sid = %session.sid, "binary attachments over max_payload: disconnecting");
            session.disconnect_all(sio, Reason::AttachmentsTooLarge, false);
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Checks a complete packet, then handles it at once when it does not wait on the core and nothing
/// waits before it, else queues it in the session's lane.
async fn on_packet(
    sio: &Arc<Sio>,
    session: &Arc<Session>,
    packet: Packet,
    attachments: Vec<Bytes>,
    size: usize,
) -> Result<(), ProtocolError> {
    let job = match packet.kind {
        PacketKind::Connect => Job::Connect(packet),
        PacketKind::Disconnect => Job::Disconnect(packet.namespace),
        PacketKind::Event | PacketKind::BinaryEvent => {
            let (name, args) = event_from_packet(&packet, &attachments)?;
            if is_reserved_event(&name) {
                return Err(ProtocolError::Other("reserved event name from a client"));
            }
            Job::Event {
                ns: packet.namespace,
                ack: packet.id,
                name,
                args,
            }
        }
        PacketKind::Ack | PacketKind::BinaryAck => {
            let args = ack_from_packet(&packet, &attachments)?;
            let Some(id) = packet.id else {
                return Err(ProtocolError::Other("ack without id"));
            };
            Job::Ack {
                ns: packet.namespace,
                id,
                args,
            }
        }
        PacketKind::ConnectError => {
            return Err(ProtocolError::Other("CONNECT_ERROR from a client"));
        }
    };
    if !waits_on_core(sio, &job) && session.lane.is_idle() {
        run_job(sio, session, job).await;
        return Ok(());
    }
    if let Err(job) = lane::enqueue(sio, session, job, size) {
        tracing::info!(sid = %session.sid, "too many packets waiting on the core");
        match job {
            Job::Event { ns, ack, .. } => {
                send_ack_json(
                    sio,
                    session,
                    &ns,
                    ack,
                    &serde_json::json!({ "error": Reason::TooManyPending.as_str() }),
                );
            }
            _ => session.disconnect_all(sio, Reason::TooManyPending, false),
        }
    }
    Ok(())
}

/// Whether handling `job` awaits an answer of the core (or of a handler behind it).
fn waits_on_core(sio: &Sio, job: &Job) -> bool {
    match job {
        Job::Connect(_) => true,
        Job::Event { ns, ack, name, .. } => sio.config.namespace(ns).is_some_and(|cfg| {
            rooms::room_op(cfg, name).is_some()
                || (ack.is_some() && cfg.relay.iter().any(|r| r == name))
        }),
        Job::Disconnect(_) | Job::Ack { .. } => false,
    }
}

/// Handles one checked client packet.
pub(crate) async fn run_job(sio: &Arc<Sio>, session: &Arc<Session>, job: Job) {
    match job {
        Job::Connect(packet) => connect::connect(sio, session, &packet).await,
        Job::Disconnect(ns) => {
            if let Some(s) = session.remove_socket(&ns) {
                sio.forget_socket(&s, &Reason::ClientNamespaceDisconnect);
            }
        }
        Job::Event {
            ns,
            ack,
            name,
            args,
        } => {
            if session.socket_id(&ns).is_none() {
                return;
            }
            if !user_rate::allow(session, &ns) {
                tracing::debug!(sid = %session.sid, ns, name, "client event over the user's rate");
                sio.metrics.user_rate_limited();
                let body = serde_json::json!({ "error": user_rate::RATE_LIMITED });
                send_ack_json(sio, session, &ns, ack, &body);
                return;
            }
            events::on_event(sio, session, &ns, ack, &name, args).await;
        }
        Job::Ack { ns, id, args } => {
            let found = session.with_socket(&ns, |s| s.take_ack(id).map(|r| (r, s.id.clone())));
            if let Some(Some((ack_ref, conn))) = found {
                sio.core.send_owed(Msg::Ack(ClientAck {
                    ack_ref,
                    connection_id: conn.to_string(),
                    args: args.into_iter().map(proto_arg).collect(),
                }));
            }
        }
    }
}

/// A codec arg as a proto arg.
pub(crate) fn proto_arg(a: Arg) -> herald_proto::v1::Arg {
    use herald_proto::v1::arg::Value as V;
    herald_proto::v1::Arg {
        value: Some(match a {
            Arg::Json(j) => V::Json(j),
            Arg::Binary(b) => V::Binary(b),
        }),
    }
}

/// A proto JSON arg holding `v`.
pub(crate) fn json_arg(v: &Value) -> herald_proto::v1::Arg {
    herald_proto::v1::Arg {
        value: Some(herald_proto::v1::arg::Value::Json(v.to_string())),
    }
}

/// The first argument parsed as JSON (`None` for a binary or missing argument, or bad JSON).
pub(crate) fn first_json(args: &[Arg]) -> Option<Value> {
    match args.first()? {
        Arg::Json(j) => serde_json::from_str(j).ok(),
        Arg::Binary(_) => None,
    }
}

/// Sends an ACK with `args` to the client, when it asked for one (`ack` is its ack id).
pub(crate) fn send_ack(sio: &Sio, session: &Session, ns: &str, ack: Option<u64>, args: &[Arg]) {
    let Some(id) = ack else { return };
    let frame = encode_ack(ns, id, args);
    session.push_or_kill(sio, frame.text.into(), &frame.attachments);
}

/// Sends an ACK whose single argument is `body`.
pub(crate) fn send_ack_json(
    sio: &Sio,
    session: &Session,
    ns: &str,
    ack: Option<u64>,
    body: &Value,
) {
    send_ack(sio, session, ns, ack, &[Arg::Json(body.to_string())]);
}

/// `{ok:true}` / `{ok:false, error}`: the ack of joins, leaves and relays.
pub(crate) fn ok_body(result: &Result<(), String>) -> Value {
    match result {
        Ok(()) => serde_json::json!({ "ok": true }),
        Err(e) => serde_json::json!({ "ok": false, "error": e }),
    }
}
