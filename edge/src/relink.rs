//! Registering the live sockets again when a link to a core comes (back) up, after a core restart or
//! a failover to another core. Each socket is announced with its rooms and the offset of the last
//! recoverable event it received; its live frames are held back until the core answered, then the
//! events it missed meanwhile are queued first (once, in order: its floor drops what the replay
//! carried). When the core cannot replay them (another broker epoch, the window exceeded) the client
//! is told: `herald:disconnect {reason}`, then its transport closes and its session is not kept,
//! so that it reconnects with `recovered === false` and refetches. A socket that never received a
//! recoverable event is registered fresh.

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use herald_codec::event::encode_event;
use herald_index::Topic;
use herald_proto::v1::{Applied, ConnectionOpened, LinkRequest, link_request::Msg};
use tokio::sync::mpsc;

use crate::link::Link;
use crate::link::Sent;
use crate::socketio::core::{CoreError, REQUEST_TIMEOUT};
use crate::socketio::fanout::codec_args;
use crate::socketio::member::Member;
use crate::socketio::reason::Reason;
use crate::socketio::recovery::{RestoreBuffer, RestoringGuard, finish_restore, offset_arg};
use crate::socketio::session::SessionExt;
use crate::socketio::state::Sio;

/// A live socket as the core must learn it again.
struct Snapshot {
    id: String,
    ns: Arc<str>,
    user: String,
    rooms: Vec<String>,
    member: Arc<Member>,
}

/// A socket announced to the core, waiting for its answer.
struct Announced {
    ns: Arc<str>,
    member: Arc<Member>,
    /// Holds the socket's live frames back; `None` when another flow already does.
    guard: Option<RestoringGuard>,
    resumed: bool,
    sent: Sent,
}

/// Announces every live socket on the new link `tx`, opens the link to other requests, then
/// handles each answer (see the module docs). `epoch` is the broker epoch of the sockets' offsets.
pub(crate) async fn reregister(
    sio: Arc<Sio>,
    link: Arc<Link>,
    tx: mpsc::Sender<LinkRequest>,
    epoch: String,
) {
    let snapshot = snapshot(&sio);
    if !snapshot.is_empty() {
        tracing::info!(
            sockets = snapshot.len(),
            "registering sockets with the core again"
        );
    }
    let mut announced = Vec::with_capacity(snapshot.len());
    for s in snapshot {
        match announce(&sio, &link, &tx, s, &epoch).await {
            Ok(Some(a)) => announced.push(a),
            Ok(None) => {}
            // The link closed meanwhile: what was held back goes out, the next link registers
            // the sockets.
            Err(e) => {
                for a in announced {
                    settle(&sio, &a.ns, a.member, a.guard, a.resumed, Err(e.clone()));
                }
                return;
            }
        }
    }
    link.set_up();
    let answers = announced.into_iter().map(|a| {
        let (sio, link) = (sio.clone(), link.clone());
        async move {
            let Announced {
                ns,
                member,
                guard,
                resumed,
                sent,
            } = a;
            let answer = link.answer(sent, REQUEST_TIMEOUT).await;
            settle(&sio, &ns, member, guard, resumed, answer);
        }
    });
    futures::future::join_all(answers).await;
}

/// Every socket of the local index.
fn snapshot(sio: &Sio) -> Vec<Snapshot> {
    let index = sio.index.read();
    let mut out = Vec::with_capacity(index.len());
    for ns in index.namespaces() {
        index.resolve(ns, &[Topic::All], &[], |c| {
            out.push(Snapshot {
                id: c.id.to_string(),
                ns: c.namespace.clone(),
                user: c.user.as_deref().unwrap_or("").to_owned(),
                rooms: c.rooms.iter().map(|r| r.to_string()).collect(),
                member: c.value.clone(),
            });
        });
    }
    out
}

/// Holds the socket's live frames back and sends its `ConnectionOpened`; `None` when the socket is
/// gone (its own close tells the core), an error when the link closed meanwhile.
async fn announce(
    sio: &Arc<Sio>,
    link: &Link,
    tx: &mpsc::Sender<LinkRequest>,
    s: Snapshot,
    epoch: &str,
) -> Result<Option<Announced>, CoreError> {
    let session = &s.member.session;
    let guard = RestoringGuard::new(session.clone());
    let state = session.with_socket(&s.ns, |st| {
        let installed = st.restoring.is_none();
        if installed {
            st.restoring = Some(RestoreBuffer::default());
        }
        let granted: Vec<String> = st
            .granted
            .iter()
            .filter(|g| s.rooms.iter().any(|r| r == &***g))
            .map(|g| g.to_string())
            .collect();
        (
            st.pid.as_deref().unwrap_or("").to_owned(),
            st.data_json.to_string(),
            granted,
            installed,
        )
    });
    let Some((pid, data_json, granted_rooms, installed)) = state else {
        return Ok(None);
    };
    let last = s.member.last_offset();
    let resume_offset = if last > 0 && !epoch.is_empty() {
        format!("{epoch}:{last}")
    } else {
        String::new()
    };
    let resumed = !resume_offset.is_empty();
    let opened = Msg::Opened(ConnectionOpened {
        connection_id: s.id,
        namespace: s.ns.to_string(),
        user_id: s.user,
        pid,
        rooms: s.rooms,
        resume_offset,
        data_json,
        granted_rooms,
    });
    let sent = match link.send_on(tx, opened).await {
        Ok(sent) => sent,
        Err(e) => {
            // Whatever was held back goes out; the next link registers the socket.
            if installed {
                let ns = s.ns.clone();
                sio.engine.tasks.spawn(finish_restore(
                    sio.clone(),
                    guard,
                    s.member,
                    ns,
                    Vec::new(),
                ));
            }
            return Err(e);
        }
    };
    Ok(Some(Announced {
        ns: s.ns,
        member: s.member,
        guard: installed.then_some(guard),
        resumed,
        sent,
    }))
}

/// What the core's answer means for one socket.
fn settle(
    sio: &Arc<Sio>,
    ns: &Arc<str>,
    member: Arc<Member>,
    guard: Option<RestoringGuard>,
    resumed: bool,
    answer: Result<Applied, CoreError>,
) {
    let session = member.session.clone();
    let frames = match answer {
        Ok(applied) => replay_frames(sio, ns, &member, &applied),
        Err(CoreError::Refused(why)) => {
            tracing::info!(sid = %session.sid, ns = %ns, error = %why, resumed, "socket not registered again: closing it");
            let reason = if resumed {
                Reason::NotReplayed
            } else {
                Reason::CoreRefused(format!("core refused the connection: {why}").into())
            };
            session.close_for_restart(sio, reason);
            return;
        }
        // The link broke again: the next one registers the socket.
        Err(_) => Vec::new(),
    };
    match guard {
        Some(guard) => {
            sio.engine.tasks.spawn(finish_restore(
                sio.clone(),
                guard,
                member,
                ns.clone(),
                frames,
            ));
        }
        None => {
            for (text, attachments) in frames {
                session.push_or_kill(sio, text, &attachments);
            }
        }
    }
}

/// The missed events of a registered socket that it does not have yet, in order (with their offset
/// as the last argument in namespaces with connection-state recovery); its floor then rises past
/// them and its registration point.
fn replay_frames(
    sio: &Sio,
    ns: &str,
    member: &Member,
    applied: &Applied,
) -> Vec<(Utf8Bytes, Vec<Bytes>)> {
    let recovery = sio
        .config
        .namespace(ns)
        .is_some_and(|c| c.connection_state_recovery);
    let mut frames = Vec::with_capacity(applied.replay.len());
    for ev in &applied.replay {
        if !member.admit(ev.seq) {
            continue;
        }
        let mut args = codec_args(&ev.args);
        if let Some(o) = crate::socketio::recovery::offset_seq(&ev.offset) {
            member.note_offset(o);
            if recovery {
                args.push(offset_arg(&ev.offset));
            }
        }
        let frame = encode_event(ns, None, &ev.name, &args);
        frames.push((frame.text.into(), frame.attachments));
    }
    // Only now the registration point: the replayed events were accepted before it, and the
    // floor drops just what the socket already had.
    member.raise_floor(applied.floor_seq);
    frames
}
