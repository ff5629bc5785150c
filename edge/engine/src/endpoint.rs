//! The Engine.IO endpoint on the HTTP stack (`/socket.io/`): the origin check, CORS and its
//! preflight, the query (`EIO`, `transport`, `sid`), then a polling request or a websocket
//! upgrade. Every refusal is answered as [`Refusal`] renders it.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Query, Request};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::Refusal;
use crate::frame::Transport;
use crate::handler::Handler;
use crate::handshake::{accept_key, bearer_value};
use crate::limits::Limit;
use crate::origin::{cors_headers, origin_of, preflight_headers};
use crate::{polling, sessions, upgrade};

fn bearer(headers: &HeaderMap) -> Option<Box<str>> {
    bearer_value(headers.get(header::AUTHORIZATION)?.to_str().ok()?)
}

/// Answers an Engine.IO request.
pub async fn handle<H: Handler>(handler: Arc<H>, req: Request) -> Response {
    let engine = handler.engine();
    let origin = req.headers().get(header::ORIGIN).cloned();
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.as_bytes());
    let ip = engine.settings.trusted_proxies.client_ip(peer, forwarded);
    if !engine
        .settings
        .allowed_origins
        .allows(origin_of(req.headers()))
    {
        engine.limits.refuse(
            Limit::Origin,
            Some(ip),
            "request from an origin not allowed",
        );
        return Refusal::OriginNotAllowed.into_response();
    }
    let mut response = if req.method() == Method::OPTIONS {
        let mut r = StatusCode::NO_CONTENT.into_response();
        preflight_headers(req.headers(), r.headers_mut());
        r
    } else {
        match request(&handler, req, ip).await {
            Ok(r) => r,
            Err(e) => e.into_response(),
        }
    };
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        cors_headers(
            &engine.settings.allowed_origins,
            origin.as_ref(),
            response.headers_mut(),
        );
    }
    response
}

async fn request<H: Handler>(
    handler: &Arc<H>,
    req: Request,
    ip: IpAddr,
) -> Result<Response, Refusal> {
    let (mut parts, body) = req.into_parts();
    let Query(q) = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
        .map_err(|_| Refusal::BadRequest)?;
    if q.get("EIO").map(String::as_str) != Some("4") {
        return Err(Refusal::UnsupportedVersion);
    }
    let websocket = match q.get("transport").map(String::as_str) {
        Some("polling") => false,
        Some("websocket") => true,
        _ => return Err(Refusal::UnknownTransport),
    };
    let session = match q.get("sid") {
        None => None,
        Some(sid) => Some(
            handler
                .engine()
                .sessions
                .get(sid.as_str())
                .ok_or(Refusal::UnknownSid)?,
        ),
    };
    if session.is_none() && !handler.accepting() {
        return Err(Refusal::BadRequest);
    }
    if websocket {
        let accept = accept_key(&parts)?;
        let on_upgrade = parts
            .extensions
            .remove::<hyper::upgrade::OnUpgrade>()
            .ok_or(Refusal::BadRequest)?;
        return match session {
            None => upgrade::open(handler, on_upgrade, &accept, bearer(&parts.headers), ip),
            Some(s) => upgrade::upgrade(handler, on_upgrade, &accept, s),
        };
    }
    match (parts.method, session) {
        (Method::GET, None) => {
            let s = sessions::start(handler, Transport::Polling, bearer(&parts.headers), ip)?;
            Ok(polling::text_response(
                handler.engine().open_packet(&s.sid, true),
            ))
        }
        (_, None) => Err(Refusal::BadHandshakeMethod),
        (Method::GET, Some(s)) => polling::get(handler, &s).await,
        (Method::POST, Some(s)) => polling::post(handler, &s, body).await,
        _ => Err(Refusal::BadRequest),
    }
}
