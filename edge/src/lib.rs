//! herald-edge: the Socket.IO edge. Engine.IO transports (websocket, long-polling), Socket.IO
//! sessions with JWT auth, the Link stream to a core, and the fan-out of deliveries to sockets.
//!
//! Entry point: [`run`] with an [`EdgeConfig`]. Slow consumers: the outbound queue is per
//! Engine.IO session (shared by its namespaces); when it is full the whole session is
//! disconnected with reason "slow consumer".

mod config;
mod edge;
mod emit;
mod engine;
mod error;
mod fanout;
mod http;
mod ids;
mod link;
mod socketio;

pub use config::{EdgeConfig, NamespaceConfig};
pub use edge::run;
pub use error::{EdgeError, HttpError};
