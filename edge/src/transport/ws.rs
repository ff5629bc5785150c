//! The websocket transport's HTTP side: the RFC 6455 upgrade through the HTTP stack, for
//! websocket-only sessions and the polling → websocket upgrade. Serving the upgraded connection
//! is the engine's (`herald_engine::ws`).

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_engine::ws::{CLOSE_WAIT, Conn};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::time::timeout;

use crate::edge::Edge;
use crate::error::HttpError;
use crate::serve::Prefixed;
use crate::socketio::session::SessionExt;
use crate::socketio::session::{Session, Transport};
use crate::transport::open_session;
use herald_engine::stream::Stream;

pub(crate) use herald_engine::handshake::switching_head;
pub(crate) use herald_engine::ws::{abandon, refuse_upgraded, serve, upgraded, write_all};

/// Checks a websocket upgrade request and returns its `Sec-WebSocket-Accept`.
pub(crate) fn accept_key(parts: &Parts) -> Result<String, HttpError> {
    Ok(herald_engine::handshake::accept_key(parts)?)
}

/// The `101 Switching Protocols` answer.
fn switching(accept: &str) -> Result<Response, HttpError> {
    let accept = HeaderValue::from_str(accept).map_err(|_| herald_engine::Refusal::BadRequest)?;
    Ok((
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::CONNECTION, HeaderValue::from_static("upgrade")),
            (header::UPGRADE, HeaderValue::from_static("websocket")),
            (header::SEC_WEBSOCKET_ACCEPT, accept),
        ],
    )
        .into_response())
}

/// Waits for the upgrade and takes the TCP stream out of the HTTP connection.
async fn upgraded_conn(on: OnUpgrade, edge: &Edge) -> Option<Conn> {
    let upgraded = on.await.ok()?;
    let parts = upgraded.downcast::<TokioIo<Prefixed>>().ok()?;
    let (stream, mut buf) = parts.io.into_inner().into_parts();
    buf.extend_from_slice(&parts.read_buf);
    Some(Conn::for_handler(stream, buf, edge))
}

/// Answers a connection the edge serves without the HTTP stack with an error (it is closed after);
/// a client that does not read it is not waited for long.
pub(crate) async fn write_refusal(stream: &Stream, e: &HttpError) {
    let _ = timeout(CLOSE_WAIT, write_all(stream, &e.http1())).await;
}

/// `GET /socket.io/?EIO=4&transport=websocket` without sid.
pub(crate) fn open(
    edge: &Arc<Edge>,
    on_upgrade: OnUpgrade,
    accept: &str,
    header_token: Option<Box<str>>,
    ip: IpAddr,
) -> Result<Response, HttpError> {
    let response = switching(accept)?;
    let session = open_session(edge, Transport::Websocket, header_token, ip)?;
    let hello = edge.engine.open_packet(&session.sid, false);
    let edge2 = edge.clone();
    edge.engine.tasks.spawn(async move {
        let Some(conn) = upgraded_conn(on_upgrade, &edge2).await else {
            session.close(&edge2, "websocket upgrade failed");
            return;
        };
        serve(&edge2, &session, conn, Some(hello)).await;
    });
    Ok(response)
}

/// `GET /socket.io/?EIO=4&transport=websocket&sid=...`: upgrade of a polling session.
pub(crate) fn upgrade(
    edge: &Arc<Edge>,
    on_upgrade: OnUpgrade,
    accept: &str,
    session: Arc<Session>,
) -> Result<Response, HttpError> {
    let response = switching(accept)?;
    if session.transport() != Transport::Polling {
        // Already upgraded (or upgrading): accepted, then closed.
        let edge2 = edge.clone();
        edge.engine.tasks.spawn(async move {
            if let Some(conn) = upgraded_conn(on_upgrade, &edge2).await
                && let Some(stream) = conn.into_stream()
            {
                refuse_upgraded(stream).await;
            }
        });
        return Ok(response);
    }
    session.set_transport(Transport::Upgrading);
    let edge2 = edge.clone();
    edge.engine.tasks.spawn(async move {
        let Some(conn) = upgraded_conn(on_upgrade, &edge2).await else {
            abandon(&session);
            return;
        };
        upgraded(&edge2, session, conn).await;
    });
    Ok(response)
}
