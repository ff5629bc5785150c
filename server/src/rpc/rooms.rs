//! `Join` / `Leave`: a backend puts connections (one, or every one of a user) in rooms or takes
//! them out.

use herald_proto::v1::{JoinRequest, JoinResponse, LeaveRequest, LeaveResponse};

use super::{Api, validate};
use crate::CoreError;
use crate::node::rooms::check_room;

impl Api {
    /// Checks a Join/Leave request and hands it to the node.
    async fn membership_rpc(
        &self,
        ns: &str,
        conn: &str,
        user: &str,
        rooms: &[String],
        join: bool,
    ) -> Result<u32, CoreError> {
        let ns = validate::namespace(&self.config, ns)?;
        if rooms.is_empty() {
            return Err(CoreError::InvalidArgument(
                "rooms: name at least one room".into(),
            ));
        }
        for r in rooms {
            check_room(r)?;
        }
        self.membership(&ns, conn, user, rooms, join).await
    }

    pub async fn join_rpc(&self, r: JoinRequest) -> Result<JoinResponse, CoreError> {
        let connections = self
            .membership_rpc(&r.namespace, &r.connection_id, &r.user_id, &r.rooms, true)
            .await?;
        Ok(JoinResponse { connections })
    }

    pub async fn leave_rpc(&self, r: LeaveRequest) -> Result<LeaveResponse, CoreError> {
        let connections = self
            .membership_rpc(&r.namespace, &r.connection_id, &r.user_id, &r.rooms, false)
            .await?;
        if !r.user_id.is_empty() {
            // A user who is away must not get the room back when their session is recovered.
            let ns = validate::namespace(&self.config, &r.namespace)?;
            for room in &r.rooms {
                self.broker
                    .leave_saved(&ns, &r.user_id, room)
                    .await
                    .map_err(|e| CoreError::BrokerUnavailable(e.to_string()))?;
            }
        }
        Ok(LeaveResponse { connections })
    }
}
