//! Engine.IO v4: sessions, heartbeat, and the polling and websocket transports.

pub(crate) mod driver;
pub(crate) mod polling;
pub(crate) mod session;
pub(crate) mod takeover;
pub(crate) mod ws;

pub(crate) use herald_engine::{limits, origin, sink, stream};

use std::net::IpAddr;
use std::sync::Arc;

use herald_codec::engine::Packet;

use crate::edge::Edge;
use crate::error::HttpError;
use crate::ids;
use limits::Limit;
use session::{Session, SessionExt, Transport};

/// Close reason of a session whose address sent more packets than `messages_per_ip_per_sec`.
pub(crate) const RATE_LIMITED: &str = "message rate exceeded";

/// Creates and registers a session from `ip`, and starts its driver (heartbeat, deadlines);
/// refused when a limit of the edge says so.
pub(crate) fn open_session(
    edge: &Arc<Edge>,
    transport: Transport,
    header_token: Option<Box<str>>,
    ip: IpAddr,
) -> Result<Arc<Session>, HttpError> {
    let admitted = edge.limits.admit(ip)?;
    let sid: Arc<str> = Arc::from(ids::random_id());
    let session = Arc::new(Session::new(
        sid.clone(),
        edge.config.outbound_queue,
        transport,
        edge.metrics.frames_counter(),
        session::SioData::new(header_token),
    ));
    let _ = session.admitted.set(admitted);
    edge.sessions.lock().insert(sid, session.clone());
    edge.metrics.session_opened(transport);
    driver::spawn(edge, &session);
    Ok(session)
}

/// The OPEN packet text (`0{...}`) for a session.
pub(crate) fn open_packet(edge: &Edge, sid: &str, upgrades: bool) -> String {
    let c = &edge.config;
    herald_engine::handshake::open_packet(
        sid,
        upgrades,
        c.ping_interval,
        c.ping_timeout,
        c.max_payload,
    )
}

/// What the transport does after a packet.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    /// The session is over (client close or protocol error); it has been closed.
    Closed,
}

/// Handles one packet received from the client on an established transport.
pub(crate) async fn on_packet(edge: &Arc<Edge>, session: &Arc<Session>, packet: Packet) -> Flow {
    if let Some(a) = session.admitted.get()
        && !edge.limits.allow_packet(a)
    {
        edge.limits.refuse(
            Limit::MessageRate,
            Some(a.ip()),
            "packets over messages_per_ip_per_sec: disconnecting the session",
        );
        session.disconnect_all(edge, RATE_LIMITED, false);
        return Flow::Closed;
    }
    let result = match packet {
        Packet::Pong(_) => {
            session.pong.notify_one();
            Ok(())
        }
        Packet::Message(text) => crate::socketio::on_message(edge, session, &text).await,
        Packet::Binary(bin) => crate::socketio::on_binary(edge, session, bin).await,
        Packet::Close => {
            // The client closed its engine on purpose: not a recoverable loss.
            session.close(edge, session::CLIENT_CLOSE);
            // The client is gone: nothing left for it to fetch.
            session.finish(edge);
            return Flow::Closed;
        }
        Packet::Noop => Ok(()),
        Packet::Open(_) | Packet::Ping(_) | Packet::Upgrade => Err(
            crate::socketio::ProtocolError::Other("unexpected engine.io packet"),
        ),
    };
    match result {
        Ok(()) => Flow::Continue,
        Err(e) => {
            tracing::info!(sid = %session.sid, error = %e, "protocol error: closing the session");
            session.close(edge, session::PARSE_ERROR);
            Flow::Closed
        }
    }
}

/// A protocol error at the Engine.IO level closes the session.
pub(crate) fn malformed(edge: &Edge, session: &Session, error: &dyn std::fmt::Display) {
    tracing::info!(sid = %session.sid, error = %error, "malformed engine.io packet: closing the session");
    session.close(edge, session::PARSE_ERROR);
}
