//! herald-engine: the Engine.IO v4 layer of the edge, with no knowledge of Socket.IO, tokens,
//! rooms or cores. It accepts HTTP connections ([`server`]: TLS, bounded request heads, the
//! websocket fast path [`takeover`], the HTTP stack for the rest), answers the Engine.IO endpoint
//! ([`endpoint`]: origins and CORS, polling, websocket upgrades), and keeps each session's
//! heartbeat, bounded outbound queue and direct websocket writes. The layer above attaches its data
//! to each session and gets the client's messages through the [`Handler`] trait; the state the
//! sessions share is one [`Engine`], built from the engine's configuration section.
#![forbid(unsafe_code)]

pub mod config;
pub mod driver;
pub mod endpoint;
pub mod engine;
pub mod error;
#[cfg(test)]
mod fake;
pub mod frame;
pub mod handler;
pub mod handshake;
pub mod ids;
pub mod limits;
pub mod origin;
pub mod packet;
pub mod peer;
pub mod polling;
pub mod prefixed;
pub mod queue;
pub mod server;
pub mod session;
pub mod sessions;
pub mod sink;
pub mod stream;
pub mod takeover;
pub mod tls;
pub mod upgrade;
pub mod ws;

pub use config::{EngineConfig, Rate};
pub use engine::{Engine, Settings};
pub use error::Refusal;
pub use frame::{Outgoing, PushError, SharedFrame, Transport};
pub use handler::{Close, Handler};
pub use limits::{Admitted, Limit, Limits};
pub use origin::Origins;
pub use peer::TrustedProxies;
pub use session::Session;
pub use sessions::Sessions;
pub use tls::{ServerTls, TlsError};
