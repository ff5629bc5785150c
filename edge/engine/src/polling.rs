//! HTTP long-polling on an open session: the long-poll GET and the POST of client packets.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use herald_codec::engine::{RECORD_SEPARATOR, decode_payload, encode_binary_record};

use crate::error::Refusal;
use crate::frame::{Outgoing, Transport};
use crate::handler::{Close, Handler};
use crate::limits::Limit;
use crate::packet::{Flow, malformed, on_packet};
use crate::session::Session;

/// A `text/plain` answer.
pub fn text_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=UTF-8")], body).into_response()
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
/// On a closed session the last frames (the upper layer's final frames) are returned without the
/// Engine.IO close packet: socket.io-client handles a close packet at once but decoded Socket.IO
/// packets only on the next tick, so a close in the same payload would hide them. The close
/// packet `1` answers the following GET (or the pending one, when nothing is left to send),
/// which ends the session. As in the reference server, a session the client closed itself (its
/// close packet, in a POST) answers its pending GET with a noop `6` instead: the client is
/// already gone.
pub async fn get<H: Handler>(
    handler: &Arc<H>,
    session: &Arc<Session<H::Data>>,
) -> Result<Response, Refusal> {
    if session.transport() == Transport::Websocket {
        return Err(Refusal::BadRequest);
    }
    let Some(mut rx) = session.try_reader() else {
        tracing::debug!(sid = %session.sid, "overlapping polling GET: closing the session");
        handler.close(session, Close::MultiplePolls);
        return Err(Refusal::BadRequest);
    };
    let mut body = String::new();
    let mut frames = 0u64;
    let first = tokio::select! {
        biased;
        () = session.closed.cancelled() => None,
        () = session.noop.notified() => return Ok(text_response("6".to_owned())),
        f = rx.recv() => Some(f),
    };
    let limit = handler.engine().settings.max_payload_bytes();
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
                handler.finish(session);
            }
        }
    }
    handler
        .engine()
        .frames_sent
        .fetch_add(frames, Ordering::Relaxed);
    Ok(text_response(body))
}

/// A POST of client packets.
pub async fn post<H: Handler>(
    handler: &Arc<H>,
    session: &Arc<Session<H::Data>>,
    body: Body,
) -> Result<Response, Refusal> {
    if session.transport() == Transport::Websocket {
        return Err(Refusal::BadRequest);
    }
    let Some(_guard) = session.try_post() else {
        handler.close(session, Close::MultiplePolls);
        return Err(Refusal::BadRequest);
    };
    let settings = &handler.engine().settings;
    let limit = settings.max_payload_bytes();
    let read = tokio::time::timeout(
        settings.poll_body_timeout,
        axum::body::to_bytes(body, limit),
    );
    let bytes = match read.await {
        Ok(Ok(b)) => b,
        Err(_) => {
            handler.engine().limits.refuse(
                Limit::PollBodyTimeout,
                session.ip(),
                "polling POST body not received within poll_body_timeout_ms: closing the session",
            );
            handler.close(session, Close::BodyTimeout);
            return Err(Refusal::BodyTimeout);
        }
        Ok(Err(_)) => {
            tracing::info!(sid = %session.sid, "polling POST larger than max_payload: closing the session");
            handler.close(session, Close::PayloadTooLarge);
            return Err(Refusal::PayloadTooLarge);
        }
    };
    let packets = match decode_payload(&bytes) {
        Ok(p) => p,
        Err(e) => {
            malformed(&**handler, session, &e);
            return Err(Refusal::BadRequest);
        }
    };
    for p in packets {
        if on_packet(handler, session, p).await == Flow::Closed {
            break;
        }
    }
    Ok(text_response("ok".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Rate;
    use crate::fake::{Fake, session_on};

    const UNLIMITED: Rate = Rate {
        per_sec: 0,
        burst: 0,
    };

    async fn body_text(r: Response) -> String {
        let b = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_post_delivers_each_packet_and_a_get_returns_what_is_queued() {
        let fake = Fake::new(UNLIMITED);
        let s = session_on(&fake, Transport::Polling);
        let r = post(&fake, &s, Body::from("4hello\u{1e}4world"))
            .await
            .unwrap();
        assert_eq!(body_text(r).await, "ok");
        assert_eq!(*fake.seen.lock(), ["hello", "world"]);
        s.push_text("4one").unwrap();
        s.push("4two".into(), &[bytes::Bytes::from_static(b"\x01")])
            .unwrap();
        let r = get(&fake, &s).await.unwrap();
        assert_eq!(body_text(r).await, "4one\u{1e}4two\u{1e}bAQ==");
        assert_eq!(
            fake.engine
                .frames_sent
                .load(std::sync::atomic::Ordering::Relaxed),
            3
        );
    }

    #[tokio::test]
    async fn a_closed_session_answers_its_final_frames_then_the_close_packet() {
        let fake = Fake::new(UNLIMITED);
        let s = session_on(&fake, Transport::Polling);
        s.begin_close(false, vec![Outgoing::Text("41".into())], false);
        s.closed.cancel();
        assert_eq!(body_text(get(&fake, &s).await.unwrap()).await, "41");
        assert!(
            !s.finished.is_cancelled(),
            "the client still fetches the close packet"
        );
        assert_eq!(body_text(get(&fake, &s).await.unwrap()).await, "1");
        assert!(s.finished.is_cancelled());
    }

    #[tokio::test]
    async fn a_body_over_max_payload_closes_the_session_with_its_reason() {
        let fake = Fake::new(UNLIMITED);
        let s = session_on(&fake, Transport::Polling);
        let big = format!("4{}", "x".repeat(200));
        assert_eq!(
            post(&fake, &s, Body::from(big)).await.unwrap_err(),
            Refusal::PayloadTooLarge
        );
        assert_eq!(*fake.closed.lock(), [Close::PayloadTooLarge]);
    }

    #[tokio::test]
    async fn polling_requests_on_a_websocket_session_are_refused() {
        let fake = Fake::new(UNLIMITED);
        let s = session_on(&fake, Transport::Websocket);
        assert_eq!(get(&fake, &s).await.unwrap_err(), Refusal::BadRequest);
        assert_eq!(
            post(&fake, &s, Body::from("4x")).await.unwrap_err(),
            Refusal::BadRequest
        );
        assert!(fake.closed.lock().is_empty(), "refused, not closed");
    }
}
