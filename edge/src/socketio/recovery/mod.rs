//! Socket.IO connection-state recovery at the edge: a returning client's CONNECT carries `pid` and
//! `offset`; the core's saved session is looked up, its rooms are authorized again, the connection
//! resumes under its old id, and the missed events are queued (with their offsets) before any
//! live frame, which is held back meanwhile; the socket's floor then starts at the last replayed
//! event, so a live copy of a replayed event is never delivered again.

mod buffer;
mod wire;

use std::sync::Arc;

use herald_auth::Claims;
use herald_codec::event::{Arg, encode_connect_ok, encode_event};
use herald_proto::v1::{
    Applied, ConnectionClosed, ConnectionOpened, SavedSession, SessionLookup, link_request::Msg,
};
use serde_json::Value;
use tokio::time::Instant;

use crate::config::NamespaceConfig;
use crate::socketio::core::REQUEST_TIMEOUT;
use crate::socketio::fanout::codec_args;
use crate::socketio::forward::{ConnectDecision, Origin, ask_connect, ask_join};
use crate::socketio::member::Member;
use crate::socketio::relay::TokenBucket;
use crate::socketio::rooms::join_applied;
use crate::socketio::session::SessionExt;
use crate::socketio::session::{Session, SocketState};
use crate::socketio::state::Sio;

pub(crate) use buffer::{RestoreBuffer, RestoringGuard, deliver_to, finish_restore};
pub(crate) use wire::{Resume, offset_arg, offset_seq, resume_request};

/// What became of a restore attempt.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Restore {
    /// Restored (or the Engine.IO session closed meanwhile): nothing left to do.
    Done,
    /// The `$connect` handler refused the client: answer with this `connect_error`.
    Refused(String),
    /// Nothing to restore: connect a fresh session.
    Fresh,
}

/// The verified identity of the client asking to resume.
pub(crate) struct Client<'a> {
    pub claims: Option<&'a Claims>,
    pub claims_json: &'a str,
    /// The CONNECT payload without its token (a `$connect` handler's first argument).
    pub auth: Option<Value>,
}

impl Client<'_> {
    fn user(&self) -> &str {
        self.claims.map_or("", |c| c.sub.as_str())
    }
}

/// Tries to resume the session `resume` names; see the module docs.
pub(crate) async fn restore(
    sio: &Arc<Sio>,
    session: &Arc<Session>,
    cfg: &NamespaceConfig,
    resume: Resume,
    client: Client<'_>,
) -> Restore {
    let ns = cfg.name.as_str();
    let Some(saved) = lookup(sio, ns, &resume, client.user()).await else {
        sio.metrics.not_recovered();
        return Restore::Fresh;
    };
    let id: Arc<str> = Arc::from(saved.connection_id.as_str());
    let origin = Origin {
        ns: ns.to_owned(),
        id: id.to_string(),
        user: client.user().to_owned(),
        claims_json: client.claims_json.to_owned(),
        data_json: saved.data_json.clone(),
    };
    let decision = if cfg.connect_handler {
        match ask_connect(sio, origin.clone(), client.auth.clone()).await {
            Ok(d) => Some(d),
            Err(message) => return Restore::Refused(message),
        }
    } else {
        None
    };
    let rooms = reauthorize(sio, cfg, &saved, &client, decision.as_ref(), &origin).await;
    let granted: Vec<String> = rooms
        .iter()
        .filter(|r| saved.granted_rooms.contains(r))
        .cloned()
        .collect();
    let data_json = decision
        .as_ref()
        .map_or_else(|| saved.data_json.clone(), |d| d.data_json.clone());

    let mut socket = SocketState::new(
        Arc::from(ns),
        id.clone(),
        client.claims.cloned().map(Box::new),
        client.claims_json.into(),
        data_json.clone().into(),
        TokenBucket::new(cfg.relay_rate_per_sec, cfg.relay_burst, Instant::now()),
    );
    socket.pid = Some(resume.pid.clone().into());
    socket.user_rate = crate::socketio::user_rate::bucket_for(
        sio,
        cfg,
        Some(client.user()).filter(|u| !u.is_empty()),
    );
    socket.restoring = Some(RestoreBuffer::default());
    socket.granted = granted.iter().map(|g| g.as_str().into()).collect();
    let guard = RestoringGuard::new(session.clone());
    let member = Member::new(session.clone());
    match register_local(sio, &member, socket, client.user(), &rooms) {
        Ok(()) => {}
        Err(outcome) => {
            if outcome == Restore::Fresh {
                sio.metrics.not_recovered();
            }
            return outcome;
        }
    }
    let opened = Msg::Opened(ConnectionOpened {
        connection_id: id.to_string(),
        namespace: ns.to_owned(),
        user_id: client.user().to_owned(),
        pid: resume.pid.clone(),
        rooms: rooms.clone(),
        resume_offset: resume.offset.clone(),
        data_json,
        granted_rooms: granted,
    });
    let applied = match sio.core.request_applied(opened, REQUEST_TIMEOUT).await {
        Ok(a) => a,
        Err(e) => {
            tracing::debug!(ns, conn = %id, error = %e, "session not resumed");
            if session.remove_socket(ns).is_none() {
                return Restore::Done;
            }
            sio.index.write().remove(&id);
            // The core registers the connection even when it refuses the resume: end it for good.
            sio.core.send_owed(Msg::Closed(ConnectionClosed {
                connection_id: id.to_string(),
                reason: "resume failed".to_owned(),
                recoverable: false,
            }));
            sio.metrics.not_recovered();
            return Restore::Fresh;
        }
    };
    let mut first = replay_frames(ns, &id, &resume, &applied, &member);
    if let Some(d) = &decision {
        join_new_rooms(sio, &id, &d.rooms, &rooms).await;
        // What the `$connect` handler sends the socket comes after the missed events, as its
        // `connection` listener runs once the session is restored.
        for (name, args) in &d.emit {
            let f = encode_event(ns, None, name, args);
            first.push((f.text.into(), f.attachments));
        }
    }
    sio.metrics.recovered();
    tracing::debug!(ns, conn = %id, replayed = applied.replay.len(), "session restored");
    sio.engine.tasks.spawn(finish_restore(
        sio.clone(),
        guard,
        member,
        Arc::from(ns),
        first,
    ));
    Restore::Done
}

/// Asks the core for the saved session of `resume` (consumed by the lookup).
async fn lookup(sio: &Sio, ns: &str, resume: &Resume, user: &str) -> Option<SavedSession> {
    let msg = Msg::Lookup(SessionLookup {
        pid: resume.pid.clone(),
        namespace: ns.to_owned(),
        user_id: user.to_owned(),
        offset: resume.offset.clone(),
    });
    match sio.core.request_applied(msg, REQUEST_TIMEOUT).await {
        Ok(Applied {
            session: Some(s), ..
        }) if !s.connection_id.is_empty() => Some(s),
        Ok(_) => None,
        Err(e) => {
            tracing::debug!(ns, error = %e, "no session to restore");
            None
        }
    }
}

/// The saved rooms the client may still be in: those a backend joined it to (that join is their
/// authorization), the token's rooms claim, the `$connect` handler's rooms, or else a `$join`
/// handler's consent; the others are dropped.
async fn reauthorize(
    sio: &Sio,
    cfg: &NamespaceConfig,
    saved: &SavedSession,
    client: &Client<'_>,
    decision: Option<&ConnectDecision>,
    origin: &Origin,
) -> Vec<String> {
    let checks = saved.rooms.iter().map(|room| async move {
        let allowed = saved.granted_rooms.contains(room)
            || client.claims.is_some_and(|c| c.may_join(room))
            || decision.is_some_and(|d| d.rooms.contains(room))
            || (cfg.join_handler
                && ask_join(sio, origin.clone(), room, vec![room_arg(room)])
                    .await
                    .is_ok());
        if !allowed {
            tracing::debug!(ns = %cfg.name, conn = %origin.id, room, "room not restored: no longer allowed");
        }
        allowed.then(|| room.clone())
    });
    futures::future::join_all(checks)
        .await
        .into_iter()
        .flatten()
        .collect()
}

fn room_arg(room: &str) -> Arg {
    Arg::Json(Value::String(room.to_owned()).to_string())
}

/// Puts the restoring socket in the session, then in the local index (with its rooms): from the
/// moment any delivery can resolve it, its frames are held back, and the core learns of it later.
fn register_local(
    sio: &Sio,
    member: &Arc<Member>,
    socket: SocketState,
    user: &str,
    rooms: &[String],
) -> Result<(), Restore> {
    let (id, ns) = (socket.id.clone(), socket.ns.clone());
    let user = (!user.is_empty()).then_some(user);
    let session = &member.session;
    if !session.add_socket(socket) {
        return Err(Restore::Done);
    }
    let mut index = sio.index.write();
    if index.insert(&id, &ns, user, member.clone()).is_err() {
        drop(index);
        tracing::debug!(conn = %id, "saved connection id is live on this edge");
        session.remove_socket(&ns);
        return Err(Restore::Fresh);
    }
    if !session.has_socket(&ns) {
        // The session closed in between and has already forgotten the socket.
        index.remove(&id);
        return Err(Restore::Done);
    }
    for room in rooms {
        let _ = index.join(&id, room);
    }
    Ok(())
}

/// The CONNECT reply, then each missed event with its offset as the last argument. The socket's
/// floor becomes the last replayed event (or the registration point), so that live copies of what
/// the replay carried are dropped; its last offset, the client's or the last replayed one.
fn replay_frames(
    ns: &str,
    id: &str,
    resume: &Resume,
    applied: &Applied,
    member: &Member,
) -> Vec<(axum::extract::ws::Utf8Bytes, Vec<bytes::Bytes>)> {
    let mut frames = Vec::with_capacity(1 + applied.replay.len());
    frames.push((
        encode_connect_ok(ns, id, Some(&resume.pid)).into(),
        Vec::new(),
    ));
    member.raise_floor(applied.floor_seq);
    member.note_offset(offset_seq(&resume.offset).unwrap_or(0));
    for ev in &applied.replay {
        let mut args = codec_args(&ev.args);
        if !ev.offset.is_empty() {
            args.push(offset_arg(&ev.offset));
            member.note_offset(offset_seq(&ev.offset).unwrap_or(0));
        }
        member.raise_floor(ev.seq);
        let frame = encode_event(ns, None, &ev.name, &args);
        frames.push((frame.text.into(), frame.attachments));
    }
    frames
}

/// Joins the rooms a `$connect` handler chose that the saved session did not have.
async fn join_new_rooms(sio: &Sio, id: &Arc<str>, chosen: &[String], restored: &[String]) {
    let joins = chosen
        .iter()
        .filter(|r| !restored.contains(r))
        .map(|room| async move {
            if let Err(e) = join_applied(sio, id, room).await {
                tracing::warn!(conn = %id, room, error = %e, "$connect room not joined");
            }
        });
    futures::future::join_all(joins).await;
}
