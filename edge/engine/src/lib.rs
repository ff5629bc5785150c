//! herald-engine: the Engine.IO v4 layer of the edge, with no knowledge of Socket.IO, tokens,
//! rooms or cores. It owns the pieces every session and transport is built from: the connection
//! stream (TCP or TLS), the websocket's direct write path and the bounded outbound queue, the
//! frames a session sends, the websocket handshake and the Engine.IO open packet, the limits that
//! span sessions (totals, per address, rates), origin checks and CORS, and the engine's own
//! configuration section and refusals.
#![forbid(unsafe_code)]

pub mod config;
pub mod driver;
pub mod engine;
pub mod error;
#[cfg(test)]
mod fake;
pub mod frame;
pub mod handler;
pub mod handshake;
pub mod limits;
pub mod origin;
pub mod packet;
pub mod peer;
pub mod polling;
pub mod queue;
pub mod session;
pub mod sessions;
pub mod sink;
pub mod stream;
pub mod takeover;
pub mod tls;
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
