//! Delivery fan-out (hot path): resolve an event's targets over the local index, keep the recipients
//! whose floor is below the event's sequence (one compare each), encode the frame once (with the
//! recovery offset as the last argument of recoverable events in namespaces with connection-state
//! recovery), and hand the same bytes to every recipient's bounded queue (or its restore buffer
//! while it is being registered or restored).

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use herald_codec::event::{Arg, encode_event};
use herald_index::Topic;
use herald_proto::v1::{Delivery, DeliveryClass, arg};

use crate::edge::Edge;
use crate::engine::session::{PushError, Session, SharedFrame};
use crate::member::Member;
use crate::socketio::recovery::{deliver_to, offset_arg, offset_seq};

/// Converts the core's args into codec args.
pub(crate) fn codec_args(args: &[herald_proto::v1::Arg]) -> Vec<Arg> {
    args.iter()
        .map(|a| match &a.value {
            Some(arg::Value::Json(j)) => Arg::Json(j.clone()),
            Some(arg::Value::Binary(b)) => Arg::Binary(b.clone()),
            None => Arg::Json(String::new()),
        })
        .collect()
}

/// Deliveries handled together: when several are ready at once, each websocket's frames are
/// gathered and written in one go at the end ([`Batch::finish`]).
pub(crate) struct Batch {
    /// Gather rather than write.
    gather: bool,
    /// Sessions holding gathered frames.
    corked: Vec<Arc<Session>>,
}

impl Batch {
    /// A batch that gathers frames (several deliveries are ready) or writes them at once.
    pub fn new(gather: bool) -> Self {
        Batch {
            gather,
            corked: Vec::new(),
        }
    }

    /// Writes everything gathered.
    pub fn finish(&mut self) {
        for s in self.corked.drain(..) {
            s.uncork();
        }
    }
}

/// Where an event stands in its namespace's order: its sequence (each socket takes only events
/// above its floor; 0 for relays, which always pass) and, for a recoverable event, the sequence of
/// its offset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Order {
    pub seq: u64,
    pub offset: Option<u64>,
}

/// Delivers one event to the local sockets it concerns.
pub(crate) fn deliver(edge: &Edge, delivery: Delivery, batch: &mut Batch) {
    let Some(event) = delivery.event else { return };
    edge.metrics.delivered(event.timestamp_ms);
    let targets: Vec<Topic<'_>> = event
        .targets
        .iter()
        .filter_map(|t| Topic::parse(t).ok())
        .collect();
    if targets.is_empty() {
        return;
    }
    let except: Vec<Topic<'_>> = event
        .except
        .iter()
        .filter_map(|t| Topic::parse(t).ok())
        .collect();

    let ns = event.namespace.as_str();
    let recovery = edge
        .config
        .namespace(ns)
        .is_some_and(|c| c.connection_state_recovery);
    // Each socket notes the offset of the recoverable events it gets (to come back with after a
    // relink); clients in recovery namespaces get it as the last argument.
    let order = Order {
        seq: event.seq,
        offset: if event.delivery() == DeliveryClass::Volatile {
            None
        } else {
            offset_seq(&event.offset)
        },
    };
    let offset_arg_too = recovery && order.offset.is_some();

    if delivery.ack_ref == 0 {
        let encode = || {
            let mut args = codec_args(&event.args);
            if offset_arg_too {
                args.push(offset_arg(&event.offset));
            }
            let f = encode_event(ns, None, &event.name, &args);
            SharedFrame::new(Utf8Bytes::from(f.text), f.attachments)
        };
        deliver_shared(edge, ns, &targets, &except, order, encode, batch);
        return;
    }
    // Each recipient gets its own ack id, hence its own frame: collect, then encode per recipient.
    let mut recipients: Vec<Arc<Member>> = Vec::new();
    edge.index.read().resolve(ns, &targets, &except, |c| {
        if c.value.due(order.seq, c, &targets) {
            recipients.push(c.value.clone());
        }
    });
    if recipients.is_empty() {
        return;
    }
    let args = codec_args(&event.args);
    for member in recipients {
        let Some(ack_id) = member
            .session
            .with_socket(ns, |s| s.register_ack(delivery.ack_ref))
        else {
            continue;
        };
        let frame = encode_event(ns, Some(ack_id), &event.name, &args);
        deliver_to(
            edge,
            &member,
            ns,
            order,
            frame.text.into(),
            &frame.attachments,
        );
    }
}

/// The common case (no ack): one frame for every recipient above whose floor the event is, encoded
/// once (only if there is a recipient) and queued while the index is read-locked, which never blocks
/// (queues are bounded and refuse when full). Sessions that need more (a restore in progress, a full
/// queue: closing a session takes the index's write lock) are handled after the lock is released.
pub(crate) fn deliver_shared(
    edge: &Edge,
    ns: &str,
    targets: &[Topic<'_>],
    except: &[Topic<'_>],
    order: Order,
    encode: impl FnOnce() -> SharedFrame,
    batch: &mut Batch,
) {
    let mut encode = Some(encode);
    let mut frame: Option<SharedFrame> = None;
    // Restoring sockets (not yet admitted) and full queues (admitted).
    let mut restoring: Vec<Arc<Member>> = Vec::new();
    let mut full: Vec<Arc<Session>> = Vec::new();
    {
        let index = edge.index.read();
        index.resolve(ns, targets, except, |c| {
            let member = &c.value;
            let session = &member.session;
            if session.is_restoring() {
                restoring.push(member.clone());
                return;
            }
            if !member.due(order.seq, c, targets) || !member.admit(order.seq) {
                return;
            }
            if let Some(o) = order.offset {
                member.note_offset(o);
            }
            if frame.is_none() {
                frame = encode.take().map(|encode| encode());
            }
            let Some(shared) = frame.as_ref() else {
                return;
            };
            let pushed = if batch.gather {
                session.push_shared_corked(shared).map(|corked| {
                    if corked {
                        batch.corked.push(session.clone());
                    }
                })
            } else {
                session.push_shared(shared)
            };
            match pushed {
                Ok(()) | Err(PushError::Closed) => {}
                Err(PushError::Full) => full.push(session.clone()),
            }
        });
    }
    if restoring.is_empty() && full.is_empty() {
        return;
    }
    let shared = match frame {
        Some(f) => f,
        None => match encode.take() {
            Some(encode) => encode(),
            None => return,
        },
    };
    for session in full {
        session.push_or_kill(edge, shared.text.clone(), &shared.attachments);
    }
    for member in restoring {
        deliver_to(
            edge,
            &member,
            ns,
            order,
            shared.text.clone(),
            &shared.attachments,
        );
    }
}
