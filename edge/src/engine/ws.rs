//! The websocket transport: the RFC 6455 upgrade, websocket-only sessions and the polling →
//! websocket upgrade (`2probe` / `3probe` / `5`, with a noop to release the pending poll). Frames to
//! the client are written by whoever produces them (see `engine::sink`); this task reads the
//! client's frames and finishes writes the socket could not take at once.

use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use herald_codec::engine::{Packet, decode_text};
use herald_codec::ws::{self, Decoder, Message, Opcode};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::time::timeout;

use crate::edge::Edge;
use crate::engine::limits::Limit;
use crate::engine::session::SessionExt;
use crate::engine::session::{SLOW_CONSUMER, Session, Transport};
use crate::engine::sink::{Sink, wire_outgoing};
use crate::engine::stream::Stream;
use crate::engine::{Flow, malformed, on_packet, open_packet, open_session};
use crate::error::HttpError;
use crate::serve::Prefixed;

/// Bytes asked of the socket by a read into an empty buffer. The buffer is freed whenever it is
/// empty, so an idle connection holds none: memory per idle connection matters.
const READ_CHUNK: usize = 1024;

/// Longest wait for the client's side of the close after ours.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

pub(crate) use herald_engine::handshake::{switching_head, upgrade_accept};

/// Checks a websocket upgrade request and returns its `Sec-WebSocket-Accept`.
pub(crate) fn accept_key(parts: &Parts) -> Result<String, HttpError> {
    Ok(herald_engine::handshake::accept_key(parts)?)
}

/// The `101 Switching Protocols` answer.
fn switching(accept: &str) -> Result<Response, HttpError> {
    let accept = HeaderValue::from_str(accept).map_err(|_| HttpError::BadRequest)?;
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

/// The read side of an upgraded connection.
pub(crate) struct Conn {
    stream: Arc<Stream>,
    buf: BytesMut,
    decoder: Decoder,
}

/// Why reading stopped.
enum ReadError {
    Io(io::Error),
    Protocol(ws::WsError),
}

impl Conn {
    /// A connection whose upgrade is done; `buf` holds what the client sent after its request.
    pub fn new(stream: Stream, buf: BytesMut, edge: &Edge) -> Self {
        Conn {
            stream: Arc::new(stream),
            buf,
            decoder: Decoder::new(max_message(edge)),
        }
    }

    /// Waits for the upgrade and takes the TCP stream out of the HTTP connection.
    async fn upgraded(on: OnUpgrade, edge: &Edge) -> Option<Conn> {
        let upgraded = on.await.ok()?;
        let parts = upgraded.downcast::<TokioIo<Prefixed>>().ok()?;
        let (stream, mut buf) = parts.io.into_inner().into_parts();
        buf.extend_from_slice(&parts.read_buf);
        Some(Conn::new(stream, buf, edge))
    }

    /// The next message from the client; `Ok(None)` at end of stream. Cancel-safe.
    async fn next(&mut self) -> Result<Option<Message>, ReadError> {
        loop {
            if let Some(m) = self
                .decoder
                .decode(&mut self.buf)
                .map_err(ReadError::Protocol)?
            {
                return Ok(Some(m));
            }
            if self.buf.is_empty() && !self.decoder.in_message() {
                // Nothing is held between messages.
                self.buf = BytesMut::new();
            }
            self.stream.readable().await.map_err(ReadError::Io)?;
            self.buf.reserve(self.buf.len().max(READ_CHUNK));
            match self.stream.try_read_buf(&mut self.buf) {
                Ok(0) => return Ok(None),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
    }
}

/// Writes all of `bytes` (before the sink exists: the handshake, the probe exchange), including
/// what a TLS stream took but had not sent yet.
pub(crate) async fn write_all(stream: &Stream, bytes: &[u8]) -> io::Result<()> {
    let mut at = 0;
    while at < bytes.len() {
        stream.writable().await?;
        match stream.try_write(bytes.get(at..).unwrap_or_default()) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => at += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    while !stream.flush_held()? {
        stream.writable().await?;
    }
    Ok(())
}

/// Answers a connection the edge serves without the HTTP stack with an error (it is closed after);
/// a client that does not read it is not waited for long.
pub(crate) async fn write_refusal(stream: &Stream, e: &HttpError) {
    let _ = timeout(CLOSE_WAIT, write_all(stream, &e.http1())).await;
}

fn max_message(edge: &Edge) -> usize {
    usize::try_from(edge.config.max_payload).unwrap_or(usize::MAX)
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
    let hello = open_packet(edge, &session.sid, false);
    let edge2 = edge.clone();
    edge.tasks.spawn(async move {
        let Some(conn) = Conn::upgraded(on_upgrade, &edge2).await else {
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
        edge.tasks.spawn(async move {
            if let Some(conn) = Conn::upgraded(on_upgrade, &edge2).await
                && let Ok(stream) = Arc::try_unwrap(conn.stream)
            {
                refuse_upgraded(stream).await;
            }
        });
        return Ok(response);
    }
    session.set_transport(Transport::Upgrading);
    let edge2 = edge.clone();
    edge.tasks.spawn(async move {
        let Some(conn) = Conn::upgraded(on_upgrade, &edge2).await else {
            abandon(&session);
            return;
        };
        upgraded(&edge2, session, conn).await;
    });
    Ok(response)
}

/// A polling session's websocket, once the 101 is written: the probe, then the session moves over.
pub(crate) async fn upgraded(edge: &Arc<Edge>, session: Arc<Session>, mut conn: Conn) {
    let probe_timeout = edge.config.ping_timeout.max(Duration::from_secs(1));
    match timeout(probe_timeout, probe(&session, &mut conn)).await {
        Ok(true) => {
            session.set_transport(Transport::Websocket);
            serve(edge, &session, conn, None).await;
        }
        _ => abandon(&session),
    }
}

/// Closes a websocket that was accepted for a session which already has one.
pub(crate) async fn refuse_upgraded(mut stream: Stream) {
    tracing::debug!("second websocket for an upgraded session: closing it");
    if write_all(&stream, &ws::close_frame(1000, "")).await.is_ok() {
        linger_close(&mut stream).await;
    }
}

/// Ends our half of the connection, then waits briefly for the client's so that what was written
/// last is not cut by a reset.
async fn linger_close(stream: &mut Stream) {
    let _ = timeout(CLOSE_WAIT, async {
        let _ = tokio::io::AsyncWriteExt::shutdown(stream).await;
        let mut scratch = [0u8; 256];
        while let Ok(n) = tokio::io::AsyncReadExt::read(stream, &mut scratch).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// The upgrade did not happen: the session goes on polling.
pub(crate) fn abandon(session: &Session) {
    tracing::debug!(sid = %session.sid, "websocket upgrade abandoned");
    if session.transport() == Transport::Upgrading {
        session.set_transport(Transport::Polling);
    }
}

/// The probe exchange; true once the client sent `5` (upgrade).
async fn probe(session: &Session, conn: &mut Conn) -> bool {
    loop {
        let text = match conn.next().await {
            Ok(Some(Message::Text(t))) => t,
            Ok(Some(Message::Ping(_) | Message::Pong(_))) => continue,
            _ => return false,
        };
        match decode_text(&text) {
            Ok(Packet::Ping(Some(p))) if p == "probe" => {
                let pong = ws::frame(Opcode::Text, b"3probe");
                if write_all(&conn.stream, &pong).await.is_err() {
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

/// Takes over the session's outbound queue, then reads client frames and finishes pending writes
/// until the session closes.
pub(crate) async fn serve(
    edge: &Arc<Edge>,
    session: &Arc<Session>,
    mut conn: Conn,
    hello: Option<String>,
) {
    // A polling GET in progress keeps the queue until it returns (the noop releases it).
    let reader = tokio::select! {
        rx = session.reader() => rx,
        () = session.closed.cancelled() => return,
    };
    session.attach_websocket(conn.stream.clone());
    if let Some(hello) = hello {
        let _ = session.push_text(hello);
    }
    let mut close_code = 1000;
    loop {
        tokio::select! {
            biased;
            () = session.closed.cancelled() => break,
            msg = conn.next() => match msg {
                Ok(Some(m)) => {
                    // Boxed: handling a packet (a CONNECT, a forwarded event) needs a large future,
                    // which would otherwise be part of every idle connection's task.
                    Box::pin(on_message(edge, session, m)).await;
                }
                Ok(None) => session.close(edge, "transport close"),
                Err(ReadError::Io(e)) => {
                    tracing::debug!(sid = %session.sid, error = %e, "websocket read failed");
                    session.close(edge, "transport error");
                }
                Err(ReadError::Protocol(e)) => {
                    tracing::debug!(sid = %session.sid, error = %e, "websocket protocol error");
                    close_code = e.close_code();
                    session.close(edge, "transport error");
                }
            },
            e = session.flush_websocket() => {
                tracing::debug!(sid = %session.sid, error = %e, "websocket write failed");
                session.close(edge, "transport error");
            }
        }
    }
    drop(reader);
    Box::pin(close_out(edge, session, conn, close_code)).await;
}

/// Handles one message from the client.
async fn on_message(edge: &Arc<Edge>, session: &Arc<Session>, m: Message) {
    let packet = match m {
        Message::Text(t) => match decode_text(&t) {
            Ok(p) => p,
            Err(e) => {
                malformed(edge, session, &e);
                return;
            }
        },
        Message::Binary(b) => Packet::Binary(b),
        Message::Ping(p) => {
            // A pong counts in the bounded queue: a client that pings and never reads is a slow
            // consumer like any other.
            if !session.push_control(ws::frame(Opcode::Pong, &p)) {
                edge.limits.refuse(
                    Limit::ControlQueue,
                    session.ip(),
                    "pongs not read: closing the session",
                );
                session.disconnect_all(edge, SLOW_CONSUMER, false);
            }
            return;
        }
        Message::Pong(_) => return,
        Message::Close(_) => {
            session.close(edge, "transport close");
            return;
        }
    };
    if matches!(&packet, Packet::Ping(Some(p)) if p == "probe") {
        return;
    }
    if on_packet(edge, session, packet).await == Flow::Closed {
        tracing::trace!(sid = %session.sid, "session closed by a packet");
    }
}

/// The session closed: writes what is left (the frame being written, queued frames when asked to
/// drain, then the final frames and a close frame), ends the connection and takes the session out
/// of the edge's table.
async fn close_out(edge: &Edge, session: &Session, conn: Conn, close_code: u16) {
    let (drain, finals) = session.take_final();
    let send_timeout = edge.config.ping_timeout.max(Duration::from_secs(1));
    if let Some(mut sink) = session.detach_websocket() {
        if !drain {
            sink.drop_unstarted();
        }
        for f in &finals {
            sink.write(wire_outgoing(f), 1);
        }
        sink.write(ws::close_frame(close_code, ""), 0);
        if timeout(send_timeout, flush_all(&mut sink)).await.is_ok() {
            edge.metrics
                .frames_sent(u64::try_from(finals.len()).unwrap_or(u64::MAX));
        }
    }
    session.finish(edge);
    // Our half is closed once the client has read it; wait briefly for theirs so the last frames
    // are not cut by a reset.
    if let Ok(mut stream) = Arc::try_unwrap(conn.stream) {
        linger_close(&mut stream).await;
    }
}

/// Writes everything the sink holds.
async fn flush_all(sink: &mut Sink) -> io::Result<()> {
    while !sink.flush_some()? {
        sink.stream().clone().writable().await?;
    }
    Ok(())
}
