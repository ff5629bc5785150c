//! The engine's transports on the edge's HTTP server: opening a session for a handshake, the
//! polling requests and the websocket upgrades through the HTTP stack or the fast path.

pub(crate) mod polling;
pub(crate) mod takeover;
pub(crate) mod ws;

use std::net::IpAddr;
use std::sync::Arc;

use crate::edge::Edge;
use crate::error::HttpError;
use crate::ids;
use crate::socketio::session::{Session, Transport};

/// Close reason of a session whose address sent more packets than `messages_per_ip_per_sec`.
pub(crate) const RATE_LIMITED: &str = herald_engine::Close::RateLimited.as_str();

/// Creates and registers a session from `ip`, and starts its driver (heartbeat, deadlines);
/// refused when a limit of the edge says so.
pub(crate) fn open_session(
    edge: &Arc<Edge>,
    transport: Transport,
    header_token: Option<Box<str>>,
    ip: IpAddr,
) -> Result<Arc<Session>, HttpError> {
    let session = Session::new(
        Arc::from(ids::random_id()),
        edge.engine.settings.outbound_queue,
        transport,
        edge.metrics.frames_counter(),
        crate::socketio::session::SioData::new(header_token),
    );
    Ok(herald_engine::sessions::open(edge, session, ip)?)
}
