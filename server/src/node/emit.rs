//! Emit: a checked event goes to the broker (which counts its recipients as it sequences it),
//! then push tasks for offline users, then the wait for client acks when asked; idempotency keys
//! return the first answer.

use std::time::Duration;

use herald_proto::v1::{DeliveryClass, EmitRequest, EmitResponse, Event};

use super::Node;
use super::push::Push;
use crate::CoreError;
use crate::clock::now_ms;

impl Node {
    /// Emits a checked request (namespace resolved, targets, name and arguments valid);
    /// `default` is the delivery class its targets imply when it asks for none.
    pub async fn emit_checked(
        &self,
        req: EmitRequest,
        ack_timeout: Duration,
        default: DeliveryClass,
        push: Option<Push>,
    ) -> Result<EmitResponse, CoreError> {
        // Idempotency keys live where events are sequenced when the broker keeps them (a
        // cluster: one atomic step in Redis); here otherwise.
        if self.broker.keeps_idempotency_keys() || req.idempotency_key.is_empty() {
            return self.publish_emit(req, ack_timeout, default, push).await;
        }
        if let Some(r) = self.idempotency.get(&req.idempotency_key) {
            return Ok(r);
        }
        let key = req.idempotency_key.clone();
        let resp = self.publish_emit(req, ack_timeout, default, push).await?;
        self.idempotency.put(&key, &resp);
        Ok(resp)
    }

    /// Hands a checked Emit to the broker, which counts its recipients as it sequences it, and
    /// waits for the client acks when asked.
    async fn publish_emit(
        &self,
        req: EmitRequest,
        ack_timeout: Duration,
        default: DeliveryClass,
        push: Option<Push>,
    ) -> Result<EmitResponse, CoreError> {
        let delivery = match DeliveryClass::try_from(req.delivery).unwrap_or_default() {
            DeliveryClass::Unspecified => default,
            c => c,
        };
        let event = Event {
            id: new_event_id(),
            namespace: req.namespace,
            targets: req.targets,
            except: req.except,
            name: req.event,
            args: req.args,
            delivery: delivery.into(),
            positions: Vec::new(),
            timestamp_ms: now_ms(),
            offset: String::new(),
            seq: 0,
        };
        let want_acks = !ack_timeout.is_zero();
        // The waiter exists before the event goes out, so that no early ack is lost.
        let (ack_ref, waiter) = if want_acks {
            let r = self.new_ack_ref();
            (r, Some(self.hub.await_acks(r)))
        } else {
            (0, None)
        };
        let idempotency = (!req.idempotency_key.is_empty())
            .then(|| (req.idempotency_key.clone(), self.config.idempotency_window));
        let (published, counted) = match self
            .broker
            .publish(event, ack_ref, want_acks, idempotency)
            .await
        {
            Ok(p) => p,
            Err(e) => {
                if ack_ref != 0 {
                    self.hub.finish_acks(ack_ref);
                }
                return Err(CoreError::BrokerUnavailable(e.to_string()));
            }
        };
        if counted.duplicate {
            // The first Emit with this key was sent; this one sent nothing.
            if ack_ref != 0 {
                self.hub.finish_acks(ack_ref);
            }
            return Ok(EmitResponse {
                event_id: published.id.clone(),
                positions: published.positions.clone(),
                connections: counted.connections,
                offline_users: counted.offline_users,
                acks: Vec::new(),
            });
        }
        self.push(push, &published, &counted.offline_users).await?;
        let acks = match waiter {
            Some(rx) => {
                self.hub.expect_acks(ack_ref, counted.members);
                let _ = tokio::time::timeout(ack_timeout, rx).await;
                self.hub.finish_acks(ack_ref)
            }
            None => Vec::new(),
        };
        Ok(EmitResponse {
            event_id: published.id.clone(),
            positions: published.positions.clone(),
            connections: counted.connections,
            offline_users: counted.offline_users,
            acks,
        })
    }
}

/// 128 random bits, hex: unique across cores without coordination.
pub fn new_event_id() -> String {
    let v: u128 = rand::random();
    format!("{v:032x}")
}
