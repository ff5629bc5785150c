//! Socket.IO over a session: namespaces, CONNECT with auth, built-in join/leave, client acks,
//! binary reassembly, DISCONNECT, and the core's membership / disconnect commands.

use std::sync::Arc;

use bytes::Bytes;
use herald_codec::event::{
    Arg, ack_from_packet, encode_ack, encode_connect_error, encode_connect_ok, event_from_packet,
};
use herald_codec::socket::{self, Packet, PacketKind};
use herald_codec::{BinaryAssembly, CodecError};
use herald_proto::v1::{
    ClientAck, ConnectionOpened, DisconnectCommand, MembershipChange, RoomChange, link_request::Msg,
};
use serde_json::Value;

use crate::edge::Edge;
use crate::engine::session::{PushError, Session, closed_msg, disconnect_frames};
use crate::ids;
use crate::link::LinkError;

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
            connect(edge, session, &packet).await;
            Ok(())
        }
        PacketKind::Disconnect => {
            if let Some(s) = session.remove_socket(&packet.namespace) {
                edge.forget_socket(&s.id, "client namespace disconnect");
            }
            Ok(())
        }
        PacketKind::Event | PacketKind::BinaryEvent => {
            let (name, args) = event_from_packet(&packet, &attachments)?;
            if session.socket_id(&packet.namespace).is_some() {
                on_event(edge, session, &packet.namespace, packet.id, &name, &args).await;
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

fn proto_arg(a: Arg) -> herald_proto::v1::Arg {
    use herald_proto::v1::arg::Value as V;
    herald_proto::v1::Arg {
        value: Some(match a {
            Arg::Json(j) => V::Json(j),
            Arg::Binary(b) => V::Binary(b),
        }),
    }
}

fn refuse(session: &Session, ns: &str, message: &str) {
    tracing::debug!(sid = %session.sid, ns, message, "connect refused");
    let _ = session.push_text(encode_connect_error(ns, message));
}

/// Socket.IO CONNECT: namespace, token, registration with the core, then the `40` answer.
async fn connect(edge: &Arc<Edge>, session: &Arc<Session>, packet: &Packet) {
    let ns = packet.namespace.as_str();
    if session.has_socket(ns) {
        return;
    }
    let Some(ns_cfg) = edge.config.namespace(ns) else {
        refuse(session, ns, "Invalid namespace");
        return;
    };
    let token = packet
        .data
        .as_ref()
        .and_then(|d| d.get("token"))
        .and_then(Value::as_str)
        .or(session.header_token.as_deref())
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let claims = match token {
        Some(t) => match edge.config.verifier.verify(t) {
            Ok(mut c) => {
                c.raw = serde_json::Map::new();
                Some(Box::new(c))
            }
            Err(e) => return refuse(session, ns, &e.to_string()),
        },
        None if ns_cfg.anonymous => None,
        None => return refuse(session, ns, &herald_auth::AuthError::Missing.to_string()),
    };
    if edge.shutdown.is_cancelled() {
        return refuse(session, ns, "server shutting down");
    }
    if !edge.link.is_up() {
        return refuse(session, ns, &LinkError::Unavailable.to_string());
    }
    let id: Arc<str> = Arc::from(ids::random_id());
    let ns_arc: Arc<str> = Arc::from(ns);
    let user = claims.as_ref().map(|c| c.sub.clone());
    // Register locally first so a delivery right after the core applied it finds the socket.
    if edge
        .index
        .write()
        .insert(&id, ns, user.as_deref(), session.clone())
        .is_err()
    {
        return refuse(session, ns, "duplicate connection id");
    }
    if !session.add_socket(ns_arc, id.clone(), claims) {
        edge.index.write().remove(&id);
        return;
    }
    let opened = Msg::Opened(ConnectionOpened {
        connection_id: id.to_string(),
        namespace: ns.to_owned(),
        user_id: user.unwrap_or_default(),
    });
    match edge.link.request(opened).await {
        Ok(()) => {
            if session.socket_id(ns).as_deref() == Some(&*id) {
                let _ = session.push_text(encode_connect_ok(ns, &id, None));
            }
        }
        Err(e) => {
            if session.remove_socket(ns).is_some() {
                edge.index.write().remove(&id);
                // The core may have registered it before failing; make sure it forgets it.
                edge.link.notify(closed_msg(&id, "connect failed"));
            }
            let message = match e {
                LinkError::Unavailable => e.to_string(),
                LinkError::Refused(m) => m,
            };
            refuse(session, ns, &message);
        }
    }
}

/// A client event: the built-in `join` / `leave`; other events are ignored.
async fn on_event(
    edge: &Arc<Edge>,
    session: &Arc<Session>,
    ns: &str,
    ack: Option<u64>,
    name: &str,
    args: &[Arg],
) {
    let result = match name {
        "join" => room_change(edge, session, ns, args, true).await,
        "leave" => room_change(edge, session, ns, args, false).await,
        _ => {
            tracing::debug!(ns, name, "client event ignored");
            return;
        }
    };
    let Some(ack_id) = ack else { return };
    let body = match result {
        Ok(()) => serde_json::json!({ "ok": true }),
        Err(e) => serde_json::json!({ "ok": false, "error": e }),
    };
    let frame = encode_ack(ns, ack_id, &[Arg::Json(body.to_string())]);
    let _ = session.push_text(frame.text);
}

async fn room_change(
    edge: &Arc<Edge>,
    session: &Arc<Session>,
    ns: &str,
    args: &[Arg],
    join: bool,
) -> Result<(), String> {
    let room = match args.first() {
        Some(Arg::Json(j)) => match serde_json::from_str::<Value>(j) {
            Ok(Value::String(r)) if !r.is_empty() && r.len() <= 256 => r,
            _ => return Err("room must be a non-empty string".to_owned()),
        },
        _ => return Err("room must be a non-empty string".to_owned()),
    };
    let Some((id, allowed)) = session.with_socket(ns, |s| {
        let allowed = s.claims.as_ref().is_some_and(|c| c.may_join(&room));
        (s.id.clone(), allowed)
    }) else {
        return Err("not connected".to_owned());
    };
    let change = RoomChange {
        connection_id: id.to_string(),
        room: room.clone(),
    };
    if join {
        if !allowed {
            return Err(format!("not allowed to join {room}"));
        }
        let newly = edge.index.write().join(&id, &room).unwrap_or(false);
        match edge.link.request(Msg::Join(change)).await {
            Ok(()) => Ok(()),
            Err(e) => {
                if newly {
                    let _ = edge.index.write().leave(&id, &room);
                }
                Err(e.to_string())
            }
        }
    } else {
        let was = edge.index.write().leave(&id, &room).unwrap_or(false);
        match edge.link.request(Msg::Leave(change)).await {
            Ok(()) => Ok(()),
            Err(e) => {
                if was && session.socket_id(ns).is_some() {
                    let _ = edge.index.write().join(&id, &room);
                }
                Err(e.to_string())
            }
        }
    }
}

/// Server-initiated disconnect of one socket: `herald:disconnect {reason}`, DISCONNECT, forget it.
pub(crate) fn kick(edge: &Edge, session: &Session, ns: &str, reason: &str) {
    let Some(s) = session.remove_socket(ns) else {
        return;
    };
    let full = session.push_texts(&disconnect_frames(ns, reason)) == Err(PushError::Full);
    edge.forget_socket(&s.id, reason);
    if full {
        session.disconnect_all(edge, reason, false);
    }
}

/// The sockets a command addresses: one connection, or every connection of a user in a namespace.
fn addressed(
    edge: &Edge,
    namespace: &str,
    connection_id: &str,
    user_id: &str,
) -> Vec<(Arc<str>, Arc<str>, Arc<Session>)> {
    let index = edge.index.read();
    if !connection_id.is_empty() {
        return index
            .get(connection_id)
            .filter(|c| namespace.is_empty() || &*c.namespace == namespace)
            .map(|c| vec![(c.id.clone(), c.namespace.clone(), c.value.clone())])
            .unwrap_or_default();
    }
    index
        .user_connections(namespace, user_id)
        .map(|c| (c.id.clone(), c.namespace.clone(), c.value.clone()))
        .collect()
}

/// A server-side join/leave from the core.
pub(crate) fn apply_membership(edge: &Edge, m: &MembershipChange) {
    for (id, _, _) in addressed(edge, &m.namespace, &m.connection_id, &m.user_id) {
        let mut index = edge.index.write();
        let _ = if m.join {
            index.join(&id, &m.room)
        } else {
            index.leave(&id, &m.room)
        };
    }
}

/// A kick from the core.
pub(crate) fn apply_disconnect(edge: &Edge, d: &DisconnectCommand) {
    let reason = if d.reason.is_empty() {
        "kicked"
    } else {
        d.reason.as_str()
    };
    for (_, ns, session) in addressed(edge, &d.namespace, &d.connection_id, &d.user_id) {
        kick(edge, &session, &ns, reason);
    }
}
