//! Delivery fan-out (hot path): resolve an event's targets over the local index, encode the frame
//! once (with the recovery offset as the last argument of recoverable events in namespaces with
//! connection-state recovery), and hand the same bytes to every recipient's bounded queue (or its
//! restore buffer while its session is being restored).

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use herald_codec::event::{Arg, encode_event};
use herald_index::Topic;
use herald_proto::v1::{Delivery, DeliveryClass, arg};

use crate::edge::Edge;
use crate::engine::session::Session;
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

/// Delivers one event to the local sockets it concerns.
pub(crate) fn deliver(edge: &Edge, delivery: Delivery) {
    let Some(event) = delivery.event else { return };
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

    // Collect under the lock, push after releasing it.
    let mut recipients: Vec<(Arc<str>, Arc<Session>)> = Vec::new();
    edge.index
        .read()
        .resolve(&event.namespace, &targets, &except, |c| {
            recipients.push((c.id.clone(), c.value.clone()));
        });
    if recipients.is_empty() {
        return;
    }
    let ns = event.namespace.as_str();
    let recovery = edge
        .config
        .namespace(ns)
        .is_some_and(|c| c.connection_state_recovery);
    // Recoverable events carry an offset; a restoring socket uses its sequence number to drop
    // what the replay already had.
    let seq = if recovery && event.delivery() != DeliveryClass::Volatile {
        offset_seq(&event.offset)
    } else {
        None
    };
    let mut args = codec_args(&event.args);

    if delivery.ack_ref == 0 {
        if seq.is_some() {
            args.push(offset_arg(&event.offset));
        }
        let frame = encode_event(ns, None, &event.name, &args);
        let text = Utf8Bytes::from(frame.text);
        for (_, session) in recipients {
            deliver_to(edge, &session, ns, seq, text.clone(), &frame.attachments);
        }
        return;
    }
    for (_, session) in recipients {
        let Some(ack_id) = session.with_socket(ns, |s| s.register_ack(delivery.ack_ref)) else {
            continue;
        };
        let frame = encode_event(ns, Some(ack_id), &event.name, &args);
        deliver_to(
            edge,
            &session,
            ns,
            seq,
            frame.text.into(),
            &frame.attachments,
        );
    }
}
