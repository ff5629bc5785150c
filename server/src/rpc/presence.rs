//! `Presence`: who is online in a room or a namespace; and the opt-in
//! `presence` events sent to a room when a user comes or goes.

use std::collections::BTreeMap;

use herald_proto::v1::{
    Arg, DeliveryClass, EmitRequest, PresenceRequest, PresenceResponse, UserPresence, arg,
};
use serde_json::json;

use super::rooms::check_room;
use super::{Api, validate};
use crate::CoreError;

/// Most users one Presence answer lists.
const MAX_USERS: usize = 10_000;

impl Api {
    pub async fn presence(&self, r: PresenceRequest) -> Result<PresenceResponse, CoreError> {
        let ns = validate::namespace(&self.config, &r.namespace)?;
        if !r.room.is_empty() {
            check_room(&r.room)?;
        }
        let (counts, connections) = if r.room.is_empty() {
            (BTreeMap::new(), 0)
        } else {
            self.presence.room_presence(&ns, &r.room).await?
        };
        let online = if r.room.is_empty() {
            self.presence.user_counts(&ns, &r.user_ids).await?
        } else {
            Vec::new()
        };
        let users: Vec<UserPresence> = if !r.user_ids.is_empty() {
            r.user_ids
                .iter()
                .enumerate()
                .map(|(i, u)| {
                    let n = if r.room.is_empty() {
                        online.get(i).copied().unwrap_or(0)
                    } else {
                        counts.get(u).copied().unwrap_or(0)
                    };
                    UserPresence {
                        user_id: u.clone(),
                        online: n > 0,
                        connections: n,
                    }
                })
                .collect()
        } else if !r.room.is_empty() {
            counts
                .into_iter()
                .take(MAX_USERS)
                .map(|(u, n)| UserPresence {
                    user_id: u,
                    online: true,
                    connections: n,
                })
                .collect()
        } else {
            return Err(CoreError::InvalidArgument(
                "name a room, user_ids, or both".into(),
            ));
        };
        Ok(PresenceResponse { users, connections })
    }

    /// Tells a room that `user` joined or left it, when the namespace asks for it.
    pub fn presence_event(&self, ns: &str, room: &str, user: &str, status: &str) {
        if !self.config.policy(ns).presence_events {
            return;
        }
        let body = json!({ "room": room, "user_id": user, "status": status });
        let req = EmitRequest {
            namespace: ns.to_owned(),
            targets: vec![format!("room:{room}")],
            except: vec![format!("user:{user}")],
            event: "presence".into(),
            args: vec![Arg {
                value: Some(arg::Value::Json(body.to_string())),
            }],
            delivery: DeliveryClass::Volatile.into(),
            ..Default::default()
        };
        if self.internal.try_send(req).is_err() {
            tracing::warn!(
                ns,
                room,
                user,
                "presence event dropped: internal queue full"
            );
        }
    }
}
