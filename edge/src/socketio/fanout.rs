//! Delivery fan-out (hot path): resolve an event's targets over the local index, keep the recipients
//! whose floor is below the event's sequence (one compare each), encode the frame once (with the
//! recovery offset as the last argument of recoverable events in namespaces with connection-state
//! recovery), and hand the same bytes to every recipient's bounded queue (or its restore buffer
//! while it is being registered or restored).

use std::cell::Cell;
use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use herald_codec::event::{Arg, encode_event};
use herald_index::Topic;
use herald_proto::v1::{Delivery, DeliveryClass, arg};

use crate::socketio::member::Member;
use crate::socketio::recovery::{deliver_to, offset_arg, offset_seq};
use crate::socketio::session::SessionExt;
use crate::socketio::session::{PushError, Session, SharedFrame};
use crate::socketio::state::Sio;

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

thread_local! {
    /// The recipients of the delivery being written on this thread, kept between deliveries for
    /// its capacity (taken while in use, so a nested delivery just starts an empty one).
    static RECIPIENTS: Cell<Vec<Arc<Member>>> = const { Cell::new(Vec::new()) };
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
pub(crate) fn deliver(sio: &Sio, delivery: Delivery, batch: &mut Batch) {
    let Some(event) = delivery.event else { return };
    sio.metrics.delivered(event.timestamp_ms);
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
    let recovery = sio
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
        deliver_shared(sio, ns, &targets, &except, order, encode, batch);
        return;
    }
    // Each recipient gets its own ack id, hence its own frame: collect, then encode per recipient.
    let mut recipients: Vec<Arc<Member>> = Vec::new();
    sio.index.read().resolve(ns, &targets, &except, |c| {
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
            sio,
            &member,
            ns,
            order,
            frame.text.into(),
            &frame.attachments,
        );
    }
}

/// The common case (no ack): one frame for every recipient above whose floor the event is, encoded
/// once (only if there is a recipient). The recipients are collected while the index is
/// read-locked (into a buffer each thread reuses) and written after it is released, so a large
/// fan-out never holds up connects, joins or closes. Sessions being restored take the frame
/// through their restore buffer.
pub(crate) fn deliver_shared(
    sio: &Sio,
    ns: &str,
    targets: &[Topic<'_>],
    except: &[Topic<'_>],
    order: Order,
    encode: impl FnOnce() -> SharedFrame,
    batch: &mut Batch,
) {
    let mut recipients = RECIPIENTS.take();
    sio.index.read().resolve(ns, targets, except, |c| {
        let member = &c.value;
        // A restoring session takes the event through its buffer, which checks the floor itself.
        if member.session.is_restoring() || member.due(order.seq, c, targets) {
            recipients.push(member.clone());
        }
    });
    if !recipients.is_empty() {
        let frame = encode();
        for member in recipients.drain(..) {
            write(sio, &member, ns, order, &frame, batch);
        }
    }
    RECIPIENTS.set(recipients);
}

/// Hands the shared frame to one recipient: its queue, or its restore buffer while it is restored.
fn write(
    sio: &Sio,
    member: &Member,
    ns: &str,
    order: Order,
    frame: &SharedFrame,
    batch: &mut Batch,
) {
    let session = &member.session;
    if session.is_restoring() {
        deliver_to(
            sio,
            member,
            ns,
            order,
            frame.text.clone(),
            &frame.attachments,
        );
        return;
    }
    if !member.admit(order.seq) {
        return;
    }
    if let Some(o) = order.offset {
        member.note_offset(o);
    }
    let pushed = if batch.gather {
        session.push_shared_corked(frame).map(|corked| {
            if corked {
                batch.corked.push(session.clone());
            }
        })
    } else {
        session.push_shared(frame)
    };
    if pushed == Err(PushError::Full) {
        session.push_or_kill(sio, frame.text.clone(), &frame.attachments);
    }
}
