//! Client events for backend handlers (`ClientEventForward`): forwarded events whose handler reply is
//! the ack, `$connect` (rooms + data, or a refusal), `$join` authorization and `$disconnect` reports.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use herald_codec::event::Arg;
use herald_proto::v1::{ClientEventForward, link_request::Msg};
use serde_json::{Value, json};

use crate::socketio::core::{CoreError, FORWARD_TIMEOUT};
use crate::socketio::fanout::codec_args;
use crate::socketio::reason::Reason;
use crate::socketio::session::{Session, SocketState};
use crate::socketio::state::Sio;
use crate::socketio::{json_arg, proto_arg, send_ack, send_ack_json};

/// Forwarded events of one session waiting for their reply at once; more are refused.
const MAX_IN_FLIGHT: usize = 64;

/// The error text a client sees for a failed handler call.
fn handler_error(e: CoreError) -> String {
    match e {
        CoreError::Refused(m) => m,
        CoreError::Timeout => "handler timeout".to_owned(),
        CoreError::Unavailable => e.to_string(),
    }
}

/// What a forward carries about the socket.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub ns: String,
    pub id: String,
    pub user: String,
    pub claims_json: String,
    pub data_json: String,
}

impl Origin {
    pub fn of(s: &SocketState) -> Self {
        Origin {
            ns: s.ns.to_string(),
            id: s.id.to_string(),
            user: s.user().to_owned(),
            claims_json: s.claims_json.to_string(),
            data_json: s.data_json.to_string(),
        }
    }

    fn forward(self, event: &str, args: Vec<herald_proto::v1::Arg>, room: String) -> Msg {
        Msg::Forward(ClientEventForward {
            namespace: self.ns,
            event: event.to_owned(),
            connection_id: self.id,
            user_id: self.user,
            claims_json: self.claims_json,
            data_json: self.data_json,
            args,
            room,
        })
    }
}

/// Hands a client event to a handler without blocking the session's reader; the reply (or
/// `{error}`) becomes the ack when the client asked for one.
pub(crate) fn forward_event(
    sio: &Arc<Sio>,
    session: &Arc<Session>,
    ns: &str,
    name: &str,
    args: Vec<Arg>,
    ack: Option<u64>,
) {
    let Some(origin) = session.with_socket(ns, |s| Origin::of(s)) else {
        return;
    };
    if session.forwards_in_flight.fetch_add(1, Ordering::AcqRel) >= MAX_IN_FLIGHT {
        session.forwards_in_flight.fetch_sub(1, Ordering::AcqRel);
        send_ack_json(
            sio,
            session,
            ns,
            ack,
            &json!({ "error": "too many pending requests" }),
        );
        return;
    }
    sio.metrics.forwarded();
    let msg = origin.forward(
        name,
        args.into_iter().map(proto_arg).collect(),
        String::new(),
    );
    let (sio, session, ns) = (sio.clone(), session.clone(), ns.to_owned());
    let tracker = sio.engine.tasks.clone();
    tracker.spawn(async move {
        let reply = tokio::select! {
            () = sio.shutdown.cancelled() => None,
            () = session.closed.cancelled() => None,
            r = sio.core.request_reply(msg, FORWARD_TIMEOUT) => Some(r),
        };
        session.forwards_in_flight.fetch_sub(1, Ordering::AcqRel);
        match reply {
            Some(Ok(args)) => send_ack(&sio, &session, &ns, ack, &codec_args(&args)),
            Some(Err(e)) => {
                let body = json!({ "error": handler_error(e) });
                send_ack_json(&sio, &session, &ns, ack, &body);
            }
            None => {}
        }
    });
}

/// Asks a `$join` handler whether the socket may join `room`.
pub(crate) async fn ask_join(
    sio: &Sio,
    origin: Origin,
    room: &str,
    args: Vec<Arg>,
) -> Result<(), String> {
    sio.metrics.forwarded();
    let msg = origin.forward(
        "$join",
        args.into_iter().map(proto_arg).collect(),
        room.to_owned(),
    );
    sio.core
        .request_reply(msg, FORWARD_TIMEOUT)
        .await
        .map(|_| ())
        .map_err(handler_error)
}

/// Most events a `$connect` reply may send to the new socket; later ones are dropped.
const MAX_CONNECT_EVENTS: usize = 32;

/// What a `$connect` handler decided.
#[derive(Debug, Default)]
pub(crate) struct ConnectDecision {
    /// Rooms to join (no claim check: the backend decided).
    pub rooms: Vec<String>,
    /// `data` as JSON text (empty when none).
    pub data_json: String,
    /// Events for the new socket, sent right after its CONNECT answer: (name, JSON args).
    pub emit: Vec<(String, Vec<Arg>)>,
}

/// `[{"event": name, "args": [...]}, ...]` of a `$connect` reply; entries without a usable name
/// (missing, empty, or reserved by Socket.IO) are skipped.
fn connect_events(v: Option<Value>) -> Vec<(String, Vec<Arg>)> {
    let Some(Value::Array(items)) = v else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|item| {
            let Value::Object(mut o) = item else {
                return None;
            };
            let name = match o.remove("event") {
                Some(Value::String(n))
                    if !n.is_empty() && !herald_codec::event::is_reserved_event(&n) =>
                {
                    n
                }
                _ => return None,
            };
            let args = match o.remove("args") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(a)) => a.iter().map(|v| Arg::Json(v.to_string())).collect(),
                Some(one) => vec![Arg::Json(one.to_string())],
            };
            Some((name, args))
        })
        .take(MAX_CONNECT_EVENTS)
        .collect()
}

/// Reads `{"rooms":[...], "data":{...}, "emit":[{"event","args"}]}` from the handler's first reply
/// arg; anything else: nothing.
fn decision(args: &[herald_proto::v1::Arg]) -> ConnectDecision {
    use herald_proto::v1::arg::Value as V;
    let Some(Some(V::Json(j))) = args.first().map(|a| &a.value) else {
        return ConnectDecision::default();
    };
    let Ok(Value::Object(mut o)) = serde_json::from_str::<Value>(j) else {
        return ConnectDecision::default();
    };
    let rooms = match o.remove("rooms") {
        Some(Value::Array(a)) => a
            .into_iter()
            .filter_map(|r| match r {
                Value::String(s) if !s.is_empty() => Some(s),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let data_json = match o.remove("data") {
        None | Some(Value::Null) => String::new(),
        Some(d) => d.to_string(),
    };
    let emit = connect_events(o.remove("emit"));
    ConnectDecision {
        rooms,
        data_json,
        emit,
    }
}

/// Asks the `$connect` handler about a new socket; `Err` is the `connect_error` message.
/// `auth` is the CONNECT payload without its token (the handler's first argument, if any).
pub(crate) async fn ask_connect(
    sio: &Sio,
    origin: Origin,
    auth: Option<Value>,
) -> Result<ConnectDecision, String> {
    sio.metrics.forwarded();
    let args = auth.iter().map(json_arg).collect();
    let msg = origin.forward("$connect", args, String::new());
    sio.core
        .request_reply(msg, FORWARD_TIMEOUT)
        .await
        .map(|args| decision(&args))
        .map_err(handler_error)
}

/// Reports a closed socket to `$disconnect` handlers (no reply), with `[{reason}]` as args; owed
/// to the core, so never dropped on a busy link (and sent before the socket's close notice).
pub(crate) fn report_disconnect(sio: &Sio, s: &SocketState, reason: &Reason) {
    sio.metrics.forwarded();
    let args = vec![json_arg(&json!({ "reason": reason.as_str() }))];
    sio.core
        .send_owed(Origin::of(s).forward("$disconnect", args, String::new()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arg(s: &str) -> Vec<herald_proto::v1::Arg> {
        vec![json_arg(&serde_json::from_str::<Value>(s).unwrap())]
    }

    #[test]
    fn connect_decision_reads_rooms_and_data() {
        let d = decision(&arg(r#"{"rooms":["a","",3,"b"],"data":{"tier":"gold"}}"#));
        assert_eq!(d.rooms, vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(d.data_json, r#"{"tier":"gold"}"#);
        assert!(d.emit.is_empty());
        let d = decision(&arg(
            r#"{"emit":[{"event":"welcome","args":[{"n":1},"x"]},{"event":"connect"},{"args":[1]},{"event":"one","args":5},{"event":"none"}]}"#,
        ));
        assert_eq!(
            d.emit,
            vec![
                (
                    "welcome".to_owned(),
                    vec![Arg::Json(r#"{"n":1}"#.into()), Arg::Json(r#""x""#.into())]
                ),
                ("one".to_owned(), vec![Arg::Json("5".into())]),
                ("none".to_owned(), Vec::new()),
            ]
        );
        let d = decision(&arg(r#""just ok""#));
        assert!(d.rooms.is_empty() && d.data_json.is_empty());
        assert!(decision(&[]).rooms.is_empty());
    }
}
