//! The websocket transport: websocket-only sessions and the polling → websocket upgrade
//! (`2probe` / `3probe` / `5`, with a noop to release the pending poll).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures::SinkExt;
use herald_codec::engine::{Packet, decode_text};
use tokio::time::timeout;

use crate::edge::Edge;
use crate::engine::queue::Reader;
use crate::engine::session::{Outgoing, Session, Transport};
use crate::engine::{Flow, malformed, on_packet, open_packet, open_session};
use crate::error::HttpError;

/// Bytes read from the socket at a time. The buffer lives as long as the connection, so it is
/// small: memory per idle connection matters; client packets are mostly small (a larger frame is
/// still read whole, in several reads).
const READ_BUFFER: usize = 1024;

/// Frames written are gathered up to this many bytes before a write (a batch is flushed at its end).
const WRITE_BUFFER: usize = 1024;

/// Small per-connection buffers: memory per idle connection matters.
fn configure(ws: WebSocketUpgrade, edge: &Edge) -> WebSocketUpgrade {
    let max = usize::try_from(edge.config.max_payload).unwrap_or(usize::MAX);
    ws.read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(max.saturating_mul(2).max(64 * 1024))
        .max_message_size(max)
        .max_frame_size(max)
}

/// `GET /socket.io/?EIO=4&transport=websocket` without sid.
pub(crate) fn open(
    edge: &Arc<Edge>,
    ws: WebSocketUpgrade,
    header_token: Option<Box<str>>,
) -> Response {
    let session = open_session(edge, Transport::Websocket, header_token);
    let hello = open_packet(edge, &session.sid, false);
    let edge2 = edge.clone();
    let tracker = edge.tasks.clone();
    configure(ws, edge)
        .on_failed_upgrade({
            let edge = edge.clone();
            let session = session.clone();
            move |_| session.close(&edge, "websocket upgrade failed")
        })
        .on_upgrade(move |mut socket| {
            tracker.track_future(async move {
                if socket.send(Message::text(hello)).await.is_err() {
                    session.close(&edge2, "transport error");
                    return;
                }
                serve(&edge2, &session, socket).await;
            })
        })
}

/// `GET /socket.io/?EIO=4&transport=websocket&sid=...`: upgrade of a polling session.
pub(crate) fn upgrade(
    edge: &Arc<Edge>,
    ws: WebSocketUpgrade,
    session: Arc<Session>,
) -> Result<Response, HttpError> {
    if session.transport() != Transport::Polling {
        return Err(HttpError::BadRequest);
    }
    session.set_transport(Transport::Upgrading);
    let edge2 = edge.clone();
    let tracker = edge.tasks.clone();
    Ok(configure(ws, edge)
        .on_failed_upgrade({
            let session = session.clone();
            move |_| session.set_transport(Transport::Polling)
        })
        .on_upgrade(move |mut socket| {
            tracker.track_future(async move {
                let probe_timeout = edge2.config.ping_timeout.max(Duration::from_secs(1));
                match timeout(probe_timeout, probe(&session, &mut socket)).await {
                    Ok(true) => {
                        session.set_transport(Transport::Websocket);
                        serve(&edge2, &session, socket).await;
                    }
                    _ => {
                        tracing::debug!(sid = %session.sid, "websocket upgrade abandoned");
                        if session.transport() == Transport::Upgrading {
                            session.set_transport(Transport::Polling);
                        }
                    }
                }
            })
        }))
}

/// The probe exchange; true once the client sent `5` (upgrade).
async fn probe(session: &Session, socket: &mut WebSocket) -> bool {
    loop {
        let Some(Ok(msg)) = socket.recv().await else {
            return false;
        };
        let Message::Text(text) = msg else { continue };
        match decode_text(text.as_str()) {
            Ok(Packet::Ping(Some(p))) if p == "probe" => {
                if socket.send(Message::text("3probe")).await.is_err() {
                    return false;
                }
                // Release the pending poll so the client can pause polling.
                session.noop.notify_one();
            }
            Ok(Packet::Upgrade) => return true,
            _ => return false,
        }
    }
}

fn to_message(f: Outgoing) -> Message {
    match f {
        Outgoing::Text(t) => Message::Text(t),
        Outgoing::Binary(b) => Message::Binary(b),
    }
}

/// Reads client packets and writes queued frames until the session closes.
async fn serve(edge: &Arc<Edge>, session: &Arc<Session>, mut socket: WebSocket) {
    let send_timeout = edge.config.ping_timeout.max(Duration::from_secs(1));
    let mut rx = tokio::select! {
        rx = session.reader() => rx,
        () = session.closed.cancelled() => return,
    };
    loop {
        tokio::select! {
            biased;
            () = session.closed.cancelled() => {
                Box::pin(close_out(edge, session, &mut socket, &mut rx, send_timeout)).await;
                return;
            }
            msg = socket.recv() => {
                let packet = match msg {
                    Some(Ok(Message::Text(t))) => match decode_text(t.as_str()) {
                        Ok(p) => p,
                        Err(e) => {
                            malformed(edge, session, &e);
                            continue;
                        }
                    },
                    Some(Ok(Message::Binary(b))) => Packet::Binary(b),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | None => {
                        session.close(edge, "transport close");
                        continue;
                    }
                    Some(Err(e)) => {
                        tracing::debug!(sid = %session.sid, error = %e, "websocket error");
                        session.close(edge, "transport error");
                        continue;
                    }
                };
                if matches!(&packet, Packet::Ping(Some(p)) if p == "probe") {
                    continue;
                }
                // Boxed: handling a packet (a CONNECT, a forwarded event) needs a large future,
                // which would otherwise be part of every idle connection's task.
                if Box::pin(on_packet(edge, session, packet)).await == Flow::Closed {
                    continue;
                }
            }
            f = rx.recv() => {
                // Boxed, like packet handling: only a connection that is writing holds it.
                Box::pin(write_batch(edge, session, &mut socket, &mut rx, f, send_timeout)).await;
            }
        }
    }
}

/// Writes `first` and whatever else is queued, then flushes.
async fn write_batch(
    edge: &Edge,
    session: &Session,
    socket: &mut WebSocket,
    rx: &mut Reader<'_>,
    first: Outgoing,
    send_timeout: Duration,
) {
    let send = timeout(send_timeout, async {
        let mut frames = 1u64;
        socket.feed(to_message(first)).await?;
        while let Some(f) = rx.try_recv() {
            frames += 1;
            socket.feed(to_message(f)).await?;
        }
        socket.flush().await.map(|()| frames)
    });
    // A session closed while the client is not reading (slow consumer) stops waiting at once.
    tokio::select! {
        sent = send => {
            if let Ok(Ok(frames)) = sent {
                edge.metrics.frames_sent(frames);
            } else {
                session.close(edge, "transport error");
            }
        }
        () = session.closed.cancelled() => {}
    }
}

/// The session closed: writes what is left (queued frames when asked to drain, then the final
/// frames), closes the websocket and takes the session out of the edge's table.
async fn close_out(
    edge: &Edge,
    session: &Session,
    socket: &mut WebSocket,
    rx: &mut Reader<'_>,
    send_timeout: Duration,
) {
    let (drain, finals) = session.take_final();
    let frames = u64::try_from(finals.len()).unwrap_or(u64::MAX);
    let _ = timeout(send_timeout, async {
        if drain {
            while let Some(f) = rx.try_recv() {
                socket.feed(to_message(f)).await?;
            }
        }
        for f in finals {
            socket.feed(to_message(f)).await?;
        }
        socket.flush().await?;
        socket.close().await
    })
    .await;
    edge.metrics.frames_sent(frames);
    session.finish(edge);
}
