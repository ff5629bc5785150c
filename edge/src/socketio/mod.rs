//! Socket.IO over a session: packet dispatch (CONNECT, EVENT, ACK, DISCONNECT), binary reassembly and
//! the small helpers the client-event modules share (acks, arg conversion).

pub(crate) mod commands;
mod connect;
mod events;
pub(crate) mod forward;
pub(crate) mod recovery;
pub(crate) mod relay;
mod rooms;

use std::sync::Arc;

use bytes::Bytes;
use herald_codec::event::{Arg, ack_from_packet, encode_ack, event_from_packet, is_reserved_event};
use herald_codec::socket::{self, Packet, PacketKind};
use herald_codec::{BinaryAssembly, CodecError};
use herald_proto::v1::{ClientAck, link_request::Msg};
use serde_json::Value;

use crate::edge::Edge;
use crate::engine::session::Session;

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
    edge: &Arc<Edge>,
    session: &Arc<Session>,
    text: &str,
) -> Result<(), ProtocolError> {
    let packet = socket::decode(text)?;
    if packet.needs_attachments() {
        let ns: Arc<str> = Arc::from(packet.namespace.as_str());
        if !session.start_assembly(BinaryAssembly::new(packet), ns) {
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
    on_packet(edge, session, packet, Vec::new()).await
}

/// Handles one binary Engine.IO message (an attachment).
pub(crate) async fn on_binary(
    edge: &Arc<Edge>,
    session: &Arc<Session>,
    bin: Bytes,
) -> Result<(), ProtocolError> {
    let Some((mut assembly, ns)) = session.take_assembly() else {
        return Err(ProtocolError::Other("unexpected binary message"));
    };
    match assembly.push(bin)? {
        Some(done) => on_packet(edge, session, done.packet, done.attachments).await,
        None => {
            session.put_assembly((assembly, ns));
            Ok(())
        }
    }
}

async fn on_packet(
    edge: &Arc<Edge>,
    session: &Arc<Session>,
    packet: Packet,
    attachments: Vec<Bytes>,
) -> Result<(), ProtocolError> {
    match packet.kind {
        PacketKind::Connect => {
            connect::connect(edge, session, &packet).await;
            Ok(())
        }
        PacketKind::Disconnect => {
            if let Some(s) = session.remove_socket(&packet.namespace) {
                edge.forget_socket(&s, "client namespace disconnect");
            }
            Ok(())
        }
        PacketKind::Event | PacketKind::BinaryEvent => {
            let (name, args) = event_from_packet(&packet, &attachments)?;
            if is_reserved_event(&name) {
                return Err(ProtocolError::Other("reserved event name from a client"));
            }
            if session.socket_id(&packet.namespace).is_some() {
                events::on_event(edge, session, &packet.namespace, packet.id, &name, args).await;
            }
            Ok(())
        }
        PacketKind::Ack | PacketKind::BinaryAck => {
            let args = ack_from_packet(&packet, &attachments)?;
            let Some(ack_id) = packet.id else {
                return Err(ProtocolError::Other("ack without id"));
            };
            let found = session.with_socket(&packet.namespace, |s| {
                s.take_ack(ack_id).map(|r| (r, s.id.clone()))
            });
            if let Some(Some((ack_ref, conn))) = found {
                edge.link.notify(Msg::Ack(ClientAck {
                    ack_ref,
                    connection_id: conn.to_string(),
                    args: args.into_iter().map(proto_arg).collect(),
                }));
            }
            Ok(())
        }
        PacketKind::ConnectError => Err(ProtocolError::Other("CONNECT_ERROR from a client")),
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
pub(crate) fn send_ack(edge: &Edge, session: &Session, ns: &str, ack: Option<u64>, args: &[Arg]) {
    let Some(id) = ack else { return };
    let frame = encode_ack(ns, id, args);
    session.push_or_kill(edge, frame.text.into(), &frame.attachments);
}

/// Sends an ACK whose single argument is `body`.
pub(crate) fn send_ack_json(
    edge: &Edge,
    session: &Session,
    ns: &str,
    ack: Option<u64>,
    body: &Value,
) {
    send_ack(edge, session, ns, ack, &[Arg::Json(body.to_string())]);
}

/// `{ok:true}` / `{ok:false, error}`: the ack of joins, leaves and relays.
pub(crate) fn ok_body(result: &Result<(), String>) -> Value {
    match result {
        Ok(()) => serde_json::json!({ "ok": true }),
        Err(e) => serde_json::json!({ "ok": false, "error": e }),
    }
}
