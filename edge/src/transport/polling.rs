//! HTTP long-polling: the handshake GET opens a session here; the long-poll GET and the POST of
//! client packets are the engine's (`herald_engine::polling`).

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use herald_engine::polling::text_response;

use crate::edge::Edge;
use crate::error::HttpError;
use crate::socketio::session::{Session, Transport};
use crate::transport::open_session;

/// `GET /socket.io/?EIO=4&transport=polling` without sid: a new session.
pub(crate) fn handshake(
    edge: &Arc<Edge>,
    header_token: Option<Box<str>>,
    ip: IpAddr,
) -> Result<Response, HttpError> {
    let session = open_session(edge, Transport::Polling, header_token, ip)?;
    Ok(text_response(edge.engine.open_packet(&session.sid, true)))
}

/// A long-poll GET.
pub(crate) async fn get(edge: &Arc<Edge>, session: &Arc<Session>) -> Result<Response, HttpError> {
    Ok(herald_engine::polling::get(edge, session).await?)
}

/// A POST of client packets.
pub(crate) async fn post(
    edge: &Arc<Edge>,
    session: &Arc<Session>,
    body: Body,
) -> Result<Response, HttpError> {
    Ok(herald_engine::polling::post(edge, session, body).await?)
}
