//! `Handle`: a backend's stream of client events. It registers for events of a
//! namespace; each event goes to one handler; its replies become client acks.

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
        self.handlers.register(id, &ns, &reg.events, tx.clone());
        self.count_handler_keys(&ns, &reg.events, 1).await;
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

    /// Forgets a handler (once, whichever end noticed first), here and in the cluster.
    async fn handler_gone(&self, id: u64) {
        for (ns, event) in self.handlers.remove(id) {
            self.count_handler_keys(&ns, std::slice::from_ref(&event), -1)
                .await;
        }
    }

    /// Tells the cluster this node has `delta` more handlers of these events.
    async fn count_handler_keys(&self, ns: &str, events: &[String], delta: i64) {
        for event in events {
            if let Err(e) = self.control.count_handlers(ns, event, delta).await {
                tracing::warn!(event, error = %e, "handler not registered in the cluster");
            }
        }
    }
}
