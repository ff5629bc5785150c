//! `Disconnect`: close a connection or every connection of a user, with a reason.

use herald_proto::v1::{DisconnectRequest, DisconnectResponse};

use super::{Api, validate};
use crate::CoreError;
use crate::control::Body;

/// Longest reason sent to clients.
const MAX_REASON: usize = 512;

impl Api {
    pub async fn disconnect(&self, r: DisconnectRequest) -> Result<DisconnectResponse, CoreError> {
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
        let conns = self.targets_of(&ns, &r.connection_id, &r.user_id).await?;
        let connections = self
            .on_holders(
                &conns,
                async |mine| self.disconnect_local(&ns, &mine, &reason),
                |conns| Body::Disconnect {
                    ns: ns.clone(),
                    conns,
                    reason: reason.clone(),
                },
            )
            .await?;
        Ok(DisconnectResponse { connections })
    }
}
