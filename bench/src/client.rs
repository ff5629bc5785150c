//! One simulated Socket.IO client on the generator's single thread: WebSocket upgrade, Engine.IO open,
//! CONNECT with a token, an optional room join (with ack), then ping answers, event counting with
//! latency from the payload's timestamp, and chat sends at a fixed period when told to.

use std::cell::{Cell, RefCell};
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, mpsc, watch};

use crate::payload::{chat_packet, field_u64, now_us};
use crate::ws;

/// Largest frame a client accepts.
const MAX_FRAME: usize = 1 << 20;
/// Longest a handshake (upgrade + open + CONNECT + join) may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);
/// Latency histogram ceiling, microseconds.
pub const HIST_MAX_US: u64 = 120_000_000;

/// Counters shared by every client of the generator (one thread, so plain cells).
pub struct Stats {
    /// Events whose `r` equals this are counted; others are stale.
    pub run: Cell<u64>,
    pub received: Cell<u64>,
    pub stale: Cell<u64>,
    pub last_rx_us: Cell<u64>,
    pub hist: RefCell<Histogram<u64>>,
    /// Chat packets written by clients in the current run.
    pub sent: Cell<u64>,
    /// Clients whose connection ended before they were told to close.
    pub dropped: Cell<u64>,
}

impl Stats {
    pub fn new() -> anyhow::Result<Rc<Self>> {
        Ok(Rc::new(Self {
            run: Cell::new(0),
            received: Cell::new(0),
            stale: Cell::new(0),
            last_rx_us: Cell::new(0),
            hist: RefCell::new(Histogram::new_with_bounds(1, HIST_MAX_US, 3)?),
            sent: Cell::new(0),
            dropped: Cell::new(0),
        }))
    }

    /// Starts counting events of `run` from zero.
    pub fn begin(&self, run: u64) {
        self.run.set(run);
        self.received.set(0);
        self.stale.set(0);
        self.sent.set(0);
        self.last_rx_us.set(0);
        self.hist.borrow_mut().reset();
    }

    fn on_event(&self, payload: &[u8]) {
        let Some(r) = field_u64(payload, b"\"r\":") else {
            return;
        };
        if r != self.run.get() {
            self.stale.set(self.stale.get() + 1);
            return;
        }
        self.received.set(self.received.get() + 1);
        let now = now_us();
        self.last_rx_us.set(now);
        if let Some(t) = field_u64(payload, b"\"t\":") {
            let lat = now.saturating_sub(t).clamp(1, HIST_MAX_US);
            // Within bounds by the clamp, so recording cannot fail.
            let _ = self.hist.borrow_mut().record(lat);
        }
    }
}

/// What every client of a group should be doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Listen,
    /// Send a chat packet of run `run` to the own room every `period_us`.
    Chat {
        run: u64,
        period_us: u64,
    },
    Close,
}

/// Who a client is.
pub struct Spec {
    pub addr: SocketAddr,
    /// Local address to bind (spread over 127.0.0.0/8 to avoid running out of ports).
    pub bind: IpAddr,
    pub token: String,
    /// Room to join after CONNECT (and to chat to).
    pub room: Option<String>,
    pub index: u64,
}

/// Runs one client until told to close or the server drops it. Reports once on `ready`:
/// the handshake time in microseconds, or why it failed.
pub async fn run(
    spec: Spec,
    stats: Rc<Stats>,
    mut mode: watch::Receiver<Mode>,
    ready: mpsc::Sender<Result<u64, String>>,
    permit: Option<OwnedSemaphorePermit>,
) {
    let mut buf = BytesMut::with_capacity(2048);
    let mask = [(spec.index as u8) | 1, 0x5a, (spec.index >> 8) as u8, 0xc3];
    let started = Instant::now();
    let stage = Cell::new("tcp connect");
    let hs =
        tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&spec, &mut buf, mask, &stage)).await;
    drop(permit);
    let mut stream = match hs {
        Ok(Ok(s)) => {
            let _ = ready.send(Ok(started.elapsed().as_micros() as u64)).await;
            s
        }
        Ok(Err(e)) => {
            let _ = ready.send(Err(e)).await;
            return;
        }
        Err(_) => {
            let _ = ready
                .send(Err(format!(
                    "handshake timeout waiting for {}",
                    stage.get()
                )))
                .await;
            return;
        }
    };
    drop(ready);
    let mut out = Vec::with_capacity(256);
    let mut ticker: Option<tokio::time::Interval> = None;
    let mut chat_run = 0;
    loop {
        tokio::select! {
            r = stream.read_buf(&mut buf) => {
                match r {
                    Ok(n) if n > 0 => {}
                    _ => { stats.dropped.set(stats.dropped.get() + 1); return; }
                }
                if on_bytes(&mut buf, &stats, &mut out, mask).is_err()
                    || (!out.is_empty() && stream.write_all(&out).await.is_err())
                {
                    stats.dropped.set(stats.dropped.get() + 1);
                    return;
                }
                out.clear();
                if buf.is_empty() && buf.capacity() > 65536 {
                    buf = BytesMut::with_capacity(2048);
                } else if buf.capacity() - buf.len() < 512 {
                    buf.reserve(2048);
                }
            }
            changed = mode.changed() => {
                let m = if changed.is_err() { Mode::Close } else { *mode.borrow_and_update() };
                match m {
                    Mode::Close => break,
                    Mode::Listen => ticker = None,
                    Mode::Chat { run, period_us } => {
                        chat_run = run;
                        let period = Duration::from_micros(period_us.max(1));
                        let offset = Duration::from_micros((spec.index * 7919) % period_us.max(1));
                        ticker = Some(tokio::time::interval_at(tokio::time::Instant::now() + offset, period));
                    }
                }
            }
            _ = async { if let Some(t) = ticker.as_mut() { t.tick().await; } }, if ticker.is_some() => {
                if let Some(room) = &spec.room {
                    let pkt = chat_packet(room, chat_run, now_us());
                    ws::encode_masked(&mut out, ws::OP_TEXT, pkt.as_bytes(), mask);
                    if stream.write_all(&out).await.is_err() {
                        stats.dropped.set(stats.dropped.get() + 1);
                        return;
                    }
                    out.clear();
                    stats.sent.set(stats.sent.get() + 1);
                }
            }
        }
    }
    // Reset instead of TIME_WAIT: the benchmark opens many thousands of connections per run.
    let _ = stream.set_zero_linger();
}

/// Handles every complete frame in `buf`; replies (pongs) go to `out`.
fn on_bytes(buf: &mut BytesMut, stats: &Stats, out: &mut Vec<u8>, mask: [u8; 4]) -> Result<(), ()> {
    loop {
        let frame = match ws::parse(&mut buf[..], MAX_FRAME) {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(()),
            Err(_) => return Err(()),
        };
        let p = &buf[frame.payload.clone()];
        match frame.opcode {
            ws::OP_TEXT => {
                if p.starts_with(b"42") {
                    stats.on_event(p);
                } else if p == b"2" {
                    ws::encode_masked(out, ws::OP_TEXT, b"3", mask);
                } else if p.starts_with(b"1") || p.starts_with(b"41") {
                    return Err(());
                }
            }
            ws::OP_PING => {
                let p = p.to_vec();
                ws::encode_masked(out, ws::OP_PONG, &p, mask);
            }
            ws::OP_CLOSE => return Err(()),
            _ => {}
        }
        buf.advance(frame.len);
    }
}

async fn handshake(
    spec: &Spec,
    buf: &mut BytesMut,
    mask: [u8; 4],
    stage: &Cell<&'static str>,
) -> Result<TcpStream, String> {
    let e = |what: &str, err: std::io::Error| format!("{what}: {err}");
    let sock = TcpSocket::new_v4().map_err(|x| e("socket", x))?;
    sock.bind(SocketAddr::new(spec.bind, 0))
        .map_err(|x| e("bind", x))?;
    let mut s = sock.connect(spec.addr).await.map_err(|x| e("connect", x))?;
    s.set_nodelay(true).map_err(|x| e("nodelay", x))?;
    stage.set("upgrade response");
    let host = spec.addr.to_string();
    s.write_all(ws::upgrade_request(&host).as_bytes())
        .await
        .map_err(|x| e("write", x))?;
    loop {
        if s.read_buf(buf).await.map_err(|x| e("read", x))? == 0 {
            return Err("closed during upgrade".into());
        }
        if let Some(end) = ws::head_end(buf) {
            if !buf.starts_with(b"HTTP/1.1 101") {
                let line = String::from_utf8_lossy(&buf[..end.min(80)]).into_owned();
                return Err(format!(
                    "upgrade refused: {}",
                    line.lines().next().unwrap_or("")
                ));
            }
            buf.advance(end);
            break;
        }
        if buf.len() > 16384 {
            return Err("oversized upgrade response".into());
        }
    }
    stage.set("engine.io open");
    let open = next_text(&mut s, buf, mask).await?;
    if !open.starts_with(b"0") {
        return Err(format!("expected Engine.IO open, got {}", show(&open)));
    }
    let connect = format!("40{{\"token\":\"{}\"}}", spec.token);
    stage.set("connect reply");
    send_text(&mut s, connect.as_bytes(), mask).await?;
    loop {
        let reply = next_text(&mut s, buf, mask).await?;
        if reply.starts_with(b"40") {
            break;
        }
        if reply.starts_with(b"44") {
            return Err(format!("connect refused: {}", show(&reply)));
        }
    }
    if let Some(room) = &spec.room {
        let join = format!("420[\"join\",\"{room}\"]");
        stage.set("join ack");
        send_text(&mut s, join.as_bytes(), mask).await?;
        loop {
            let reply = next_text(&mut s, buf, mask).await?;
            if reply.starts_with(b"430") {
                if field_ok(&reply) {
                    break;
                }
                return Err(format!("join refused: {}", show(&reply)));
            }
        }
    }
    Ok(s)
}

fn field_ok(reply: &[u8]) -> bool {
    reply.windows(9).any(|w| w == b"\"ok\":true")
}

fn show(p: &[u8]) -> String {
    String::from_utf8_lossy(&p[..p.len().min(120)]).into_owned()
}

async fn send_text(s: &mut TcpStream, payload: &[u8], mask: [u8; 4]) -> Result<(), String> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    ws::encode_masked(&mut out, ws::OP_TEXT, payload, mask);
    s.write_all(&out).await.map_err(|x| format!("write: {x}"))
}

/// The next text message that is not an Engine.IO ping (pings are answered).
async fn next_text(
    s: &mut TcpStream,
    buf: &mut BytesMut,
    mask: [u8; 4],
) -> Result<Vec<u8>, String> {
    loop {
        match ws::parse(&mut buf[..], MAX_FRAME) {
            Ok(Some(f)) => {
                let p = buf[f.payload.clone()].to_vec();
                let op = f.opcode;
                buf.advance(f.len);
                match op {
                    ws::OP_TEXT if p == b"2" => send_text(s, b"3", mask).await?,
                    ws::OP_TEXT => return Ok(p),
                    ws::OP_CLOSE => return Err("closed by server".into()),
                    _ => {}
                }
                continue;
            }
            Ok(None) => {}
            Err(err) => return Err(err.to_string()),
        }
        buf.reserve(2048);
        if s.read_buf(buf).await.map_err(|x| format!("read: {x}"))? == 0 {
            return Err("closed by server".into());
        }
    }
}
