//! The websocket transport on an upgraded connection: reading the client's frames, the polling →
//! websocket upgrade (`2probe` / `3probe` / `5`, with a noop to release the pending poll), and the
//! close (final frames, a close frame, then the connection ends). Frames to the client are written
//! by whoever produces them (see `sink`); the serving task reads and finishes pending writes.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::BytesMut;
use herald_codec::engine::{Packet, decode_text};
use herald_codec::ws::{self, Decoder, Message, Opcode};
use tokio::time::timeout;

use crate::error::Refusal;
use crate::frame::Transport;
use crate::handler::{Close, Handler};
use crate::limits::Limit;
use crate::packet::{Flow, malformed, on_packet};
use crate::session::Session;
use crate::sink::{Sink, wire_outgoing};
use crate::stream::Stream;

/// Bytes asked of the socket by a read into an empty buffer. The buffer is freed whenever it is
/// empty, so an idle connection holds none: memory per idle connection matters.
const READ_CHUNK: usize = 1024;

/// Longest wait for the client's side of the close after ours.
pub const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// The read side of an upgraded connection.
pub struct Conn {
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
    /// A connection whose upgrade is done; `buf` holds what the client sent after its request,
    /// `max_message` bounds one message.
    pub fn new(stream: Stream, buf: BytesMut, max_message: usize) -> Self {
        Conn {
            stream: Arc::new(stream),
            buf,
            decoder: Decoder::new(max_message),
        }
    }

    /// A connection for `handler`'s sessions (messages bounded by its `max_payload`).
    pub fn for_handler<H: Handler>(stream: Stream, buf: BytesMut, handler: &H) -> Self {
        let max = handler.engine().settings.max_payload_bytes();
        Conn::new(stream, buf, max)
    }

    /// The stream back, when nothing else holds it.
    pub fn into_stream(self) -> Option<Stream> {
        Arc::try_unwrap(self.stream).ok()
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
pub async fn write_all(stream: &Stream, bytes: &[u8]) -> io::Result<()> {
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

/// Answers a connection served without the HTTP stack with a refusal (it is closed after); a
/// client that does not read it is not waited for long.
pub async fn write_refusal(stream: &Stream, refusal: Refusal) {
    let _ = timeout(CLOSE_WAIT, write_all(stream, &refusal.http1())).await;
}

/// Closes a websocket that was accepted for a session which already has one.
pub async fn refuse_upgraded(mut stream: Stream) {
    tracing::debug!("second websocket for an upgraded session: closing it");
    if write_all(&stream, &ws::close_frame(1000, "")).await.is_ok() {
        linger_close(&mut stream).await;
    }
}

/// Ends our half of the connection, then waits briefly for the client's so that what was written
/// last is not cut by a reset.
pub async fn linger_close(stream: &mut Stream) {
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
pub fn abandon<D>(session: &Session<D>) {
    tracing::debug!(sid = %session.sid, "websocket upgrade abandoned");
    if session.transport() == Transport::Upgrading {
        session.set_transport(Transport::Polling);
    }
}

/// A polling session's websocket, once the 101 is written: the probe, then the session moves over.
pub async fn upgraded<H: Handler>(
    handler: &Arc<H>,
    session: Arc<Session<H::Data>>,
    mut conn: Conn,
) {
    let probe_timeout = handler
        .engine()
        .settings
        .ping_timeout
        .max(Duration::from_secs(1));
    match timeout(probe_timeout, probe(&session, &mut conn)).await {
        Ok(true) => {
            session.set_transport(Transport::Websocket);
            serve(handler, &session, conn, None).await;
        }
        _ => abandon(&session),
    }
}

/// The probe exchange; true once the client sent `5` (upgrade).
async fn probe<D>(session: &Session<D>, conn: &mut Conn) -> bool {
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

/// Takes over the session's outbound queue (after `hello`, if given), then reads client frames
/// and finishes pending writes until the session closes.
pub async fn serve<H: Handler>(
    handler: &Arc<H>,
    session: &Arc<Session<H::Data>>,
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
                    // Boxed: handling a packet (for the layer above, a large future) would
                    // otherwise be part of every idle connection's task.
                    Box::pin(on_message(handler, session, m)).await;
                }
                Ok(None) => handler.close(session, Close::TransportClose),
                Err(ReadError::Io(e)) => {
                    tracing::debug!(sid = %session.sid, error = %e, "websocket read failed");
                    handler.close(session, Close::TransportError);
                }
                Err(ReadError::Protocol(e)) => {
                    tracing::debug!(sid = %session.sid, error = %e, "websocket protocol error");
                    close_code = e.close_code();
                    handler.close(session, Close::TransportError);
                }
            },
            e = session.flush_websocket() => {
                tracing::debug!(sid = %session.sid, error = %e, "websocket write failed");
                handler.close(session, Close::TransportError);
            }
        }
    }
    drop(reader);
    Box::pin(close_out(&**handler, session, conn, close_code)).await;
}

/// Handles one message from the client.
async fn on_message<H: Handler>(handler: &Arc<H>, session: &Arc<Session<H::Data>>, m: Message) {
    let packet = match m {
        Message::Text(t) => match decode_text(&t) {
            Ok(p) => p,
            Err(e) => {
                malformed(&**handler, session, &e);
                return;
            }
        },
        Message::Binary(b) => Packet::Binary(b),
        Message::Ping(p) => {
            // A pong counts in the bounded queue: a client that pings and never reads is a slow
            // consumer like any other.
            if !session.push_control(ws::frame(Opcode::Pong, &p)) {
                handler.engine().limits.refuse(
                    Limit::ControlQueue,
                    session.ip(),
                    "pongs not read: closing the session",
                );
                handler.close(session, Close::SlowConsumer);
            }
            return;
        }
        Message::Pong(_) => return,
        Message::Close(_) => {
            handler.close(session, Close::TransportClose);
            return;
        }
    };
    if matches!(&packet, Packet::Ping(Some(p)) if p == "probe") {
        return;
    }
    if on_packet(handler, session, packet).await == Flow::Closed {
        tracing::trace!(sid = %session.sid, "session closed by a packet");
    }
}

/// The session closed: writes what is left (the frame being written, queued frames when asked to
/// drain, then the final frames and a close frame), ends the connection and has the handler take
/// the session out of its table.
async fn close_out<H: Handler>(
    handler: &H,
    session: &Session<H::Data>,
    conn: Conn,
    close_code: u16,
) {
    let (drain, finals) = session.take_final();
    let send_timeout = handler
        .engine()
        .settings
        .ping_timeout
        .max(Duration::from_secs(1));
    if let Some(mut sink) = session.detach_websocket() {
        if !drain {
            sink.drop_unstarted();
        }
        for f in &finals {
            sink.write(wire_outgoing(f), 1);
        }
        sink.write(ws::close_frame(close_code, ""), 0);
        if timeout(send_timeout, flush_all(&mut sink)).await.is_ok() {
            handler.engine().frames_sent.fetch_add(
                u64::try_from(finals.len()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
        }
    }
    handler.finish(session);
    // Our half is closed once the client has read it; wait briefly for theirs so the last frames
    // are not cut by a reset.
    if let Some(mut stream) = conn.into_stream() {
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::config::Rate;
    use crate::fake::{Fake, session, session_on};

    const UNLIMITED: Rate = Rate {
        per_sec: 0,
        burst: 0,
    };
    const DEADLINE: Duration = Duration::from_secs(10);

    /// A connected pair: the client's socket and the server's stream.
    async fn pair() -> (TcpStream, Stream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        (client.unwrap(), Stream::Plain(accepted.unwrap().0))
    }

    /// A masked frame as a client sends it (a zero mask key: the payload is unchanged).
    fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        assert!(payload.len() < 126);
        let mut out = vec![0x80 | opcode, 0x80 | payload.len() as u8, 0, 0, 0, 0];
        out.extend_from_slice(payload);
        out
    }

    /// The next frame from the server: its opcode and payload.
    async fn read_frame(client: &mut TcpStream) -> (u8, Vec<u8>) {
        tokio::time::timeout(DEADLINE, async {
            let mut head = [0u8; 2];
            client.read_exact(&mut head).await.unwrap();
            let len = match head[1] & 0x7f {
                126 => usize::from(client.read_u16().await.unwrap()),
                127 => usize::try_from(client.read_u64().await.unwrap()).unwrap(),
                n => usize::from(n),
            };
            let mut payload = vec![0u8; len];
            client.read_exact(&mut payload).await.unwrap();
            (head[0] & 0x0f, payload)
        })
        .await
        .expect("a frame from the server")
    }

    async fn read_text(client: &mut TcpStream) -> String {
        let (op, payload) = read_frame(client).await;
        assert_eq!(op, 1, "a text frame");
        String::from_utf8(payload).unwrap()
    }

    /// Polls `f` until it holds, with a generous deadline.
    async fn until(mut f: impl FnMut() -> bool) {
        tokio::time::timeout(DEADLINE, async {
            while !f() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the condition within the deadline");
    }

    /// A websocket session served on a loopback connection: the fake handler, the session, the
    /// client's side and the serving task.
    async fn served(
        hello: Option<String>,
    ) -> (
        Arc<Fake>,
        Arc<Session<()>>,
        TcpStream,
        tokio::task::JoinHandle<()>,
    ) {
        let fake = Fake::new(UNLIMITED);
        let s = session(&fake);
        let (client, stream) = pair().await;
        let conn = Conn::for_handler(stream, BytesMut::new(), &*fake);
        let task = tokio::spawn({
            let (fake, s) = (fake.clone(), s.clone());
            async move { serve(&fake, &s, conn, hello).await }
        });
        (fake, s, client, task)
    }

    #[tokio::test]
    async fn a_websocket_session_sends_its_hello_and_carries_messages_both_ways() {
        let (fake, s, mut client, task) = served(Some("0{}".to_owned())).await;
        assert_eq!(read_text(&mut client).await, "0{}");
        client.write_all(&client_frame(1, b"4hello")).await.unwrap();
        until(|| *fake.seen.lock() == ["hello"]).await;
        s.push_text("4out").unwrap();
        assert_eq!(read_text(&mut client).await, "4out");
        // The client closes: the server answers with its close frame and the session ends.
        client.write_all(&client_frame(8, b"")).await.unwrap();
        let (op, payload) = read_frame(&mut client).await;
        assert_eq!((op, payload.as_slice()), (8, &1000u16.to_be_bytes()[..]));
        client.shutdown().await.unwrap();
        tokio::time::timeout(DEADLINE, task).await.unwrap().unwrap();
        assert_eq!(*fake.closed.lock(), [Close::TransportClose]);
        assert!(s.finished.is_cancelled());
    }

    #[tokio::test]
    async fn a_polling_session_upgrades_after_the_probe() {
        let fake = Fake::new(UNLIMITED);
        let s = session_on(&fake, Transport::Polling);
        s.set_transport(Transport::Upgrading);
        let (mut client, stream) = pair().await;
        let conn = Conn::for_handler(stream, BytesMut::new(), &*fake);
        tokio::spawn({
            let (fake, s) = (fake.clone(), s.clone());
            async move { upgraded(&fake, s, conn).await }
        });
        client.write_all(&client_frame(1, b"2probe")).await.unwrap();
        assert_eq!(read_text(&mut client).await, "3probe");
        // The pending poll is released with a noop.
        tokio::time::timeout(DEADLINE, s.noop.notified())
            .await
            .expect("the noop for the pending poll");
        assert_eq!(s.transport(), Transport::Upgrading);
        client.write_all(&client_frame(1, b"5")).await.unwrap();
        until(|| s.transport() == Transport::Websocket).await;
        s.push_text("4after").unwrap();
        assert_eq!(read_text(&mut client).await, "4after");
        client.write_all(&client_frame(1, b"4in")).await.unwrap();
        until(|| *fake.seen.lock() == ["in"]).await;
    }

    #[tokio::test]
    async fn an_upgrade_without_the_probe_goes_back_to_polling() {
        let fake = Fake::new(UNLIMITED);
        let s = session_on(&fake, Transport::Polling);
        s.set_transport(Transport::Upgrading);
        let (mut client, stream) = pair().await;
        let conn = Conn::for_handler(stream, BytesMut::new(), &*fake);
        let task = tokio::spawn({
            let (fake, s) = (fake.clone(), s.clone());
            async move { upgraded(&fake, s, conn).await }
        });
        client.write_all(&client_frame(1, b"4early")).await.unwrap();
        tokio::time::timeout(DEADLINE, task).await.unwrap().unwrap();
        assert_eq!(s.transport(), Transport::Polling);
        assert!(fake.seen.lock().is_empty() && fake.closed.lock().is_empty());
    }

    #[tokio::test]
    async fn a_protocol_error_closes_with_its_code() {
        let (fake, s, mut client, _task) = served(None).await;
        // An unmasked frame from a client breaks RFC 6455: close code 1002.
        client.write_all(&[0x81, 0x02, b'4', b'x']).await.unwrap();
        let (op, payload) = read_frame(&mut client).await;
        assert_eq!((op, payload.as_slice()), (8, &1002u16.to_be_bytes()[..]));
        until(|| s.finished.is_cancelled()).await;
        assert_eq!(*fake.closed.lock(), [Close::TransportError]);
        assert!(fake.seen.lock().is_empty());
    }

    #[tokio::test]
    async fn a_message_over_max_payload_closes_with_1009() {
        let (fake, _s, mut client, _task) = served(None).await;
        // The fake's max_payload is 100 bytes.
        client
            .write_all(&client_frame(1, &[b'4'; 120]))
            .await
            .unwrap();
        let (op, payload) = read_frame(&mut client).await;
        assert_eq!((op, payload.as_slice()), (8, &1009u16.to_be_bytes()[..]));
        assert_eq!(*fake.closed.lock(), [Close::TransportError]);
    }
}
