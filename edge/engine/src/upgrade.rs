//! The websocket transport through the HTTP stack: the RFC 6455 upgrade of a request the fast path
//! left to it, for a websocket-only session or the polling → websocket upgrade. Serving the
//! upgraded connection is [`crate::ws`]'s.

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use crate::error::Refusal;
use crate::frame::Transport;
use crate::handler::{Close, Handler};
use crate::prefixed::Prefixed;
use crate::session::Session;
use crate::sessions;
use crate::ws::{Conn, abandon, refuse_upgraded, serve, upgraded};

/// The `101 Switching Protocols` answer.
fn switching(accept: &str) -> Result<Response, Refusal> {
    let accept = HeaderValue::from_str(accept).map_err(|_| Refusal::BadRequest)?;
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

/// Waits for the upgrade and takes the connection's stream out of the HTTP stack.
async fn upgraded_conn<H: Handler>(on: OnUpgrade, handler: &H) -> Option<Conn> {
    let upgraded = on.await.ok()?;
    let parts = upgraded.downcast::<TokioIo<Prefixed>>().ok()?;
    let (stream, mut buf) = parts.io.into_inner().into_parts();
    buf.extend_from_slice(&parts.read_buf);
    Some(Conn::for_handler(stream, buf, handler))
}

/// `GET /socket.io/?EIO=4&transport=websocket` without sid: a new websocket-only session.
pub fn open<H: Handler>(
    handler: &Arc<H>,
    on_upgrade: OnUpgrade,
    accept: &str,
    bearer: Option<Box<str>>,
    ip: IpAddr,
) -> Result<Response, Refusal> {
    let response = switching(accept)?;
    let session = sessions::start(handler, Transport::Websocket, bearer, ip)?;
    let hello = handler.engine().open_packet(&session.sid, false);
    let h = handler.clone();
    handler.engine().tasks.spawn(async move {
        let Some(conn) = upgraded_conn(on_upgrade, &*h).await else {
            h.close(&session, Close::UpgradeFailed);
            return;
        };
        serve(&h, &session, conn, Some(hello)).await;
    });
    Ok(response)
}

/// `GET /socket.io/?EIO=4&transport=websocket&sid=...`: the upgrade of a polling session.
pub fn upgrade<H: Handler>(
    handler: &Arc<H>,
    on_upgrade: OnUpgrade,
    accept: &str,
    session: Arc<Session<H::Data>>,
) -> Result<Response, Refusal> {
    let response = switching(accept)?;
    let h = handler.clone();
    if session.transport() != Transport::Polling {
        // Already upgraded (or upgrading): accepted, then closed, as the reference server does.
        handler.engine().tasks.spawn(async move {
            if let Some(conn) = upgraded_conn(on_upgrade, &*h).await
                && let Some(stream) = conn.into_stream()
            {
                refuse_upgraded(stream).await;
            }
        });
        return Ok(response);
    }
    session.set_transport(Transport::Upgrading);
    handler.engine().tasks.spawn(async move {
        let Some(conn) = upgraded_conn(on_upgrade, &*h).await else {
            abandon(&session);
            return;
        };
        upgraded(&h, session, conn).await;
    });
    Ok(response)
}
