//! How the emitter asks a system under test to broadcast: Herald through its typed gRPC client (`Emit`),
//! the peers through `POST /emit?room=R&event=E` with the event's JSON body on a keep-alive HTTP/1.1
//! connection. A pool of workers on the generator thread sends open-loop jobs.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::ws::head_end;

/// Where a system takes emit triggers.
#[derive(Clone, Debug)]
pub enum Target {
    Herald { url: String, service_token: String },
    Http { addr: SocketAddr },
}

/// One emit to perform.
pub struct Job {
    pub room: Rc<str>,
    pub body: String,
}

/// Emit outcome counters.
#[derive(Default)]
pub struct EmitStats {
    pub ok: Cell<u64>,
    pub failed: Cell<u64>,
    /// Open-loop jobs skipped because every worker's queue was full.
    pub skipped: Cell<u64>,
    pub in_flight: Cell<u64>,
}

enum Conn {
    Herald(herald_client::Client),
    Http(HttpConn),
}

impl Conn {
    async fn open(target: &Target) -> anyhow::Result<Self> {
        Ok(match target {
            Target::Herald { url, service_token } => Conn::Herald(
                herald_client::Client::connect(url, service_token)
                    .await
                    .context("herald gRPC connect")?,
            ),
            Target::Http { addr } => Conn::Http(HttpConn::open(*addr).await?),
        })
    }

    async fn emit(&mut self, job: &Job) -> anyhow::Result<()> {
        match self {
            Conn::Herald(c) => {
                c.emit("bench")
                    .to(&format!("room:{}", job.room))
                    .raw_json(job.body.clone())
                    .send()
                    .await?;
                Ok(())
            }
            Conn::Http(c) => c.post(&job.room, &job.body).await,
        }
    }
}

/// A keep-alive HTTP/1.1 connection to a peer's trigger endpoint; reconnects once on failure.
struct HttpConn {
    addr: SocketAddr,
    stream: TcpStream,
    buf: BytesMut,
}

impl HttpConn {
    async fn open(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr).await.context("trigger connect")?;
        stream.set_nodelay(true)?;
        Ok(Self {
            addr,
            stream,
            buf: BytesMut::with_capacity(1024),
        })
    }

    async fn post(&mut self, room: &str, body: &str) -> anyhow::Result<()> {
        match self.post_once(room, body).await {
            Ok(()) => Ok(()),
            Err(_) => {
                *self = Self::open(self.addr).await?;
                self.post_once(room, body).await
            }
        }
    }

    async fn post_once(&mut self, room: &str, body: &str) -> anyhow::Result<()> {
        let req = format!(
            "POST /emit?room={room}&event=bench HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        self.stream.write_all(req.as_bytes()).await?;
        loop {
            if let Some(end) = head_end(&self.buf) {
                let head = std::str::from_utf8(&self.buf[..end])?.to_ascii_lowercase();
                let ok = head.starts_with("http/1.1 2");
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while self.buf.len() < end + len {
                    if self.stream.read_buf(&mut self.buf).await? == 0 {
                        bail!("trigger closed");
                    }
                }
                self.buf.advance(end + len);
                if !ok {
                    bail!("trigger answered {}", head.lines().next().unwrap_or(""));
                }
                return Ok(());
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                bail!("trigger closed");
            }
        }
    }
}

/// A pool of emit workers; `submit` never waits (open loop).
pub struct Pool {
    senders: Vec<mpsc::Sender<Job>>,
    next: usize,
    pub stats: Rc<EmitStats>,
}

impl Pool {
    /// Opens `workers` connections to `target` and starts one worker task per connection.
    pub async fn start(target: &Target, workers: usize) -> anyhow::Result<Self> {
        let stats = Rc::new(EmitStats::default());
        let mut senders = Vec::with_capacity(workers);
        for _ in 0..workers {
            let mut conn = Conn::open(target).await?;
            let (tx, mut rx) = mpsc::channel::<Job>(64);
            let st = stats.clone();
            tokio::task::spawn_local(async move {
                while let Some(job) = rx.recv().await {
                    let r = tokio::time::timeout(Duration::from_secs(10), conn.emit(&job)).await;
                    match r {
                        Ok(Ok(())) => st.ok.set(st.ok.get() + 1),
                        _ => st.failed.set(st.failed.get() + 1),
                    }
                    st.in_flight.set(st.in_flight.get().saturating_sub(1));
                }
            });
            senders.push(tx);
        }
        Ok(Self {
            senders,
            next: 0,
            stats,
        })
    }

    /// Hands a job to the next worker with room in its queue; counts it skipped when none has.
    pub fn submit(&mut self, job: Job) {
        let n = self.senders.len();
        let mut job = job;
        for _ in 0..n {
            let i = self.next;
            self.next = (self.next + 1) % n;
            match self.senders[i].try_send(job) {
                Ok(()) => {
                    self.stats.in_flight.set(self.stats.in_flight.get() + 1);
                    return;
                }
                Err(mpsc::error::TrySendError::Full(j))
                | Err(mpsc::error::TrySendError::Closed(j)) => job = j,
            }
        }
        self.stats.skipped.set(self.stats.skipped.get() + 1);
    }

    /// Resets the counters for a new phase.
    pub fn reset(&self) {
        self.stats.ok.set(0);
        self.stats.failed.set(0);
        self.stats.skipped.set(0);
    }
}
