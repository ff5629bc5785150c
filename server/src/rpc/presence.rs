//! `Presence`: who is online in a room or a namespace.

use std::collections::BTreeMap;

use herald_proto::v1::{PresenceRequest, PresenceResponse, UserPresence};

use super::{Api, validate};
use crate::CoreError;
use crate::node::rooms::check_room;

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
}
