//! The HTTP/1.1 server: accepts TCP connections (with TLS when configured), bounds each request
//! head, hands a valid websocket request straight to the websocket fast path
//! ([`crate::takeover`]), and serves everything else with the router (with upgrades) until
//! stopped, then lets every connection finish its request.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use bytes::{Bytes, BytesMut};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::engine::Engine;
use crate::error::Refusal;
use crate::handler::Handler;
use crate::limits::Limit;
use crate::prefixed::Prefixed;
use crate::stream::{Stream, TlsConn};
use crate::takeover::{self, Accepting};
use crate::tls::ServerTls;
use crate::ws::write_refusal;

/// The HTTP stack's smallest read buffer (it refuses a smaller one).
const MIN_HTTP_BUFFER: usize = 8192;

/// Headers the fast path parses; a request with more goes to the HTTP stack.
const MAX_HEADERS: usize = 32;

/// Pause after an accept error that is about this process (out of file descriptors): accepting
/// again at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `router` on `listener` for `handler`'s engine (with `tls`, HTTPS only) until `stop` is
/// cancelled, then waits for open connections to finish (the caller bounds the wait).
pub async fn serve<H: Handler>(
    listener: TcpListener,
    router: Router,
    handler: Arc<H>,
    tls: Option<ServerTls>,
    stop: CancellationToken,
) -> io::Result<()> {
    let conns = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => break,
            r = listener.accept() => r,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        // Real-time frames are small and must not wait for the peer's ACK.
        let _ = tcp.set_nodelay(true);
        conns.spawn(connection(
            tcp,
            peer,
            router.clone(),
            handler.clone(),
            tls.clone(),
            stop.clone(),
        ));
    }
    conns.close();
    conns.wait().await;
    Ok(())
}

/// One connection: the TLS handshake when the server speaks HTTPS, then the websocket fast path
/// or the HTTP stack.
async fn connection<H: Handler>(
    tcp: TcpStream,
    peer: SocketAddr,
    router: Router,
    handler: Arc<H>,
    tls: Option<ServerTls>,
    stop: CancellationToken,
) {
    let engine = handler.engine();
    // The handshake and the request head share one deadline.
    let deadline = Instant::now() + engine.settings.header_timeout;
    let tcp = match &tls {
        None => Stream::Plain(tcp),
        Some(tls) => {
            // Boxed: only TLS connections pay for the handshake's state.
            let accepted = Box::pin(handshake(tcp, peer, &tls.0, deadline, &*handler));
            tokio::select! {
                s = accepted => match s {
                    Some(s) => s,
                    None => return,
                },
                () = stop.cancelled() => return,
            }
        }
    };
    let mut head = BytesMut::new();
    let limit = engine.settings.max_header_bytes;
    let end = tokio::select! {
        r = timeout_at(deadline, read_head(&tcp, &mut head, limit)) => match r {
            Ok(Ok(end)) => end,
            Ok(Err(_)) => return,
            Err(_) => {
                // A client that never completes its request (slowloris) holds nothing longer.
                let why = "no complete request head within header_timeout_ms: connection closed";
                refuse(engine, &tcp, peer, (Limit::HeaderTimeout, Refusal::HeaderTimeout), why).await;
                return;
            }
        },
        () = stop.cancelled() => return,
    };
    let Some(end) = end else {
        let why = "request head over max_header_bytes";
        refuse(
            engine,
            &tcp,
            peer,
            (Limit::HeaderBytes, Refusal::HeadersTooLarge),
            why,
        )
        .await;
        return;
    };
    if let Some(t) = recognize(&*handler, &head, peer) {
        // Only what the client sent after its request is kept: an idle websocket holds no buffer.
        let rest = BytesMut::from(head.get(end..).unwrap_or_default());
        // A task of its own, sized for the websocket alone (this one is sized for any request).
        let tasks = engine.tasks.clone();
        tasks.spawn(async move { takeover::run(&handler, tcp, rest, t).await });
        return;
    }
    // Boxed: the task is sized before the head says what it is; only HTTP connections pay for the
    // HTTP stack's state.
    Box::pin(http(tcp, peer, head.freeze(), router, &*handler, stop)).await;
}

/// Counts a request head refused by `limit` and answers it with `refusal`.
async fn refuse<D>(
    engine: &Engine<D>,
    tcp: &Stream,
    peer: SocketAddr,
    (limit, refusal): (Limit, Refusal),
    why: &str,
) {
    engine.limits.refuse(limit, Some(peer.ip()), why);
    write_refusal(tcp, refusal).await;
}

/// The TLS handshake, by `deadline`; `None` (the connection closed) when it fails or is late.
async fn handshake<H: Handler>(
    tcp: TcpStream,
    peer: SocketAddr,
    tls: &Arc<tokio_rustls::rustls::ServerConfig>,
    deadline: Instant,
    handler: &H,
) -> Option<Stream> {
    match timeout_at(deadline, TlsAcceptor::from(tls.clone()).accept(tcp)).await {
        Ok(Ok(s)) => {
            let (tcp, conn) = s.into_inner();
            Some(Stream::Tls(Box::new(TlsConn::new(tcp, conn))))
        }
        Ok(Err(e)) => {
            // Plain HTTP to the HTTPS port, a scanner, a client that gave up: nothing to answer.
            handler
                .engine()
                .tls_handshakes_failed
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(peer = %peer, error = %e, "TLS handshake failed: connection closed");
            None
        }
        Err(_) => {
            // A client that never completes its handshake holds nothing longer.
            handler.engine().limits.refuse(
                Limit::HeaderTimeout,
                Some(peer.ip()),
                "no TLS handshake within header_timeout_ms: connection closed",
            );
            None
        }
    }
}

/// The fast path's takeover for a request head, if any.
fn recognize<H: Handler>(
    handler: &H,
    head: &[u8],
    peer: SocketAddr,
) -> Option<takeover::Takeover<H::Data>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let engine = handler.engine();
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => takeover::recognize(
            &req,
            peer.ip(),
            &Accepting {
                origins: &engine.settings.allowed_origins,
                proxies: &engine.settings.trusted_proxies,
                sessions: &engine.sessions,
                new_sessions: handler.accepting(),
            },
        ),
        _ => None,
    }
}

/// Serves the connection with the HTTP stack; `head` is what was already read from it. Requests
/// carry the peer's address as [`ConnectInfo`].
async fn http<H: Handler>(
    tcp: Stream,
    peer: SocketAddr,
    head: Bytes,
    router: Router,
    handler: &H,
    stop: CancellationToken,
) {
    use tower::ServiceExt;
    let io = TokioIo::new(Prefixed::new(tcp, head));
    let service = router.map_request(move |mut req: axum::http::Request<_>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        req
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(handler.engine().settings.header_timeout)
        .max_buf_size(
            handler
                .engine()
                .settings
                .max_header_bytes
                .max(MIN_HTTP_BUFFER),
        )
        .serve_connection(io, TowerToHyperService::new(service))
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::trace!(error = %e, "http connection ended");
            }
            return;
        }
        () = stop.cancelled() => conn.as_mut().graceful_shutdown(),
    }
    let _ = conn.await;
}

/// Reads until `buf` holds a whole request head; its length, or `None` when it grew past
/// `limit` first. An error when the client closed or the socket
/// failed.
async fn read_head(tcp: &Stream, buf: &mut BytesMut, limit: usize) -> io::Result<Option<usize>> {
    let mut scanned = 0;
    loop {
        if let Some(at) = buf
            .get(scanned..)
            .and_then(|b| b.windows(4).position(|w| w == b"\r\n\r\n"))
        {
            return Ok(Some(scanned + at + 4));
        }
        if buf.len() >= limit {
            return Ok(None);
        }
        scanned = buf.len().saturating_sub(3);
        tcp.readable().await?;
        buf.reserve(1024);
        match tcp.try_read_buf(buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

/// Errors about one connection (it was reset before it was accepted): the next accept may succeed.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::config::Rate;
    use crate::fake::Fake;

    const DEADLINE: Duration = Duration::from_secs(10);

    /// The engine served on a loopback port for the fake handler; the stop token ends it.
    async fn start() -> (Arc<Fake>, SocketAddr, CancellationToken) {
        let fake = Fake::new(Rate {
            per_sec: 0,
            burst: 0,
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let h = fake.clone();
        let router = Router::new().route(
            "/socket.io/",
            axum::routing::any(move |req| crate::endpoint::handle(h.clone(), req)),
        );
        let stop = CancellationToken::new();
        tokio::spawn(serve(listener, router, fake.clone(), None, stop.clone()));
        (fake, addr, stop)
    }

    /// Sends one HTTP/1.1 request and returns what the server answers before it closes (a
    /// refused request may be reset once answered).
    async fn exchange(addr: SocketAddr, request: &str) -> String {
        tokio::time::timeout(DEADLINE, async {
            let mut tcp = TcpStream::connect(addr).await.unwrap();
            let _ = tcp.write_all(request.as_bytes()).await;
            let mut out = Vec::new();
            let mut buf = [0u8; 1024];
            while let Ok(n @ 1..) = tcp.read(&mut buf).await {
                out.extend_from_slice(&buf[..n]);
            }
            String::from_utf8(out).unwrap()
        })
        .await
        .expect("a response")
    }

    fn get(path: &str) -> String {
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    }

    #[tokio::test]
    async fn polling_sessions_open_take_messages_and_refuse_unknown_sids() {
        let (fake, addr, stop) = start().await;
        let open = exchange(addr, &get("/socket.io/?EIO=4&transport=polling")).await;
        assert!(open.starts_with("HTTP/1.1 200"), "{open}");
        let body = open.split("\r\n\r\n").nth(1).unwrap();
        assert!(body.starts_with(r#"0{"sid":""#), "{body}");
        assert!(body.contains(r#""upgrades":["websocket"]"#), "{body}");
        let sid = body.split('"').nth(3).unwrap();
        assert_eq!(
            fake.opened.lock().as_slice(),
            [sid],
            "the handler saw it open"
        );

        let post = format!(
            "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\
             Content-Length: 6\r\nConnection: close\r\n\r\n4hello"
        );
        let posted = exchange(addr, &post).await;
        assert!(posted.starts_with("HTTP/1.1 200"), "{posted}");
        assert!(posted.ends_with("ok"), "{posted}");
        assert_eq!(fake.seen.lock().as_slice(), ["hello"]);

        let unknown = exchange(addr, &get("/socket.io/?EIO=4&transport=polling&sid=nope")).await;
        assert!(unknown.starts_with("HTTP/1.1 400"), "{unknown}");
        assert!(
            unknown.ends_with(r#"{"code":1,"message":"Session ID unknown"}"#),
            "{unknown}"
        );
        let version = exchange(addr, &get("/socket.io/?EIO=3&transport=polling")).await;
        assert!(version.ends_with(r#""message":"Unsupported protocol version"}"#));
        stop.cancel();
    }

    #[tokio::test]
    async fn a_websocket_request_is_answered_by_the_fast_path_with_the_open_packet() {
        let (fake, addr, stop) = start().await;
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(
            b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n\
              Upgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .unwrap();
        let mut got = Vec::new();
        tokio::time::timeout(DEADLINE, async {
            // The 101 head and the open packet's text frame come in one write.
            while !got.windows(5).any(|w| w == b"\"sid\"") {
                let mut buf = [0u8; 512];
                let n = tcp.read(&mut buf).await.unwrap();
                assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
                got.extend_from_slice(&buf[..n]);
            }
        })
        .await
        .expect("the open packet");
        let text = String::from_utf8_lossy(&got);
        assert!(
            text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
            "{text}"
        );
        assert!(text.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{text}");
        assert!(text.contains(r#"0{"sid":""#) && text.contains(r#""upgrades":[]"#));
        assert_eq!(fake.opened.lock().len(), 1);
        stop.cancel();
    }

    #[tokio::test]
    async fn a_request_head_over_the_limit_is_answered_431() {
        let (fake, addr, stop) = start().await;
        let limit = fake.engine.settings.max_header_bytes;
        let head = format!(
            "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nX-Big: {}\r\n\r\n",
            "a".repeat(limit)
        );
        let r = exchange(addr, &head).await;
        assert!(
            r.starts_with("HTTP/1.1 431 Request Header Fields Too Large"),
            "{r}"
        );
        assert!(fake.opened.lock().is_empty());
        stop.cancel();
    }
}
