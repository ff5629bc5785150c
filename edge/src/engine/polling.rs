//! HTTP long-polling: the handshake GET, the long-poll GET and the POST of client packets.

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use herald_codec::engine::{RECORD_SEPARATOR, decode_payload, encode_binary_record};

use crate::edge::Edge;
use crate::engine::limits::Limit;
use crate::engine::session::SessionExt;
use crate::engine::session::{Outgoing, Session, Transport};
use crate::engine::{Flow, malformed, on_packet, open_packet, open_session};
use crate::error::HttpError;

fn text_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=UTF-8")], body).into_response()
}

/// Close reason of a session whose polling POST did not send its body in time.
pub(crate) const BODY_TIMEOUT: &str = "polling body timeout";

/// `GET /socket.io/?EIO=4&transport=polling` without sid: a new session.
pub(crate) fn handshake(
    edge: &Arc<Edge>,
    header_token: Option<Box<str>>,
    ip: IpAddr,
) -> Result<Response, HttpError> {
    let session = open_session(edge, Transport::Polling, header_token, ip)?;
    Ok(text_response(open_packet(edge, &session.sid, true)))
}

fn push_record(body: &mut String, frames: &mut u64, f: &Outgoing) {
    *frames += 1;
    if !body.is_empty() {
        body.push(RECORD_SEPARATOR);
    }
    match f {
        Outgoing::Text(t) => body.push_str(t.as_str()),
        Outgoing::Binary(b) => body.push_str(&encode_binary_record(b)),
    }
}

/// A long-poll GET: waits for frames, then returns as many as fit in `max_payload`.
///
/// On a closed session the last frames (`herald:disconnect`, DISCONNECT) are returned without the
/// Engine.IO close packet: socket.io-client handles a close packet at once but decoded Socket.IO packets
/// only on the next tick, so a close in the same payload would hide them. The close packet `1` answers
/// the following GET (or the pending one, when nothing is left to send), which ends the session.
/// As in the reference server, a session the client closed itself (its close packet, in a POST)
/// answers its pending GET with a noop `6` instead: the client is already gone.
pub(crate) async fn get(edge: &Arc<Edge>, session: &Arc<Session>) -> Result<Response, HttpError> {
    if session.transport() == Transport::Websocket {
        return Err(HttpError::BadRequest);
    }
    let Some(mut rx) = session.try_reader() else {
        tracing::debug!(sid = %session.sid, "overlapping polling GET: closing the session");
        session.close(edge, "multiple polling requests");
        return Err(HttpError::BadRequest);
    };
    let mut body = String::new();
    let mut frames = 0u64;
    let first = tokio::select! {
        biased;
        () = session.closed.cancelled() => None,
        () = session.noop.notified() => return Ok(text_response("6".to_owned())),
        f = rx.recv() => Some(f),
    };
    let limit = usize::try_from(edge.config.max_payload).unwrap_or(usize::MAX);
    match first {
        Some(f) if !session.is_closed() => {
            push_record(&mut body, &mut frames, &f);
            while body.len() < limit {
                match rx.try_recv() {
                    Some(f) => push_record(&mut body, &mut frames, &f),
                    None => break,
                }
            }
        }
        first => {
            let (drain, finals) = session.take_final();
            if drain {
                if let Some(f) = first {
                    push_record(&mut body, &mut frames, &f);
                }
                while let Some(f) = rx.try_recv() {
                    push_record(&mut body, &mut frames, &f);
                }
            }
            for f in &finals {
                push_record(&mut body, &mut frames, f);
            }
            if body.is_empty() {
                let last = if session.closed_by_client() { "6" } else { "1" };
                push_record(&mut body, &mut frames, &Outgoing::Text(last.into()));
                session.finish(edge);
            }
        }
    }
    edge.metrics.frames_sent(frames);
    Ok(text_response(body))
}

/// A POST of client packets.
pub(crate) async fn post(
    edge: &Arc<Edge>,
    session: &Arc<Session>,
    body: Body,
) -> Result<Response, HttpError> {
    if session.transport() == Transport::Websocket {
        return Err(HttpError::BadRequest);
    }
    let Some(_guard) = session.try_post() else {
        session.close(edge, "multiple polling requests");
        return Err(HttpError::BadRequest);
    };
    let limit = usize::try_from(edge.config.max_payload).unwrap_or(usize::MAX);
    let read = tokio::time::timeout(
        edge.config.poll_body_timeout,
        axum::body::to_bytes(body, limit),
    );
    let bytes = match read.await {
        Ok(Ok(b)) => b,
        Err(_) => {
            edge.limits.refuse(
                Limit::PollBodyTimeout,
                session.ip(),
                "polling POST body not received within poll_body_timeout_ms: closing the session",
            );
            session.close(edge, BODY_TIMEOUT);
            return Err(HttpError::BodyTimeout);
        }
        Ok(Err(_)) => {
            tracing::info!(sid = %session.sid, "polling POST larger than max_payload: closing the session");
            session.close(edge, "payload too large");
            return Err(HttpError::PayloadTooLarge);
        }
    };
    let packets = match decode_payload(&bytes) {
        Ok(p) => p,
        Err(e) => {
            malformed(edge, session, &e);
            return Err(HttpError::BadRequest);
        }
    };
    for p in packets {
        if on_packet(edge, session, p).await == Flow::Closed {
            break;
        }
    }
    Ok(text_response("ok".to_owned()))
}
