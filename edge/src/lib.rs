//! herald-edge: the Socket.IO edge. Its layers, each importing only the ones below: the link
//! (the Link stream to a core), the Socket.IO layer (namespaces, JWT auth, sockets, acks,
//! recovery, the local index and the fan-out of deliveries), which implements the engine's
//! handler on `herald-engine` (Engine.IO: HTTP, websocket and long-polling transports).
//!
//! Entry point: [`run`] with an [`EdgeConfig`]. Slow consumers: the outbound queue is per
//! Engine.IO session (shared by its namespaces); when it is full the whole session is
//! disconnected with reason "slow consumer".
//!
//! Client events follow each namespace's policy ([`NamespaceConfig`]): join/leave events and room
//! aliases (token rooms claim, else a `$join` handler), relay events (per-socket token bucket, then
//! delivered to this edge's members of the room and sent as a `RelayEvent` to the core for the
//! other edges and direct subscribers), forwarded events (the handler's reply is the ack), then the
//! unknown-events policy. Forwarded events run concurrently (at most 64 waiting per session); joins,
//! leaves and relays are handled in order. `GET /metrics` serves Prometheus text.
//!
//! Connection-state recovery (per namespace, `connection_state_recovery`): new sockets get a private
//! `pid` in the CONNECT reply, recoverable events carry their offset as the last argument, lost
//! transports leave a session the core keeps, and a CONNECT with `pid` + `offset` resumes it (same
//! id, rooms authorized again, missed events replayed before any live frame, no duplicates).
//! Every socket has a floor, the highest `Event.seq` handed to it: events at or below it are not
//! delivered (at most once, nothing from before the socket registered).
//!
//! Link loss: the edge links again (the next of `core_urls`, in order) and registers its sockets
//! again with their last offsets; what they missed is replayed, or they are told and closed.
//!
//! Websockets: the edge serves HTTP/1.1 itself and answers a valid websocket request from its
//! head, with the `101` and the Engine.IO open packet in one write; RFC 6455 framing is the codec's.
//! A frame to a websocket client is written to the socket by whoever produces it (a fan-out writes
//! one pre-encoded frame per recipient) when nothing waits before it; what the kernel does not take
//! waits, bounded, for the connection's task. Deliveries that arrive together are gathered per
//! socket and written with one vectored write.
//!
//! HTTPS: with [`EdgeConfig::tls`] every connection starts with a TLS handshake (bounded by the
//! header timeout); websockets then write through the same encrypting stream, from any producer.
//!
//! Long-polling: the last frames of a closed session (`herald:disconnect`, DISCONNECT) are sent
//! without the Engine.IO close packet, which answers the next poll; on shutdown the HTTP listener
//! stays up until the sessions have drained (bounded by `shutdown_grace`).

mod admin;
mod config;
mod connector;
mod edge;
mod emit;
mod error;
mod http;
mod link;
mod metrics;
mod owed;
pub mod prom;
mod relink;
mod scrape;
#[cfg(test)]
mod sizes;
mod socketio;

pub use config::{
    DEV_SERVICE_TOKEN, EdgeConfig, EdgeSettings, NamespaceConfig, Rate, RelayExclude, RoomAlias,
    UnknownEvents,
};
pub use connector::{CoreConnector, LinkResponses};
pub use edge::run;
pub use error::{EdgeError, HttpError};
pub use herald_engine::{EngineConfig, ServerTls as EdgeTls, TlsError};
pub use herald_engine::{Origins, TrustedProxies};
pub use metrics::ExtraMetrics;
