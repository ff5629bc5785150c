//! `Disconnect`: close a connection or every connection of a user, with a reason.

use herald_proto::v1::{DisconnectCommand, DisconnectRequest, DisconnectResponse, link_response};

use super::{Api, validate};
use crate::CoreError;

/// Longest reason sent to clients.
const MAX_REASON: usize = 512;

impl Api {
    pub fn disconnect(&self, r: DisconnectRequest) -> Result<DisconnectResponse, CoreError> {
        let ns = validate::namespace(&self.config, &r.namespace)?;
        if r.reason.len() > MAX_REASON {
            return Err(CoreError::InvalidArgument(format!(
                "reason: at most {MAX_REASON} bytes"
            )));
        }
        let reason = if r.reason.is_empty() {
            "disconnected by the server".to_owned()
        } else {
            r.reason
        };
        let conns = self.targets_of(&ns, &r.connection_id, &r.user_id)?;
        for (id, link) in &conns {
            self.hub.send_to_link(
                *link,
                link_response::Msg::Disconnect(DisconnectCommand {
                    namespace: ns.clone(),
                    connection_id: id.clone(),
                    user_id: String::new(),
                    reason: reason.clone(),
                }),
            );
        }
        Ok(DisconnectResponse {
            connections: u32::try_from(conns.len()).unwrap_or(u32::MAX),
        })
    }
}
