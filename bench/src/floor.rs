//! The "floor" peer: the least a Socket.IO broadcaster can do on tokio + tokio-tungstenite. It accepts the
//! Engine.IO WebSocket handshake and CONNECT (no token check), joins rooms with an ack, relays `chat`
//! packets as received, and on `POST /emit?room=R&event=E` encodes the frame once and hands the same
//! message to every member's bounded queue.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use crate::ws::head_end;

/// Frames queued per socket; beyond it frames are dropped (the generator counts them lost).
const QUEUE: usize = 1024;

type Members = Vec<(u64, mpsc::Sender<Message>)>;

#[derive(Default)]
struct Hub {
    rooms: Mutex<HashMap<String, Members>>,
    next_id: AtomicU64,
}

impl Hub {
    fn join(&self, room: &str, id: u64, tx: &mpsc::Sender<Message>) {
        let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        let members = rooms.entry(room.to_owned()).or_default();
        if !members.iter().any(|(m, _)| *m == id) {
            members.push((id, tx.clone()));
        }
    }

    fn leave_all(&self, id: u64, joined: &[String]) {
        let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        for room in joined {
            if let Some(m) = rooms.get_mut(room) {
                m.retain(|(x, _)| *x != id);
                if m.is_empty() {
                    rooms.remove(room);
                }
            }
        }
    }

    fn send(&self, room: &str, except: u64, msg: &Message) -> usize {
        let rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        let mut n = 0;
        if let Some(members) = rooms.get(room) {
            for (id, tx) in members {
                if *id != except && tx.try_send(msg.clone()).is_ok() {
                    n += 1;
                }
            }
        }
        n
    }
}

/// Runs the floor on `127.0.0.1:port` until the process is killed; prints `listening on ADDR`.
pub async fn serve(port: u16) -> anyhow::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    let hub = Arc::new(Hub::default());
    loop {
        let (stream, _) = listener.accept().await?;
        let hub = hub.clone();
        tokio::spawn(async move {
            let _ = conn(stream, hub).await;
        });
    }
}

async fn conn(mut stream: TcpStream, hub: Arc<Hub>) -> anyhow::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(1024);
    loop {
        let end = loop {
            if let Some(end) = head_end(&buf) {
                break end;
            }
            if buf.len() > 16384 || stream.read_buf(&mut buf).await? == 0 {
                return Ok(());
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let first = head.lines().next().unwrap_or("").to_owned();
        if first.starts_with("GET /socket.io/") {
            let key = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case("sec-websocket-key")
                        .then(|| v.trim().to_owned())
                })
                .unwrap_or_default();
            let resp = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {}\r\n\r\n",
                derive_accept_key(key.as_bytes())
            );
            stream.write_all(resp.as_bytes()).await?;
            let cfg = WebSocketConfig::default()
                .read_buffer_size(4096)
                .write_buffer_size(4096);
            let ws = WebSocketStream::from_raw_socket(stream, Role::Server, Some(cfg)).await;
            return socket(ws, hub).await;
        }
        if first.starts_with("POST /emit") {
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            while buf.len() < end + len {
                if stream.read_buf(&mut buf).await? == 0 {
                    return Ok(());
                }
            }
            let query = first.split_whitespace().nth(1).unwrap_or("");
            let param = |name: &str| {
                query
                    .split(['?', '&'])
                    .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                    .unwrap_or("")
                    .to_owned()
            };
            let (room, event) = (param("room"), param("event"));
            let body = String::from_utf8_lossy(&buf[end..end + len]);
            let msg = Message::text(format!("42[\"{event}\",{body}]"));
            hub.send(&room, u64::MAX, &msg);
            buf.drain(..end + len);
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await?;
            continue;
        }
        stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await?;
        return Ok(());
    }
}

async fn socket(mut ws: WebSocketStream<TcpStream>, hub: Arc<Hub>) -> anyhow::Result<()> {
    let id = hub.next_id.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::channel::<Message>(QUEUE);
    let mut joined: Vec<String> = Vec::new();
    ws.send(Message::text(format!(
        "0{{\"sid\":\"f{id}\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}}"
    )))
    .await?;
    let result = async {
        loop {
            tokio::select! {
                m = rx.recv() => {
                    let Some(m) = m else { break };
                    ws.feed(m).await?;
                    while let Ok(m) = rx.try_recv() {
                        ws.feed(m).await?;
                    }
                    ws.flush().await?;
                }
                incoming = ws.next() => {
                    let text = match incoming {
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                        Some(Ok(_)) => continue,
                    };
                    let s = text.as_str();
                    if s.starts_with("40") {
                        ws.send(Message::text(format!("40{{\"sid\":\"f{id}\"}}"))).await?;
                    } else if let Some(rest) = s.strip_prefix("42") {
                        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                        let (ack, args) = rest.split_at(digits);
                        if args.starts_with("[\"join\"") {
                            let room = serde_json::from_str::<(String, String)>(args).map(|x| x.1).unwrap_or_default();
                            hub.join(&room, id, &tx);
                            joined.push(room);
                            if !ack.is_empty() {
                                ws.send(Message::text(format!("43{ack}[{{\"ok\":true}}]"))).await?;
                            }
                        } else if let Some(room) = args
                            .starts_with("[\"chat\"")
                            .then(|| room_of(args))
                            .flatten()
                            .filter(|room| joined.iter().any(|r| r == room))
                        {
                            hub.send(room, id, &Message::Text(text.clone()));
                        }
                    }
                }
            }
        }
        anyhow::Ok(())
    }
    .await;
    hub.leave_all(id, &joined);
    result
}

fn room_of(args: &str) -> Option<&str> {
    let at = args.find("\"room\":\"")? + 8;
    let len = args[at..].find('"')?;
    Some(&args[at..at + len])
}
