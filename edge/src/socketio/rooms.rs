//! Client-initiated joins and leaves: the built-in join/leave events and the room aliases, authorized
//! by the token's rooms claim or else by a `$join` handler, then applied locally and at the core.

use std::sync::Arc;

use herald_codec::event::Arg;
use herald_proto::v1::{RoomChange, link_request::Msg};
use serde_json::Value;

use crate::config::NamespaceConfig;
use crate::socketio::core::REQUEST_TIMEOUT;
use crate::socketio::first_json;
use crate::socketio::forward::{Origin, ask_join};
use crate::socketio::session::Session;
use crate::socketio::state::Sio;

/// Longest room name a client may ask for.
const MAX_ROOM_LEN: usize = 256;

/// A join or a leave, with the prefix of the room name (empty for the built-in events) and the
/// field holding the room (or id) when the first argument is an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RoomOp<'a> {
    Join { prefix: &'a str, field: &'a str },
    Leave { prefix: &'a str, field: &'a str },
}

/// Whether `name` is a join/leave event of the namespace (built-in or alias).
pub(crate) fn room_op<'a>(cfg: &'a NamespaceConfig, name: &str) -> Option<RoomOp<'a>> {
    let field = cfg.room_field.as_str();
    if !cfg.join_event.is_empty() && name == cfg.join_event {
        return Some(RoomOp::Join { prefix: "", field });
    }
    if !cfg.leave_event.is_empty() && name == cfg.leave_event {
        return Some(RoomOp::Leave { prefix: "", field });
    }
    cfg.room_aliases.iter().find_map(|a| {
        let field = if a.field.is_empty() { field } else { &a.field };
        let prefix = a.prefix.as_str();
        if !a.join.is_empty() && name == a.join {
            Some(RoomOp::Join { prefix, field })
        } else if !a.leave.is_empty() && name == a.leave {
            Some(RoomOp::Leave { prefix, field })
        } else {
            None
        }
    })
}

/// `prefix` + the first argument (a string, or a number for ids), or + its `field` when it is an
/// object (`{conversationId, roomId}`).
fn room_name(prefix: &str, field: &str, args: &[Arg]) -> Result<String, String> {
    let part = match first_json(args) {
        Some(Value::Object(mut o)) => o.remove(field),
        other => other,
    };
    let part = match part {
        Some(Value::String(s)) => s,
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let room = format!("{prefix}{part}");
    if part.is_empty() || room.len() > MAX_ROOM_LEN {
        return Err(format!(
            "room must be a non-empty string (first argument, or its {field:?} field)"
        ));
    }
    Ok(room)
}

/// Applies a join/leave event; the result is the client's `{ok}` ack.
pub(crate) async fn room_event(
    sio: &Arc<Sio>,
    session: &Arc<Session>,
    cfg: &NamespaceConfig,
    op: RoomOp<'_>,
    args: Vec<Arg>,
) -> Result<(), String> {
    match op {
        RoomOp::Join { prefix, field } => {
            let room = room_name(prefix, field, &args)?;
            join(sio, session, cfg, &room, args).await
        }
        RoomOp::Leave { prefix, field } => {
            let room = room_name(prefix, field, &args)?;
            leave(sio, session, &cfg.name, &room).await
        }
    }
}

async fn join(
    sio: &Arc<Sio>,
    session: &Arc<Session>,
    cfg: &NamespaceConfig,
    room: &str,
    args: Vec<Arg>,
) -> Result<(), String> {
    let ns = cfg.name.as_str();
    // `origin` is set when the claim does not allow the room (a `$join` handler may).
    let Some((id, origin)) = session.with_socket(ns, |s| {
        let allowed = s.claims.as_ref().is_some_and(|c| c.may_join(room));
        (s.id.clone(), (!allowed).then(|| Origin::of(s)))
    }) else {
        return Err("not connected".to_owned());
    };
    let (member, count) = sio
        .index
        .read()
        .get(&id)
        .map_or((false, 0), |c| (c.rooms.contains(room), c.rooms.len()));
    let max = usize::try_from(cfg.max_rooms_per_connection).unwrap_or(usize::MAX);
    if !member && count >= max {
        return Err(format!("room limit reached ({max})"));
    }
    if let Some(origin) = origin {
        if !cfg.join_handler {
            return Err(format!("not allowed to join room {room}"));
        }
        ask_join(sio, origin, room, args).await?;
    }
    join_applied(sio, &id, room).await
}

/// Joins locally and at the core (undone locally when the core refuses). Until the core answers
/// with the join's point, nothing reaches the socket through the room: events accepted before the
/// join were not counted for it.
pub(crate) async fn join_applied(sio: &Sio, id: &Arc<str>, room: &str) -> Result<(), String> {
    let member = sio.index.read().get(id).map(|c| c.value.clone());
    if let Some(m) = &member {
        m.joining(room);
    }
    let newly = sio.index.write().join(id, room).unwrap_or(false);
    let change = RoomChange {
        connection_id: id.to_string(),
        room: room.to_owned(),
    };
    match sio
        .core
        .request_applied(Msg::Join(change), REQUEST_TIMEOUT)
        .await
    {
        Ok(applied) => {
            if let Some(m) = &member {
                m.joined(room, applied.floor_seq);
            }
            Ok(())
        }
        Err(e) => {
            if newly {
                let _ = sio.index.write().leave(id, room);
            }
            if let Some(m) = &member {
                m.forget_join(room);
            }
            Err(e.to_string())
        }
    }
}

async fn leave(sio: &Arc<Sio>, session: &Arc<Session>, ns: &str, room: &str) -> Result<(), String> {
    let Some(id) = session.socket_id(ns) else {
        return Err("not connected".to_owned());
    };
    let was = sio.index.write().leave(&id, room).unwrap_or(false);
    let change = RoomChange {
        connection_id: id.to_string(),
        room: room.to_owned(),
    };
    match sio.core.request(Msg::Leave(change)).await {
        Ok(()) => {
            // Left for good: a later join needs its own authorization.
            session.with_socket(ns, |s| s.granted.retain(|g| &**g != room));
            Ok(())
        }
        Err(e) => {
            if was && session.socket_id(ns).is_some() {
                let _ = sio.index.write().join(&id, room);
            }
            Err(e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RoomAlias;

    #[test]
    fn events_map_to_room_ops() {
        let mut cfg = NamespaceConfig::new("/");
        cfg.room_aliases.push(RoomAlias {
            join: "subscribe:campaign".into(),
            leave: "unsubscribe:campaign".into(),
            prefix: "campaign:".into(),
            field: String::new(),
        });
        let builtin = "room";
        assert_eq!(
            room_op(&cfg, "join"),
            Some(RoomOp::Join {
                prefix: "",
                field: builtin
            })
        );
        assert_eq!(
            room_op(&cfg, "leave"),
            Some(RoomOp::Leave {
                prefix: "",
                field: builtin
            })
        );
        assert_eq!(
            room_op(&cfg, "subscribe:campaign"),
            Some(RoomOp::Join {
                prefix: "campaign:",
                field: builtin
            })
        );
        assert_eq!(
            room_op(&cfg, "unsubscribe:campaign"),
            Some(RoomOp::Leave {
                prefix: "campaign:",
                field: builtin
            })
        );
        cfg.room_aliases[0].field = "roomId".into();
        assert_eq!(
            room_op(&cfg, "subscribe:campaign"),
            Some(RoomOp::Join {
                prefix: "campaign:",
                field: "roomId"
            })
        );
        assert_eq!(room_op(&cfg, "other"), None);
        cfg.join_event.clear();
        assert_eq!(room_op(&cfg, "join"), None);
        assert_eq!(room_op(&cfg, ""), None);
    }

    #[test]
    fn room_names() {
        let j = |s: &str| vec![Arg::Json(s.to_owned())];
        assert_eq!(room_name("c:", "room", &j(r#""x""#)), Ok("c:x".into()));
        assert_eq!(room_name("c:", "room", &j("42")), Ok("c:42".into()));
        assert_eq!(
            room_name(
                "",
                "roomId",
                &j(r#"{"conversationId":"c1","roomId":"room_c1"}"#)
            ),
            Ok("room_c1".into())
        );
        assert_eq!(room_name("n:", "id", &j(r#"{"id":7}"#)), Ok("n:7".into()));
        assert!(room_name("", "room", &j(r#"{"roomId":"x"}"#)).is_err());
        assert!(room_name("", "room", &j(r#""""#)).is_err());
        assert!(room_name("", "room", &j("{}")).is_err());
        assert!(room_name("", "room", &[]).is_err());
    }
}
