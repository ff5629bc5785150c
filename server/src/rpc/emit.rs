//! `Emit`: checks the request (namespace, targets, name, arguments, push, ack wait) and hands it
//! to the node.

use std::time::Duration;

use herald_index::Topic;
use herald_proto::v1::{DeliveryClass, EmitRequest, EmitResponse};

use super::{Api, validate};
use crate::CoreError;

/// Longest ack wait a caller may ask for.
const MAX_ACK_TIMEOUT: Duration = Duration::from_secs(60);

impl Api {
    pub async fn emit(&self, req: EmitRequest) -> Result<EmitResponse, CoreError> {
        let namespace = validate::namespace(&self.config, &req.namespace)?;
        if req.targets.is_empty() {
            return Err(CoreError::InvalidArgument(
                "targets: at least one of user:ID, room:NAME, conn:ID or * is required".into(),
            ));
        }
        let targets = validate::topics(&req.targets, "targets")?;
        let except = validate::topics(&req.except, "except")?;
        validate::event_name(&req.event)?;
        validate::args(&req.args, self.config.max_event_bytes)?;
        let push = self.check_push(&req)?;
        let ack_timeout = Duration::from_millis(u64::from(req.ack_timeout_ms));
        if ack_timeout > MAX_ACK_TIMEOUT {
            return Err(CoreError::InvalidArgument(format!(
                "ack_timeout_ms: at most {} ms",
                MAX_ACK_TIMEOUT.as_millis()
            )));
        }
        let class = targets_class(&targets);
        drop((targets, except));
        let req = EmitRequest { namespace, ..req };
        self.emit_checked(req, ack_timeout, class, push).await
    }
}

/// Recoverable for users and rooms, volatile for connections and broadcasts.
fn targets_class(targets: &[Topic<'_>]) -> DeliveryClass {
    if targets
        .iter()
        .any(|t| matches!(t, Topic::User(_) | Topic::Room(_)))
    {
        DeliveryClass::Recoverable
    } else {
        DeliveryClass::Volatile
    }
}
