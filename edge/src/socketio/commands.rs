//! What the core commands over the link: server-side joins/leaves (`MembershipChange`) and kicks
//! (`DisconnectCommand`), plus `kick` itself (also used for expired tokens).

use std::sync::Arc;

use herald_proto::v1::{DisconnectCommand, MembershipChange};

use crate::socketio::reason::Reason;
use crate::socketio::session::SessionExt;
use crate::socketio::session::{PushError, Session, disconnect_frames};
use crate::socketio::state::Sio;

/// Server-initiated disconnect of one socket: `herald:disconnect {reason}`, DISCONNECT, forget it.
pub(crate) fn kick(sio: &Sio, session: &Session, ns: &str, reason: Reason) {
    let Some(s) = session.remove_socket(ns) else {
        return;
    };
    let full = session.push_texts(&disconnect_frames(ns, &reason)) == Err(PushError::Full);
    sio.forget_socket(&s, &reason);
    if full {
        session.disconnect_all(sio, reason, false);
    }
}

/// The sockets a command addresses: one connection, or every connection of a user in a namespace.
fn addressed(
    sio: &Sio,
    namespace: &str,
    connection_id: &str,
    user_id: &str,
) -> Vec<(Arc<str>, Arc<str>, Arc<Session>)> {
    let index = sio.index.read();
    if !connection_id.is_empty() {
        return index
            .get(connection_id)
            .filter(|c| namespace.is_empty() || &*c.namespace == namespace)
            .map(|c| vec![(c.id.clone(), c.namespace.clone(), c.value.session.clone())])
            .unwrap_or_default();
    }
    index
        .user_connections(namespace, user_id)
        .map(|c| (c.id.clone(), c.namespace.clone(), c.value.session.clone()))
        .collect()
}

/// A server-side join/leave from the core.
pub(crate) fn apply_membership(sio: &Sio, m: &MembershipChange) {
    for (id, ns, session) in addressed(sio, &m.namespace, &m.connection_id, &m.user_id) {
        {
            let mut index = sio.index.write();
            if let Some(c) = index.get(&id) {
                if m.join {
                    // Events to the room accepted before the core's join were not counted for it.
                    c.value.joined(&m.room, m.seq);
                } else {
                    c.value.forget_join(&m.room);
                }
            }
            let _ = if m.join {
                index.join(&id, &m.room)
            } else {
                index.leave(&id, &m.room)
            };
        }
        // The backend's join authorizes the room, also when the socket is registered again.
        session.with_socket(&ns, |s| {
            s.granted.retain(|g| **g != *m.room);
            if m.join {
                s.granted.push(m.room.as_str().into());
            }
        });
    }
}

/// A kick from the core.
pub(crate) fn apply_disconnect(sio: &Sio, d: &DisconnectCommand) {
    let reason = Reason::Kicked((!d.reason.is_empty()).then(|| d.reason.as_str().into()));
    for (_, ns, session) in addressed(sio, &d.namespace, &d.connection_id, &d.user_id) {
        kick(sio, &session, &ns, reason.clone());
    }
}
