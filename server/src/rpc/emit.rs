//! `Emit`: validate, resolve targets once for counts and acks, hand the event
//! to the broker, and wait for client acks when asked.

use std::collections::HashMap;
use std::time::Duration;

use herald_index::Topic;
use herald_proto::v1::{DeliveryClass, EmitRequest, EmitResponse, Event};

use super::{Api, validate};
use crate::CoreError;
use crate::clock::now_ms;

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
        let ack_timeout = Duration::from_millis(u64::from(req.ack_timeout_ms));
        if ack_timeout > MAX_ACK_TIMEOUT {
            return Err(CoreError::InvalidArgument(format!(
                "ack_timeout_ms: at most {} ms",
                MAX_ACK_TIMEOUT.as_millis()
            )));
        }
        if !req.idempotency_key.is_empty()
            && let Some(r) = self.idempotency.get(&req.idempotency_key)
        {
            return Ok(r);
        }

        let (connections, offline_users, ack_conns) =
            self.resolve(&namespace, &targets, &except, !ack_timeout.is_zero());
        let delivery = match DeliveryClass::try_from(req.delivery).unwrap_or_default() {
            DeliveryClass::Unspecified => default_class(&targets),
            c => c,
        };
        let event = Event {
            id: new_event_id(),
            namespace,
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
        let event_id = event.id.clone();
        let ack_ref = if ack_conns.is_empty() {
            0
        } else {
            self.hub.next_id()
        };
        let waiter = (ack_ref != 0).then(|| self.hub.await_acks(ack_ref, ack_conns));

        let published = match self.broker.publish(event, ack_ref).await {
            Ok(e) => e,
            Err(e) => {
                if ack_ref != 0 {
                    self.hub.finish_acks(ack_ref);
                }
                return Err(CoreError::BrokerUnavailable(e.to_string()));
            }
        };

        let acks = match waiter {
            Some(rx) => {
                let _ = tokio::time::timeout(ack_timeout, rx).await;
                self.hub.finish_acks(ack_ref)
            }
            None => Vec::new(),
        };
        let resp = EmitResponse {
            event_id,
            positions: published.positions.clone(),
            connections,
            offline_users,
            acks,
        };
        if !req.idempotency_key.is_empty() {
            self.idempotency.put(&req.idempotency_key, &resp);
        }
        Ok(resp)
    }

    /// Matched connections, targeted users with no connection, and the
    /// connections to await acks from (connection id -> user id).
    fn resolve(
        &self,
        ns: &str,
        targets: &[Topic<'_>],
        except: &[Topic<'_>],
        want_acks: bool,
    ) -> (u32, Vec<String>, HashMap<String, String>) {
        let ix = self.hub.index.read();
        let mut acks = HashMap::new();
        let n = ix.resolve(ns, targets, except, |c| {
            if want_acks {
                acks.insert(
                    c.id.to_string(),
                    c.user.as_deref().unwrap_or_default().to_owned(),
                );
            }
        });
        let offline = targets
            .iter()
            .filter_map(|t| match t {
                Topic::User(u) if !ix.is_online(ns, u) => Some((*u).to_owned()),
                _ => None,
            })
            .collect();
        (u32::try_from(n).unwrap_or(u32::MAX), offline, acks)
    }
}

/// Recoverable for users and rooms, volatile for connections and broadcasts.
fn default_class(targets: &[Topic<'_>]) -> DeliveryClass {
    if targets
        .iter()
        .any(|t| matches!(t, Topic::User(_) | Topic::Room(_)))
    {
        DeliveryClass::Recoverable
    } else {
        DeliveryClass::Volatile
    }
}

/// 128 random bits, hex: unique across cores without coordination.
pub(crate) fn new_event_id() -> String {
    let v: u128 = rand::random();
    format!("{v:032x}")
}
