//! The websocket fast path: a valid `GET /socket.io/?EIO=4&transport=websocket` is answered by the
//! edge itself, without the HTTP stack: the `101` and the Engine.IO open packet go out in one
//! write, and the connection's task becomes the websocket's. A request it does not fully recognize
//! goes to the HTTP stack, which serves it (or answers the error).

use std::net::IpAddr;
use std::sync::Arc;

use bytes::BytesMut;
use herald_codec::ws::{self, Opcode};

use crate::edge::Edge;
use crate::engine::session::SessionExt;
use crate::engine::session::{Session, Transport};
use crate::engine::stream::Stream;
use crate::engine::ws::{
    abandon, refuse_upgraded, serve, switching_head, upgrade_accept, upgraded, write_all,
    write_refusal,
};
use crate::engine::{open_packet, open_session};
use crate::http::bearer_value;
use herald_engine::ws::Conn;

/// A websocket request the edge answers itself.
pub(crate) enum Takeover {
    /// A new websocket-only session.
    Open {
        accept: String,
        token: Option<Box<str>>,
        ip: IpAddr,
    },
    /// The upgrade of a polling session.
    Upgrade {
        accept: String,
        session: Arc<Session>,
    },
    /// A second websocket for a session that already has one (or is getting one): accepted, then
    /// closed, as the reference server does.
    Refuse { accept: String },
}

/// The takeover for a request head, if it is a valid websocket request the fast path handles
/// (anything else, refusals included, is answered by the HTTP stack).
pub(crate) fn takeover(
    edge: &Edge,
    req: &httparse::Request<'_, '_>,
    ip: IpAddr,
) -> Option<Takeover> {
    // HTTP/1.0 has no upgrade.
    if req.method? != "GET" || req.version? != 1 {
        return None;
    }
    let (route, query) = req.path?.split_once('?')?;
    // Escaped values are left to the HTTP stack's query parser.
    if !matches!(route, "/socket.io/" | "/socket.io") || query.contains(['%', '+']) {
        return None;
    }
    let (mut eio, mut transport, mut sid) = (None, None, None);
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("EIO", v)) => eio = Some(v),
            Some(("transport", v)) => transport = Some(v),
            Some(("sid", v)) => sid = Some(v),
            _ => {}
        }
    }
    if eio != Some("4") || transport != Some("websocket") {
        return None;
    }
    let headers = req.headers.iter().map(|h| (h.name, h.value));
    let origin = headers
        .clone()
        .find(|(n, _)| n.eq_ignore_ascii_case("origin"))
        .map(|(_, v)| v);
    if !edge.config.allowed_origins.allows(origin) {
        return None;
    }
    let accept = upgrade_accept(headers.clone())?;
    match sid {
        None if edge.shutdown.is_cancelled() => None,
        None => {
            let forwarded = headers
                .clone()
                .filter(|(n, _)| n.eq_ignore_ascii_case("x-forwarded-for"))
                .map(|(_, v)| v);
            let ip = edge.config.trusted_proxies.client_ip(ip, forwarded);
            let token = headers
                .filter(|(n, _)| n.eq_ignore_ascii_case("authorization"))
                .find_map(|(_, v)| bearer_value(std::str::from_utf8(v).ok()?));
            Some(Takeover::Open { accept, token, ip })
        }
        Some(sid) => {
            let session = edge.sessions.get(sid)?;
            Some(if session.transport() == Transport::Polling {
                Takeover::Upgrade { accept, session }
            } else {
                Takeover::Refuse { accept }
            })
        }
    }
}

/// Serves a taken-over connection until its session ends; `rest` is what the client sent after
/// its request head.
pub(crate) async fn run(edge: &Arc<Edge>, stream: Stream, rest: BytesMut, t: Takeover) {
    match t {
        Takeover::Open { accept, token, ip } => {
            let session = match open_session(edge, Transport::Websocket, token, ip) {
                Ok(s) => s,
                Err(e) => {
                    Box::pin(write_refusal(&stream, &e)).await;
                    return;
                }
            };
            let mut out = switching_head(&accept);
            let hello = open_packet(edge, &session.sid, false);
            out.extend_from_slice(&ws::frame(Opcode::Text, hello.as_bytes()));
            if write_all(&stream, &out).await.is_err() {
                session.close(edge, "transport error");
                return;
            }
            serve(
                edge,
                &session,
                Conn::for_handler(stream, rest, &**edge),
                None,
            )
            .await;
        }
        // The rarer cases are boxed: the task is sized for its largest state, and every idle
        // websocket would otherwise pay for theirs.
        Takeover::Upgrade { accept, session } => {
            Box::pin(async move {
                session.set_transport(Transport::Upgrading);
                if write_all(&stream, &switching_head(&accept)).await.is_err() {
                    abandon(&session);
                    return;
                }
                upgraded(edge, session, Conn::for_handler(stream, rest, &**edge)).await;
            })
            .await;
        }
        Takeover::Refuse { accept } => {
            Box::pin(async move {
                if write_all(&stream, &switching_head(&accept)).await.is_ok() {
                    refuse_upgraded(stream).await;
                }
            })
            .await;
        }
    }
}
