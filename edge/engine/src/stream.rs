//! The byte stream of an edge connection: plain TCP, or TLS over TCP once its handshake is done.
//! It offers the `&self` readiness methods the websocket path uses (any producer writes through a
//! shared `Arc`), and `AsyncRead` / `AsyncWrite` for the HTTP stack. The plain variant only
//! forwards to the socket; the TLS variant encrypts and decrypts in place, holding at most
//! rustls's bounded send buffer of ciphertext the socket did not take yet.

use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::BytesMut;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls::ServerConnection;

/// Most bytes (plaintext queued plus ciphertext not yet sent) a TLS connection holds for writing;
/// a write beyond it takes less (or would block) until the socket drains it.
const TLS_SEND_BUFFER: usize = 64 * 1024;

/// A connection's stream (see the module docs).
pub enum Stream {
    Plain(TcpStream),
    /// Boxed: a plain connection does not pay for the TLS state's size.
    Tls(Box<TlsConn>),
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stream::Plain(s) => f.debug_tuple("Plain").field(s).finish(),
            Stream::Tls(t) => f.debug_tuple("Tls").field(&t.tcp).finish(),
        }
    }
}

impl Stream {
    /// Waits until a read may return something (data, end of stream or an error).
    pub async fn readable(&self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.readable().await,
            Stream::Tls(t) => t.readable().await,
        }
    }

    /// Waits until the socket may take bytes.
    pub async fn writable(&self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.writable().await,
            Stream::Tls(t) => t.tcp.writable().await,
        }
    }

    /// Reads what is available into `buf`'s spare capacity; `Ok(0)` at end of stream,
    /// `WouldBlock` when nothing is.
    pub fn try_read_buf(&self, buf: &mut BytesMut) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.try_read_buf(buf),
            Stream::Tls(t) => t.try_read_buf(buf),
        }
    }

    /// Writes what the stream takes now of `bytes`; `WouldBlock` when it takes nothing.
    pub fn try_write(&self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.try_write(bytes),
            Stream::Tls(t) => t.try_write_with(|w| w.write(bytes)),
        }
    }

    /// [`Stream::try_write`] for several buffers.
    pub fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.try_write_vectored(bufs),
            Stream::Tls(t) => t.try_write_with(|w| w.write_vectored(bufs)),
        }
    }

    /// Sends what a write accepted but the socket did not take yet (TLS only): `Ok(true)` once
    /// nothing is held, `Ok(false)` when the socket is full.
    pub fn flush_held(&self) -> io::Result<bool> {
        match self {
            Stream::Plain(_) => Ok(true),
            Stream::Tls(t) => flush(&mut t.conn.lock(), &t.tcp),
        }
    }

    /// Whether bytes accepted by a write still wait to be sent (TLS only).
    pub fn holds_unsent(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Tls(t) => t.conn.lock().wants_write(),
        }
    }
}

/// A TLS connection after its handshake: the socket and the rustls state, used from any task.
pub struct TlsConn {
    tcp: TcpStream,
    conn: Mutex<ServerConnection>,
}

impl TlsConn {
    /// A connection whose handshake is complete.
    pub fn new(tcp: TcpStream, mut conn: ServerConnection) -> Self {
        conn.set_buffer_limit(Some(TLS_SEND_BUFFER));
        TlsConn {
            tcp,
            conn: Mutex::new(conn),
        }
    }

    /// Plaintext already decrypted (or the peer's close) is readable without the socket. A broken
    /// TLS stream is an error here, so that a reader never waits on it again.
    async fn readable(&self) -> io::Result<()> {
        let state = self
            .conn
            .lock()
            .process_new_packets()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        if state.plaintext_bytes_to_read() > 0 || state.peer_has_closed() {
            return Ok(());
        }
        self.tcp.readable().await
    }

    /// Decrypted bytes into `out`, reading records from the socket while none are buffered.
    fn try_read(&self, out: &mut [u8]) -> io::Result<usize> {
        let mut c = self.conn.lock();
        loop {
            match c.reader().read(out) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if c.read_tls(&mut Tcp(&self.tcp))? == 0 {
                return Ok(0);
            }
            if let Err(e) = c.process_new_packets() {
                // The alert saying why goes out if the socket takes it.
                let _ = flush(&mut c, &self.tcp);
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
        }
    }

    fn try_read_buf(&self, buf: &mut BytesMut) -> io::Result<usize> {
        let start = buf.len();
        buf.resize(buf.capacity().max(start + 1), 0);
        let r = self.try_read(buf.get_mut(start..).unwrap_or_default());
        buf.truncate(start + r.as_ref().map_or(0, |n| *n));
        r
    }

    /// Sends held ciphertext, hands plaintext to rustls with `write` (as much as its buffer
    /// takes) and sends what the socket takes of it.
    fn try_write_with(
        &self,
        write: impl FnOnce(&mut dyn Write) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let mut c = self.conn.lock();
        flush(&mut c, &self.tcp)?;
        let n = write(&mut c.writer())?;
        flush(&mut c, &self.tcp)?;
        if n == 0 {
            // The buffer is full and the socket took none of it: its readiness is cleared.
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            match self.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ready!(self.tcp.poll_read_ready(cx))?;
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn poll_write_with(
        &self,
        cx: &mut Context<'_>,
        write: impl Fn(&mut dyn Write) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            match self.try_write_with(&write) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ready!(self.tcp.poll_write_ready(cx))?;
                }
                r => return Poll::Ready(r),
            }
        }
    }

    fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !flush(&mut self.conn.lock(), &self.tcp)? {
            ready!(self.tcp.poll_write_ready(cx))?;
        }
        Poll::Ready(Ok(()))
    }
}

/// Writes rustls's pending ciphertext to the socket: `Ok(true)` once none is left.
fn flush(c: &mut ServerConnection, tcp: &TcpStream) -> io::Result<bool> {
    while c.wants_write() {
        match c.write_tls(&mut Tcp(tcp)) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// The socket as blocking-style I/O for rustls: reads and writes that never wait.
struct Tcp<'a>(&'a TcpStream);

impl Read for Tcp<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

impl Write for Tcp<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.0.try_write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(t) => t.poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(t) => t.poll_write_with(cx, |w| w.write(buf)),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(t) => t.poll_write_with(cx, |w| w.write_vectored(bufs)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(_) => true,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(t) => t.poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(t) => {
                // Sent once: rustls ignores a second call.
                t.conn.lock().send_close_notify();
                ready!(t.poll_flush(cx))?;
                Pin::new(&mut t.tcp).poll_shutdown(cx)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};
    use tokio_rustls::rustls::crypto::ring;
    use tokio_rustls::rustls::pki_types::ServerName;
    use tokio_rustls::rustls::{ClientConfig, RootCertStore};
    use tokio_rustls::{TlsAcceptor, TlsConnector};

    use super::{Stream, TlsConn};
    use crate::sink::{Sink, Written};
    use crate::tls::ServerTls;

    /// The edge's side of a TLS connection (as the edge holds it after the handshake) and a client.
    async fn tls_pair() -> (Arc<Stream>, tokio_rustls::client::TlsStream<TcpStream>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let edge =
            ServerTls::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes()).unwrap();
        let mut roots = RootCertStore::empty();
        roots.add(cert.der().clone()).unwrap();
        let client = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connect = async {
            let tcp = TcpStream::connect(addr).await.unwrap();
            TlsConnector::from(Arc::new(client))
                .connect(ServerName::try_from("localhost").unwrap(), tcp)
                .await
                .unwrap()
        };
        let accept = async {
            let (tcp, _) = listener.accept().await.unwrap();
            let tls = TlsAcceptor::from(edge.0.clone()).accept(tcp).await.unwrap();
            let (tcp, conn) = tls.into_inner();
            Arc::new(Stream::Tls(Box::new(TlsConn::new(tcp, conn))))
        };
        let (client, server) = tokio::join!(connect, accept);
        (server, client)
    }

    #[tokio::test]
    async fn a_tls_sink_is_never_done_while_ciphertext_waits_and_delivers_every_byte_in_order() {
        let (stream, mut client) = tls_pair().await;
        let mut sink = Sink::new(stream.clone());
        // The client reads nothing: writes fill the socket, then rustls's send buffer.
        let mut sent = Vec::new();
        for i in 0usize.. {
            assert!(i < 100_000, "the socket never filled");
            let chunk: Vec<u8> = (0..16 * 1024).map(|k| ((i * 31 + k) % 251) as u8).collect();
            sent.extend_from_slice(&chunk);
            match sink.write(Bytes::from(chunk), 1) {
                Written::Done => assert!(
                    !stream.holds_unsent(),
                    "a write reported done while its ciphertext waits"
                ),
                Written::Waiting => break,
                Written::Failed => panic!("the write failed"),
            }
        }
        assert!(
            sink.waiting() > 0 || stream.holds_unsent(),
            "something waits for the flusher"
        );
        let expected = sent.len();
        let reader = tokio::spawn(async move {
            let mut got = vec![0u8; expected];
            client.read_exact(&mut got).await.unwrap();
            got
        });
        // The flusher's loop: whatever waits (in the sink or inside TLS) goes out as the socket drains.
        while !sink.flush_some().unwrap() {
            stream.writable().await.unwrap();
        }
        assert!(!stream.holds_unsent());
        let got = tokio::time::timeout(std::time::Duration::from_secs(30), reader)
            .await
            .expect("the client reads everything")
            .unwrap();
        assert!(got == sent, "every byte, in order");
    }
}
