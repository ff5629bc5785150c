//! The websocket fast path: a valid `GET /socket.io/?EIO=4&transport=websocket` is answered by the
//! edge itself, without the HTTP stack: the `101` and the Engine.IO open packet go out in one
//! write, and the connection's task becomes the websocket's. A request it does not fully recognize
//! goes to the HTTP stack, which serves it (or answers the error).

use std::net::IpAddr;
use std::sync::Arc;

use bytes::BytesMut;
use herald_codec::ws::{self, Opcode};

use crate::edge::Edge;
use crate::socketio::session::SessionExt;
use crate::socketio::session::{SioData, Transport};
use crate::transport::open_session;
use crate::transport::ws::{
    abandon, refuse_upgraded, serve, switching_head, upgraded, write_all, write_refusal,
};
use herald_engine::stream::Stream;
use herald_engine::ws::Conn;

/// A websocket request the edge answers itself.
pub(crate) type Takeover = herald_engine::takeover::Takeover<SioData>;

/// The takeover for a request head, if it is a valid websocket request the fast path handles
/// (anything else, refusals included, is answered by the HTTP stack).
pub(crate) fn takeover(
    edge: &Edge,
    req: &httparse::Request<'_, '_>,
    ip: IpAddr,
) -> Option<Takeover> {
    let at = herald_engine::takeover::Accepting {
        origins: &edge.engine.settings.allowed_origins,
        proxies: &edge.engine.settings.trusted_proxies,
        sessions: &edge.engine.sessions,
        new_sessions: !edge.shutdown.is_cancelled(),
    };
    herald_engine::takeover::recognize(req, ip, &at)
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
            let hello = edge.engine.open_packet(&session.sid, false);
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
