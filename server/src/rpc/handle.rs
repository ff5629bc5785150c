//! `Handle`: a backend's stream of client events. It registers for events of a
//! namespace with the node; each event goes to one handler; its replies become
//! client acks.

use std::sync::Arc;
use std::time::Duration;

use herald_proto::v1::{
    HandleRegistered, HandleRequest, HandleResponse, handle_request, handle_response,
};
use tonic::{Status, Streaming};

use super::{Api, validate};
use crate::feed::{FeedStream, feed};

/// Time a handler has to send its registration.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(10);

impl Api {
    pub async fn handle(
        self: Arc<Self>,
        mut inbound: Streaming<HandleRequest>,
    ) -> Result<FeedStream<HandleResponse>, Status> {
        let first = tokio::time::timeout(REGISTER_TIMEOUT, inbound.message())
            .await
            .map_err(|_| Status::deadline_exceeded("no register message within 10 s"))??;
        let reg = match first.and_then(|m| m.msg) {
            Some(handle_request::Msg::Register(r)) => r,
            _ => {
                return Err(Status::invalid_argument(
                    "the first message must be register",
                ));
            }
        };
        let ns = validate::namespace(&self.config, &reg.namespace)?;
        if reg.events.is_empty() || reg.events.iter().any(String::is_empty) {
            return Err(Status::invalid_argument(
                "register.events: name at least one event (or $connect, $join, $disconnect)",
            ));
        }
        let id = self.hub.next_id();
        let (tx, rx) = feed(self.config.subscriber_queue, &self.hub.cancel);
        tx.try_send(HandleResponse {
            msg: Some(handle_response::Msg::Registered(HandleRegistered {
                handler_id: id.to_string(),
            })),
        })
        .map_err(|_| Status::unavailable("server is shutting down"))?;
        self.register_handler(id, &ns, &reg.events, tx.clone())
            .await;
        tracing::info!(handler = id, namespace = %ns, events = ?reg.events, "handler registered");
        let api = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tx.closed() => break,
                    msg = inbound.message() => match msg {
                        Ok(Some(HandleRequest { msg: Some(handle_request::Msg::Reply(r)) })) => {
                            let reply = if r.error.is_empty() { Ok(r.args) } else { Err(r.error) };
                            if !api.handlers.reply(id, r.call_id, reply) {
                                tracing::debug!(handler = id, call = r.call_id, "late or unknown reply ignored");
                            }
                        }
                        Ok(Some(_)) => {}
                        Ok(None) | Err(_) => break,
                    },
                }
            }
            api.handler_gone(id).await;
            tracing::info!(handler = id, "handler left");
        });
        let api = self.clone();
        Ok(rx.on_drop(move || {
            tokio::spawn(async move { api.handler_gone(id).await });
        }))
    }
}
