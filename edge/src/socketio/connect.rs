//! Socket.IO CONNECT: namespace, token, a session restore when the client brings `pid` + `offset`,
//! else the optional `$connect` handler (rooms + data, or a refusal), registration with the core
//! (with a fresh recovery `pid`), the handler's rooms, then the `40` answer.

use std::sync::Arc;

use herald_codec::event::{encode_connect_error, encode_connect_ok, encode_event};
use herald_codec::socket::Packet;
use herald_proto::v1::{ConnectionOpened, link_request::Msg};
use serde_json::Value;
use tokio::time::Instant;

use crate::config::NamespaceConfig;
use crate::metrics::Refusal;
use crate::socketio::core::{CoreError, REQUEST_TIMEOUT};
use crate::socketio::forward::{ConnectDecision, Origin, ask_connect};
use crate::socketio::member::Member;
use crate::socketio::reason::Reason;
use crate::socketio::recovery::{self, Restore, RestoreBuffer, RestoringGuard, finish_restore};
use crate::socketio::relay::TokenBucket;
use crate::socketio::rooms::join_applied;
use crate::socketio::session::SessionExt;
use crate::socketio::session::{Session, SocketState, closed_msg};
use crate::socketio::state::Sio;
use crate::socketio::user_rate;
use herald_engine::ids;

fn refuse(sio: &Sio, session: &Session, ns: &str, why: Refusal, message: &str) {
    sio.metrics.refused(why);
    // Logged once per refusal with its reason (never the token).
    tracing::info!(sid = %session.sid, ns, kind = why.as_str(), reason = message, "connect refused");
    let _ = session.push_text(encode_connect_error(ns, message));
}

/// The token of a CONNECT: `auth.token`, else the handshake's `Authorization: Bearer`.
fn token<'a>(packet: &'a Packet, session: &'a Session) -> Option<&'a str> {
    packet
        .data
        .as_ref()
        .and_then(|d| d.get("token"))
        .and_then(Value::as_str)
        .or(session.header_token.as_deref())
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The CONNECT payload without its token: what a `$connect` handler gets as its first argument.
fn auth_without_token(packet: &Packet) -> Option<Value> {
    match packet.data.as_ref()? {
        Value::Object(o) => {
            let mut o = o.clone();
            o.remove("token");
            Some(Value::Object(o))
        }
        _ => None,
    }
}

pub(crate) async fn connect(sio: &Arc<Sio>, session: &Arc<Session>, packet: &Packet) {
    let ns = packet.namespace.as_str();
    if session.has_socket(ns) {
        return;
    }
    let Some(ns_cfg) = sio.config.namespace(ns) else {
        refuse(sio, session, ns, Refusal::Namespace, "Invalid namespace");
        return;
    };
    let (claims, claims_json) = match token(packet, session) {
        Some(t) => match sio.config.verifier.verify(t) {
            Ok(mut c) => {
                let raw = std::mem::take(&mut c.raw);
                let json = Value::Object(raw).to_string();
                (Some(Box::new(c)), json)
            }
            Err(e) => return refuse(sio, session, ns, Refusal::Auth, &e.to_string()),
        },
        None if ns_cfg.anonymous => (None, String::new()),
        None => {
            return refuse(
                sio,
                session,
                ns,
                Refusal::Auth,
                &herald_auth::AuthError::Missing.to_string(),
            );
        }
    };
    if sio.shutdown.is_cancelled() {
        return refuse(
            sio,
            session,
            ns,
            Refusal::Unavailable,
            "server shutting down",
        );
    }
    // A core that is starting or reconnecting gets a moment before the refusal.
    if let Err(e) = sio.core.wait_up().await {
        return refuse(sio, session, ns, Refusal::Unavailable, &e.to_string());
    }
    if ns_cfg.connection_state_recovery
        && let Some(resume) = recovery::resume_request(packet.data.as_ref())
    {
        let client = recovery::Client {
            claims: claims.as_deref(),
            claims_json: &claims_json,
            auth: auth_without_token(packet),
        };
        match recovery::restore(sio, session, ns_cfg, resume, client).await {
            Restore::Done => return,
            Restore::Refused(message) => {
                return refuse(sio, session, ns, Refusal::Recovery, &message);
            }
            Restore::Fresh if session.is_closed() || session.has_socket(ns) => return,
            Restore::Fresh => {}
        }
    }
    let id: Arc<str> = Arc::from(ids::random_id());
    let pid = ns_cfg.connection_state_recovery.then(ids::random_id);
    let user = claims.as_ref().map(|c| c.sub.clone());
    let decision = if ns_cfg.connect_handler {
        let origin = Origin {
            ns: ns.to_owned(),
            id: id.to_string(),
            user: user.clone().unwrap_or_default(),
            claims_json: claims_json.clone(),
            data_json: String::new(),
        };
        match ask_connect(sio, origin, auth_without_token(packet)).await {
            Ok(d) => d,
            Err(message) => return refuse(sio, session, ns, Refusal::Handler, &message),
        }
    } else {
        ConnectDecision::default()
    };
    let mut socket = SocketState::new(
        Arc::from(ns),
        id.clone(),
        claims,
        claims_json.into(),
        decision.data_json.into(),
        TokenBucket::new(
            ns_cfg.relay_rate_per_sec,
            ns_cfg.relay_burst,
            Instant::now(),
        ),
    );
    socket.pid = pid.as_deref().map(Box::from);
    socket.user_rate = user_rate::bucket_for(sio, ns_cfg, user.as_deref());
    // Live frames are held back until the core answered with the registration point.
    socket.restoring = Some(RestoreBuffer::default());
    let guard = RestoringGuard::new(session.clone());
    let member = match register(sio, session, socket, user).await {
        Ok(m) => m,
        Err((why, message)) => return refuse(sio, session, ns, why, &message),
    };
    join_rooms(sio, ns_cfg, &id, &decision.rooms).await;
    if session.socket_id(ns).as_deref() == Some(&*id) {
        // The CONNECT answer, then what the `$connect` handler wants the socket to get first,
        // then the live events held back meanwhile.
        let ok = encode_connect_ok(ns, &id, pid.as_deref());
        let mut first = Vec::with_capacity(1 + decision.emit.len());
        first.push((ok.into(), Vec::new()));
        for (name, args) in &decision.emit {
            let f = encode_event(ns, None, name, args);
            first.push((f.text.into(), f.attachments));
        }
        sio.engine.tasks.spawn(finish_restore(
            sio.clone(),
            guard,
            member,
            Arc::from(ns),
            first,
        ));
    }
}

/// Puts the socket in the local index and the session, then registers it with the core; its floor
/// is the core's registration point (events accepted before are not delivered to it).
async fn register(
    sio: &Sio,
    session: &Arc<Session>,
    socket: SocketState,
    user: Option<String>,
) -> Result<Arc<Member>, (Refusal, String)> {
    let (id, ns) = (socket.id.clone(), socket.ns.clone());
    let pid = socket.pid.as_deref().unwrap_or("").to_owned();
    let data_json = socket.data_json.to_string();
    let member = Member::new(session.clone());
    // Register locally first so a delivery right after the core applied it finds the socket.
    if sio
        .index
        .write()
        .insert(&id, &ns, user.as_deref(), member.clone())
        .is_err()
    {
        return Err((Refusal::Other, "duplicate connection id".to_owned()));
    }
    if !session.add_socket(socket) {
        sio.index.write().remove(&id);
        return Err((Refusal::Other, "session closed".to_owned()));
    }
    let opened = Msg::Opened(ConnectionOpened {
        connection_id: id.to_string(),
        namespace: ns.to_string(),
        user_id: user.unwrap_or_default(),
        pid,
        data_json,
        ..Default::default()
    });
    match sio.core.request_applied(opened, REQUEST_TIMEOUT).await {
        Ok(applied) => {
            member.raise_floor(applied.floor_seq);
            Ok(member)
        }
        Err(e) => {
            if session.remove_socket(&ns).is_some() {
                sio.index.write().remove(&id);
                // The core may have registered it before failing; make sure it forgets it.
                sio.core.send_owed(closed_msg(&id, &Reason::ConnectFailed));
            }
            // The core refuses what its limits forbid (connections per user).
            Err(match e {
                CoreError::Refused(m) => (Refusal::Limits, m),
                e => (Refusal::Unavailable, e.to_string()),
            })
        }
    }
}

/// Joins the rooms a `$connect` handler chose (no claim check; the core enforces the room limit).
async fn join_rooms(sio: &Sio, cfg: &NamespaceConfig, id: &Arc<str>, rooms: &[String]) {
    let joins = rooms.iter().map(|room| async move {
        if let Err(e) = join_applied(sio, id, room).await {
            tracing::warn!(ns = %cfg.name, conn = %id, room, error = %e, "$connect room not joined");
        }
    });
    futures::future::join_all(joins).await;
}
