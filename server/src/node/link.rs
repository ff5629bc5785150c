//! The edge link's semantics: an edge's connections opening and closing, links going away, client
//! events forwarded to backend handlers (here or on another node) and relayed to rooms.

use std::sync::Arc;

use herald_proto::v1::{
    Applied, Arg, ClientEvent, ClientEventForward, ConnectionClosed, ConnectionOpened,
    DeliveryClass, Event, RelayEvent,
};

use super::Node;
use super::emit::new_event_id;
use super::rooms::conn_topics;
use crate::broker::Envelope;
use crate::clock::now_ms;
use crate::control::{self, Body};
use crate::hub::LinkId;
use crate::presence::RegisterError;
use crate::validate;

/// Time a handler's answer may spend between nodes, on top of the handler timeout.
const HANDLER_HOP: std::time::Duration = std::time::Duration::from_millis(500);

/// What a link message produced: an error, or what the answer carries.
pub type Outcome = Result<Applied, String>;

fn with_args(args: Vec<Arg>) -> Applied {
    Applied {
        args,
        ..Default::default()
    }
}

impl Node {
    /// Forgets a link and every connection it held; they may come back elsewhere.
    pub fn link_gone(self: &Arc<Self>, id: LinkId) {
        let removed = self.hub.drop_link(id);
        if removed.is_empty() {
            return;
        }
        let node = self.clone();
        tokio::spawn(async move {
            for r in &removed {
                node.conn_removed(r, true).await;
                node.save_session(r, true).await;
            }
        });
    }

    /// Registers a connection an edge opened: its topics wanted first, then the index and the
    /// cluster's presence (with the per-user limit), its granted and restored rooms, and its replay
    /// when it resumes.
    pub async fn opened(&self, link: LinkId, o: ConnectionOpened) -> Outcome {
        let user = (!o.user_id.is_empty()).then_some(o.user_id.as_str());
        let ns = if o.namespace.is_empty() {
            "/"
        } else {
            &o.namespace
        };
        let max = self.config.policy(ns).max_connections_per_user;
        let limit = || format!("too many connections for this user (limit {max})");
        // The connection's events reach this core before it counts as registered anywhere.
        let topics = conn_topics(user, std::iter::empty());
        for (i, t) in topics.iter().enumerate() {
            if let Err(e) = self.broker.want(ns, t).await {
                for t in &topics[..i] {
                    self.broker.unwant(ns, t).await;
                }
                return Err(e.to_string());
            }
        }
        let inserted = {
            let mut ix = self.hub.index.write();
            if let Some(u) = user
                && ix
                    .user_connections(ns, u)
                    .nth(max.saturating_sub(1))
                    .is_some()
            {
                Err(limit())
            } else {
                // Under the write lock: no Emit is counted and sequenced meanwhile.
                ix.insert(&o.connection_id, ns, user, link)
                    .map(|()| self.broker.current_seq())
                    .map_err(|e| e.to_string())
            }
        };
        // Only a presence that keeps sessions (so that they outlive this core) needs one.
        let session = self
            .presence
            .keeps_sessions()
            .then(|| Self::live_session(&o, ns))
            .flatten();
        let floor = match inserted {
            Ok(local_floor) => self
                .presence
                .register(
                    ns,
                    &o.connection_id,
                    user,
                    max,
                    session.as_ref().map(|rec| (o.pid.as_str(), rec)),
                    local_floor,
                )
                .await
                .map_err(|e| match e {
                    RegisterError::UserLimit(_) => limit(),
                    e => e.to_string(),
                })
                .inspect_err(|_| {
                    self.hub.index.write().remove(&o.connection_id);
                }),
            Err(e) => Err(e),
        };
        let floor_seq = match floor {
            Ok(f) => f,
            Err(e) => {
                for t in &topics {
                    self.broker.unwant(ns, t).await;
                }
                return Err(e);
            }
        };
        self.track_session(&o);
        if let Err(e) = self
            .presence
            .grant(ns, &o.connection_id, &o.granted_rooms, true)
            .await
        {
            tracing::warn!(error = %e, "backend-joined rooms not recorded in the cluster");
            self.presence_dirty();
        }
        let mut rooms = Vec::with_capacity(o.rooms.len());
        for room in &o.rooms {
            match self.join_conn(&o.connection_id, room).await {
                Ok(_) => rooms.push(room.clone()),
                Err(e) => tracing::debug!(room, error = %e, "restored room not joined"),
            }
        }
        if o.resume_offset.is_empty() {
            return Ok(Applied {
                floor_seq,
                ..Default::default()
            });
        }
        // Registered first, replay read second: whatever is appended meanwhile also
        // arrives live, and the edge drops those duplicates by sequence.
        let replay = self.replay_for(&o, &rooms).await?;
        Ok(Applied {
            replay,
            floor_seq,
            ..Default::default()
        })
    }

    /// A connection of an edge closed: out of the index, its session kept when it may recover.
    pub async fn closed(&self, c: &ConnectionClosed) {
        let removed = self.hub.index.write().remove(&c.connection_id);
        if let Some(r) = removed {
            self.conn_removed(&r, c.recoverable).await;
            self.save_session(&r, c.recoverable).await;
        }
    }

    /// Hands a client event to a backend handler; the reply is the client's ack.
    pub async fn forward(&self, f: ClientEventForward, wants_reply: bool) -> Outcome {
        let ev = ClientEvent {
            call_id: 0,
            namespace: if f.namespace.is_empty() {
                "/".into()
            } else {
                f.namespace
            },
            event: f.event,
            connection_id: f.connection_id,
            user_id: f.user_id,
            claims_json: f.claims_json,
            data_json: f.data_json,
            args: f.args,
            room: f.room,
        };
        let node = self.handler_node(&ev.namespace, &ev.event).await?;
        match node {
            Some(node) if node != self.node() => {
                let body = Body::Handle {
                    event: control::encode_event(&ev),
                    wants_reply,
                };
                if !wants_reply {
                    return self
                        .control
                        .tell(node, body)
                        .await
                        .map(|()| Applied::default())
                        .map_err(|e| e.to_string());
                }
                let timeout = self.config.handler_timeout + HANDLER_HOP;
                let r = self.control.ask(node, body, timeout).await.map_err(|_| {
                    format!(
                        "handler timeout after {} ms",
                        self.config.handler_timeout.as_millis()
                    )
                })?;
                if r.error.is_empty() {
                    Ok(with_args(control::decode_args(&r.args)))
                } else {
                    Err(r.error)
                }
            }
            _ if wants_reply => self
                .handlers
                .call(ev, self.config.handler_timeout)
                .await
                .map(with_args),
            _ => {
                self.handlers.tell(ev);
                Ok(Applied::default())
            }
        }
    }

    /// The node whose handler takes this event: round-robin over the cluster's nodes that have
    /// one; `None` for this process (alone, or no handler anywhere: the local call says so).
    async fn handler_node(&self, ns: &str, event: &str) -> Result<Option<u32>, String> {
        let nodes = self
            .control
            .handler_nodes(ns, event)
            .await
            .map_err(|e| e.to_string())?;
        if nodes.is_empty() {
            return Ok(None);
        }
        let i = self
            .next_handler
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Some(nodes[i % nodes.len()]))
    }

    /// Relays a client event to a room minus the sender, if the sender is a member. Relays are
    /// volatile: they go straight to the links and subscribers (not through the broker's logs),
    /// skipping the sending edge when it delivered to its own members already.
    pub async fn relay(&self, link: LinkId, r: RelayEvent) -> Result<(), String> {
        // The sending edge checked membership and delivered to its members; with no other edge
        // and no subscriber (and no other core) there is nobody else to tell.
        if r.delivered_locally && self.control.alone() && self.hub.alone(link) {
            return Ok(());
        }
        let ns = if r.namespace.is_empty() {
            "/".to_owned()
        } else {
            r.namespace
        };
        // `Some(user)` when the sender is a member of the room (empty user: anonymous).
        let sender = self
            .hub
            .index
            .read()
            .get(&r.connection_id)
            .filter(|c| *c.namespace == *ns && c.rooms.contains(r.room.as_str()))
            .map(|c| c.user.as_deref().unwrap_or("").to_owned());
        let Some(user) = sender else {
            return Err(format!("not a member of room {}", r.room));
        };
        let mut except = vec![format!("conn:{}", r.connection_id)];
        if r.exclude_user && !user.is_empty() {
            except.push(format!("user:{user}"));
        }
        validate::event_name(&r.event).map_err(|e| e.to_string())?;
        validate::args(&r.args, self.config.max_event_bytes).map_err(|e| e.to_string())?;
        let event = Event {
            id: new_event_id(),
            namespace: ns,
            targets: vec![format!("room:{}", r.room)],
            except,
            name: r.event,
            args: r.args,
            delivery: DeliveryClass::Volatile.into(),
            timestamp_ms: now_ms(),
            ..Default::default()
        };
        if !self.control.alone()
            && let Err(e) = self.broker.relay(&event, link).await
        {
            tracing::debug!(error = %e, "relay not passed to the other cores");
        }
        let env = Envelope {
            event: Arc::new(event),
            ack_ref: 0,
        };
        self.hub
            .dispatch_skipping(&env, r.delivered_locally.then_some(link));
        Ok(())
    }
}
