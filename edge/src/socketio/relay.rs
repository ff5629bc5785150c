//! Relay events (typing indicators): the per-socket token bucket, the room of the event, and the
//! `RelayEvent` to the core, which emits it volatile to the room minus the sender (its connection,
//! or every connection of its user when the namespace says so).

use std::sync::Arc;

use herald_codec::event::{Arg, encode_event};
use herald_index::Topic;
use herald_proto::v1::{RelayEvent, link_request::Msg};
use serde_json::Value;
use tokio::time::Instant;

use crate::config::{NamespaceConfig, RelayExclude};
use crate::socketio::fanout::{Batch, Order, deliver_shared};
use crate::socketio::session::{Session, SharedFrame};
use crate::socketio::state::Sio;
use crate::socketio::{first_json, proto_arg};

/// A token bucket: `burst` tokens, refilled at `rate` per second.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket (a zero burst still lets one event through at a time).
    pub fn new(rate_per_sec: u32, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        TokenBucket {
            tokens: burst,
            rate: f64::from(rate_per_sec),
            burst,
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The room of a relay event: `args[0]` when a string, else `args[0][field]` when that is a string.
pub(crate) fn relay_room(args: &[Arg], field: &str) -> Option<String> {
    let room = match first_json(args)? {
        Value::String(s) => s,
        Value::Object(mut o) => match o.remove(field)? {
            Value::String(s) => s,
            _ => return None,
        },
        _ => return None,
    };
    (!room.is_empty()).then_some(room)
}

/// Relays one client event; `Ok(())` once the core took it (or, without an ack, once it is queued).
pub(crate) async fn relay(
    sio: &Arc<Sio>,
    session: &Arc<Session>,
    cfg: &NamespaceConfig,
    name: &str,
    args: Vec<Arg>,
    wants_ack: bool,
) -> Result<(), String> {
    let result = check(sio, session, cfg, &args);
    let (id, user, room) = match result {
        Ok(v) => v,
        Err(e) => {
            sio.metrics.relay_refused();
            return Err(e);
        }
    };
    // This edge's members get it at once; the core takes it to other edges and subscribers.
    let frame = || {
        let f = encode_event(&cfg.name, None, name, &args);
        SharedFrame::new(f.text.into(), f.attachments)
    };
    let exclude_user = cfg.relay_exclude == RelayExclude::User && !user.is_empty();
    let sender = [Topic::Conn(&id), Topic::User(&user)];
    let except = if exclude_user {
        &sender[..]
    } else {
        &sender[..1]
    };
    deliver_shared(
        sio,
        &cfg.name,
        &[Topic::Room(&room)],
        except,
        Order::default(),
        frame,
        &mut Batch::new(false),
    );
    let msg = Msg::Relay(RelayEvent {
        namespace: cfg.name.clone(),
        room,
        connection_id: id.to_string(),
        event: name.to_owned(),
        args: args.into_iter().map(proto_arg).collect(),
        delivered_locally: true,
        exclude_user,
    });
    sio.metrics.relayed();
    if wants_ack {
        sio.core.request(msg).await.map_err(|e| e.to_string())
    } else {
        // Dropped when the core cannot take it now (the link counts it): see `Core::send_relay`.
        sio.core.send_relay(msg);
        Ok(())
    }
}

/// Room, rate limit and (local) membership; the sender's connection id, user (empty when
/// anonymous) and the room.
fn check(
    sio: &Sio,
    session: &Session,
    cfg: &NamespaceConfig,
    args: &[Arg],
) -> Result<(Arc<str>, String, String), String> {
    let Some(room) = relay_room(args, &cfg.relay_room_field) else {
        return Err(format!(
            "relay event needs a room (first argument, or its {:?} field)",
            cfg.relay_room_field
        ));
    };
    let now = Instant::now();
    let Some((id, user, allowed)) = session.with_socket(&cfg.name, |s| {
        (s.id.clone(), s.user().to_owned(), s.relay.take(now))
    }) else {
        return Err("not connected".to_owned());
    };
    if !allowed {
        return Err("rate limited".to_owned());
    }
    let member = sio
        .index
        .read()
        .get(&id)
        .is_some_and(|c| c.rooms.contains(room.as_str()));
    if !member {
        return Err(format!("not a member of room {room}"));
    }
    Ok((id, user, room))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(2, 3, t0);
        assert!(b.take(t0) && b.take(t0) && b.take(t0));
        assert!(!b.take(t0), "burst exhausted");
        let half = t0 + Duration::from_millis(500);
        assert!(b.take(half), "one token after 1/rate seconds");
        assert!(!b.take(half));
        let later = t0 + Duration::from_secs(60);
        assert!(b.take(later) && b.take(later) && b.take(later));
        assert!(!b.take(later), "never more than the burst");
    }

    #[test]
    fn room_from_string_or_field() {
        let j = |s: &str| vec![Arg::Json(s.to_owned())];
        assert_eq!(relay_room(&j(r#""r1""#), "room"), Some("r1".into()));
        assert_eq!(
            relay_room(&j(r#"{"room":"r2","x":1}"#), "room"),
            Some("r2".into())
        );
        assert_eq!(
            relay_room(&j(r#"{"convo":"c"}"#), "convo"),
            Some("c".into())
        );
        assert_eq!(relay_room(&j(r#"{"room":5}"#), "room"), None);
        assert_eq!(relay_room(&j(r#""""#), "room"), None);
        assert_eq!(relay_room(&[], "room"), None);
    }
}
