//! Test harness: a fake core (tonic EdgeService answering Applied, with scripted handler replies for
//! forwards and relays; HeraldService Emit and Stats), an edge on port 0, and hand-written
//! Engine.IO / Socket.IO clients over websocket and raw HTTP.
//!
//! Scripted handler replies of the fake core (ClientEventForward with a request_id):
//! - `$connect`: refused with "not welcome" when the claims' sub is "intruder", else
//!   `{"rooms":["from-connect"],"data":{"tier":"gold"}}`;
//! - `$join`: allowed when the room starts with "ok:", else "join refused by handler";
//! - `fail`: "no handler for fail";
//! - anything else (echo): `[{"user":..,"claims":<claims_json>,"data":<data_json>}, ...the args]`.
//!
//! RelayEvent: refused with "relay refused by core" for room "core-refuses-relay".
//!
//! Recovery: `SessionLookup` answers the sessions scripted with [`FakeCore::save_session`] (once,
//! only to the same user, else "session not found"); a resuming `ConnectionOpened` (non-empty
//! `resume_offset`) first gets the scripted live deliveries, then `Applied` with the scripted
//! replay or error ([`FakeCore::script_resume`]; unscripted: an empty replay). A fresh
//! `ConnectionOpened` of a user scripted with [`FakeCore::script_open`] first gets the scripted live
//! deliveries, then `Applied` with the scripted `floor_seq`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, Stream, StreamExt};
use herald_auth::{AuthConfig, MintOptions, Verifier, mint_hs256};
use herald_edge::{EdgeConfig, NamespaceConfig};
use herald_proto::v1::edge_service_server::{EdgeService, EdgeServiceServer};
use herald_proto::v1::{
    Applied, Arg, ClientEventForward, Delivery, DeliveryClass, Event, LinkRequest, LinkResponse,
    LinkWelcome, SavedSession, arg, link_request, link_response,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tokio_tungstenite::tungstenite::Message;
use tonic::{Request, Response, Status, Streaming};

pub const SECRET: &str = "test-secret";
pub const SERVICE_TOKEN: &str = "svc-token";
/// Hang guard for every wait.
pub const WAIT: Duration = Duration::from_secs(10);

/// The response channel of the current link, if any.
type CurrentLink = Arc<Mutex<Option<mpsc::Sender<Result<LinkResponse, Status>>>>>;

/// How the fake core answers a resuming `ConnectionOpened`.
#[derive(Debug, Clone, Default)]
pub struct ResumeScript {
    /// Delivered before the `Applied` (live events the edge must hold back).
    pub live_first: Vec<Event>,
    /// `Applied.replay`.
    pub replay: Vec<Event>,
    /// `Applied.error` when set.
    pub error: Option<String>,
    /// `Applied.floor_seq`.
    pub floor_seq: u64,
}

/// How the fake core answers a fresh `ConnectionOpened` of a user.
#[derive(Debug, Clone, Default)]
pub struct OpenScript {
    /// Delivered before the `Applied`.
    pub live_first: Vec<Event>,
    /// `Applied.floor_seq`.
    pub floor_seq: u64,
}

#[derive(Debug, Default)]
struct Script {
    /// pid -> (user, session).
    sessions: HashMap<String, (String, SavedSession)>,
    /// connection id -> how to answer its resume.
    resumes: HashMap<String, ResumeScript>,
    /// user id -> how to answer its next fresh connection.
    opens: HashMap<String, OpenScript>,
}

type SharedScript = Arc<std::sync::Mutex<Script>>;

#[derive(Clone)]
struct FakeCoreSvc {
    seen: mpsc::Sender<LinkRequest>,
    out: CurrentLink,
    script: SharedScript,
}

/// The fake core's answer to a lookup or a resume, if the message is one.
fn recovery_reply(script: &SharedScript, m: &LinkRequest) -> Option<(Vec<Event>, Applied)> {
    let mut script = script.lock().unwrap();
    match &m.msg {
        Some(link_request::Msg::Lookup(l)) => {
            let found = match script.sessions.remove(&l.pid) {
                Some((user, s)) if user == l.user_id => Some(s),
                _ => None,
            };
            Some((
                Vec::new(),
                Applied {
                    request_id: m.request_id,
                    error: if found.is_some() {
                        String::new()
                    } else {
                        "session not found".into()
                    },
                    session: found,
                    ..Default::default()
                },
            ))
        }
        Some(link_request::Msg::Opened(o)) if !o.resume_offset.is_empty() => {
            let r = script.resumes.remove(&o.connection_id).unwrap_or_default();
            Some((
                r.live_first,
                Applied {
                    request_id: m.request_id,
                    error: r.error.unwrap_or_default(),
                    replay: r.replay,
                    floor_seq: r.floor_seq,
                    ..Default::default()
                },
            ))
        }
        Some(link_request::Msg::Opened(o)) => {
            let r = script.opens.remove(&o.user_id)?;
            Some((
                r.live_first,
                Applied {
                    request_id: m.request_id,
                    floor_seq: r.floor_seq,
                    ..Default::default()
                },
            ))
        }
        _ => None,
    }
}

#[tonic::async_trait]
impl EdgeService for FakeCoreSvc {
    type LinkStream = Pin<Box<dyn Stream<Item = Result<LinkResponse, Status>> + Send>>;

    async fn link(
        &self,
        req: Request<Streaming<LinkRequest>>,
    ) -> Result<Response<Self::LinkStream>, Status> {
        let auth = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if auth != Some(&format!("Bearer {SERVICE_TOKEN}")) {
            return Err(Status::unauthenticated("bad service token"));
        }
        let mut inbound = req.into_inner();
        let (tx, rx) = mpsc::channel(1024);
        *self.out.lock().await = Some(tx.clone());
        let seen = self.seen.clone();
        let script = self.script.clone();
        tokio::spawn(async move {
            while let Ok(Some(m)) = inbound.message().await {
                if m.request_id != 0
                    && let Some((live, applied)) = recovery_reply(&script, &m)
                {
                    let _ = seen.send(m).await;
                    for event in live {
                        let d = link_response::Msg::Delivery(Delivery {
                            event: Some(event),
                            ack_ref: 0,
                        });
                        let _ = tx.send(Ok(LinkResponse { msg: Some(d) })).await;
                    }
                    let a = link_response::Msg::Applied(applied);
                    if tx.send(Ok(LinkResponse { msg: Some(a) })).await.is_err() {
                        break;
                    }
                    continue;
                }
                let reply = match &m.msg {
                    Some(link_request::Msg::Hello(_)) => {
                        Some(link_response::Msg::Welcome(LinkWelcome {
                            link_id: "l1".into(),
                            // The epoch of the offsets `event` gives.
                            broker_epoch: "ep".into(),
                        }))
                    }
                    _ if m.request_id != 0 => {
                        let (error, args) = match &m.msg {
                            Some(link_request::Msg::Join(j)) if j.room == "core-refuses" => {
                                ("refused by core".into(), Vec::new())
                            }
                            Some(link_request::Msg::Relay(r)) if r.room == "core-refuses-relay" => {
                                ("relay refused by core".into(), Vec::new())
                            }
                            Some(link_request::Msg::Forward(f)) => handler_reply(f),
                            _ => (String::new(), Vec::new()),
                        };
                        Some(link_response::Msg::Applied(Applied {
                            request_id: m.request_id,
                            error,
                            args,
                            ..Default::default()
                        }))
                    }
                    _ => None,
                };
                // Record before answering so a test that saw the answer also sees the request.
                let _ = seen.send(m).await;
                if let Some(r) = reply
                    && tx.send(Ok(LinkResponse { msg: Some(r) })).await.is_err()
                {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

fn parse_or_null(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or(serde_json::Value::Null)
}

/// The scripted handlers of the fake core (see the module docs).
fn handler_reply(f: &ClientEventForward) -> (String, Vec<Arg>) {
    let claims = parse_or_null(&f.claims_json);
    match f.event.as_str() {
        "$connect" if claims["sub"] == "intruder" => ("not welcome".into(), Vec::new()),
        "$connect" => (
            String::new(),
            vec![json(r#"{"rooms":["from-connect"],"data":{"tier":"gold"}}"#)],
        ),
        "$join" if f.room.starts_with("ok:") => (String::new(), Vec::new()),
        "$join" => ("join refused by handler".into(), Vec::new()),
        "fail" => ("no handler for fail".into(), Vec::new()),
        _ => {
            let head = serde_json::json!({
                "user": f.user_id,
                "claims": claims,
                "data": parse_or_null(&f.data_json),
            });
            let mut args = vec![json(&head.to_string())];
            args.extend(f.args.iter().cloned());
            (String::new(), args)
        }
    }
}

#[derive(Clone)]
struct FakeHerald;

type Unary<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl herald_proto::v1::herald_service_server::HeraldService for FakeHerald {
    type SubscribeStream =
        Pin<Box<dyn Stream<Item = Result<herald_proto::v1::SubscribeResponse, Status>> + Send>>;

    async fn emit(
        &self,
        req: Request<herald_proto::v1::EmitRequest>,
    ) -> Result<Response<herald_proto::v1::EmitResponse>, Status> {
        let auth = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if auth != Some(&format!("Bearer {SERVICE_TOKEN}")) {
            return Err(Status::unauthenticated("bad service token"));
        }
        let r = req.into_inner();
        if r.event.is_empty() {
            return Err(Status::invalid_argument("empty event name"));
        }
        // Echo what arrived so the test can check the translation.
        Ok(Response::new(herald_proto::v1::EmitResponse {
            event_id: format!(
                "{}|{}|{}|{}",
                r.namespace,
                r.targets.join(","),
                r.except.join(","),
                r.event
            ),
            connections: u32::try_from(r.args.len()).unwrap(),
            acks: vec![herald_proto::v1::Ack {
                connection_id: "c1".into(),
                acked: true,
                args: r.args,
                ..Default::default()
            }],
            ..Default::default()
        }))
    }

    async fn subscribe(
        &self,
        _req: Request<herald_proto::v1::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        Err(Status::unimplemented("not in the fake core"))
    }

    async fn stats(
        &self,
        req: Request<herald_proto::v1::StatsRequest>,
    ) -> Unary<herald_proto::v1::StatsResponse> {
        let auth = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if auth != Some(&format!("Bearer {SERVICE_TOKEN}")) {
            return Err(Status::unauthenticated("bad service token"));
        }
        Ok(Response::new(herald_proto::v1::StatsResponse {
            namespaces: vec![herald_proto::v1::NamespaceStats {
                namespace: "/".into(),
                connections: 3,
                users: 2,
                rooms: 1,
                events: 6,
            }],
            edges: 1,
            subscribers: 4,
            handlers: 5,
        }))
    }

    async fn join(
        &self,
        _req: Request<herald_proto::v1::JoinRequest>,
    ) -> Unary<herald_proto::v1::JoinResponse> {
        Err(Status::unimplemented("not in the fake core"))
    }

    async fn leave(
        &self,
        _req: Request<herald_proto::v1::LeaveRequest>,
    ) -> Unary<herald_proto::v1::LeaveResponse> {
        Err(Status::unimplemented("not in the fake core"))
    }

    async fn presence(
        &self,
        _req: Request<herald_proto::v1::PresenceRequest>,
    ) -> Unary<herald_proto::v1::PresenceResponse> {
        Err(Status::unimplemented("not in the fake core"))
    }

    async fn disconnect(
        &self,
        _req: Request<herald_proto::v1::DisconnectRequest>,
    ) -> Unary<herald_proto::v1::DisconnectResponse> {
        Err(Status::unimplemented("not in the fake core"))
    }

    async fn history(
        &self,
        _req: Request<herald_proto::v1::HistoryRequest>,
    ) -> Unary<herald_proto::v1::HistoryResponse> {
        Err(Status::unimplemented("not in the fake core"))
    }

    type HandleStream =
        Pin<Box<dyn Stream<Item = Result<herald_proto::v1::HandleResponse, Status>> + Send>>;

    async fn handle(
        &self,
        _req: Request<Streaming<herald_proto::v1::HandleRequest>>,
    ) -> Result<Response<Self::HandleStream>, Status> {
        Err(Status::unimplemented("not in the fake core"))
    }
}

/// A fake core: records what the edge sends and lets the test push responses.
pub struct FakeCore {
    pub addr: SocketAddr,
    pub seen: mpsc::Receiver<LinkRequest>,
    out: CurrentLink,
    script: SharedScript,
    _stop: oneshot::Sender<()>,
}

impl FakeCore {
    pub async fn start() -> FakeCore {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (seen_tx, seen) = mpsc::channel(4096);
        let out = Arc::new(Mutex::new(None));
        let script = SharedScript::default();
        let svc = FakeCoreSvc {
            seen: seen_tx,
            out: out.clone(),
            script: script.clone(),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(EdgeServiceServer::new(svc))
                .add_service(
                    herald_proto::v1::herald_service_server::HeraldServiceServer::new(FakeHerald),
                )
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                    let _ = stopped.await;
                })
                .await;
        });
        FakeCore {
            addr,
            seen,
            out,
            script,
            _stop: stop,
        }
    }

    /// Saves a session the next `SessionLookup` of `pid` by `user` gets (once).
    pub fn save_session(&self, pid: &str, user: &str, id: &str, rooms: &[&str], data_json: &str) {
        let s = SavedSession {
            connection_id: id.into(),
            rooms: rooms.iter().map(|r| r.to_string()).collect(),
            data_json: data_json.into(),
            ..Default::default()
        };
        self.script
            .lock()
            .unwrap()
            .sessions
            .insert(pid.into(), (user.into(), s));
    }

    /// How the resume of connection `id` is answered.
    pub fn script_resume(&self, id: &str, r: ResumeScript) {
        self.script.lock().unwrap().resumes.insert(id.into(), r);
    }

    /// How the next fresh connection of `user` is answered.
    pub fn script_open(&self, user: &str, r: OpenScript) {
        self.script.lock().unwrap().opens.insert(user.into(), r);
    }

    /// Sends one event as a Delivery.
    pub async fn deliver_event(&self, event: Event, ack_ref: u64) {
        self.send(link_response::Msg::Delivery(Delivery {
            event: Some(event),
            ack_ref,
        }))
        .await;
    }

    /// Ends the current link with an error (the edge links again).
    pub async fn break_link(&self) {
        let tx = self.out.lock().await.take().expect("no link yet");
        tx.send(Err(Status::unavailable("link broken by the test")))
            .await
            .unwrap();
    }

    pub async fn send(&self, msg: link_response::Msg) {
        let tx = self.out.lock().await.clone().expect("no link yet");
        tx.send(Ok(LinkResponse { msg: Some(msg) })).await.unwrap();
    }

    pub async fn deliver(
        &self,
        ns: &str,
        name: &str,
        targets: &[&str],
        except: &[&str],
        args: Vec<Arg>,
        ack_ref: u64,
    ) {
        let event = Event {
            id: "e1".into(),
            namespace: ns.into(),
            targets: targets.iter().map(|s| s.to_string()).collect(),
            except: except.iter().map(|s| s.to_string()).collect(),
            name: name.into(),
            args,
            ..Default::default()
        };
        self.send(link_response::Msg::Delivery(Delivery {
            event: Some(event),
            ack_ref,
        }))
        .await;
    }

    /// The next recorded request for which `pick` is true, skipping others.
    pub async fn next_request(
        &mut self,
        mut pick: impl FnMut(&LinkRequest) -> bool,
    ) -> LinkRequest {
        tokio::time::timeout(WAIT, async {
            loop {
                let m = self.seen.recv().await.expect("core channel closed");
                if pick(&m) {
                    return m;
                }
            }
        })
        .await
        .expect("timed out waiting for a link message")
    }

    /// The next room join the edge asked for: (connection id, room).
    pub async fn next_join(&mut self) -> (String, String) {
        self.next_matching(|m| match m {
            link_request::Msg::Join(j) => Some((j.connection_id.clone(), j.room.clone())),
            _ => None,
        })
        .await
    }

    /// The next recorded request matching `pick`, skipping others.
    pub async fn next_matching<T>(
        &mut self,
        mut pick: impl FnMut(&link_request::Msg) -> Option<T>,
    ) -> T {
        tokio::time::timeout(WAIT, async {
            loop {
                let m = self.seen.recv().await.expect("core channel closed");
                if let Some(t) = m.msg.as_ref().and_then(&mut pick) {
                    return t;
                }
            }
        })
        .await
        .expect("timed out waiting for a link message")
    }

    /// The next forwarded client event the core receives.
    pub async fn next_forward(&mut self) -> herald_proto::v1::ClientEventForward {
        self.next_matching(|m| match m {
            link_request::Msg::Forward(f) => Some(f.clone()),
            _ => None,
        })
        .await
    }

    /// The next ConnectionClosed the core receives.
    pub async fn next_closed(&mut self) -> herald_proto::v1::ConnectionClosed {
        self.next_matching(|m| match m {
            link_request::Msg::Closed(c) => Some(c.clone()),
            _ => None,
        })
        .await
    }
}

/// A recoverable event with offset `"ep:{seq}"` and sequence `seq` (volatile with no offset and
/// sequence 0, like a relay, when `seq` is 0).
pub fn event(ns: &str, name: &str, targets: &[&str], args: Vec<Arg>, seq: u64) -> Event {
    Event {
        id: format!("e{seq}"),
        namespace: ns.into(),
        targets: targets.iter().map(|s| s.to_string()).collect(),
        name: name.into(),
        args,
        delivery: if seq == 0 {
            DeliveryClass::Volatile
        } else {
            DeliveryClass::Recoverable
        } as i32,
        offset: if seq == 0 {
            String::new()
        } else {
            format!("ep:{seq}")
        },
        seq,
        ..Default::default()
    }
}

pub fn json(s: &str) -> Arg {
    Arg {
        value: Some(arg::Value::Json(s.into())),
    }
}

pub fn binary(b: &[u8]) -> Arg {
    Arg {
        value: Some(arg::Value::Binary(b.to_vec().into())),
    }
}

pub fn token(sub: &str, rooms: &[&str]) -> String {
    mint_hs256(
        SECRET,
        &MintOptions {
            sub: sub.into(),
            ttl_secs: 3600,
            rooms: rooms.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        },
    )
    .unwrap()
}

pub fn config(core: SocketAddr) -> EdgeConfig {
    let verifier = Verifier::new(&AuthConfig {
        hs256_secret: Some(SECRET.into()),
        ..Default::default()
    })
    .unwrap();
    let mut c = EdgeConfig::new(format!("http://{core}"), SERVICE_TOKEN, verifier);
    let mut anon = NamespaceConfig::new("/anon");
    anon.anonymous = true;
    c.namespaces = vec![NamespaceConfig::new("/"), anon];
    c.shutdown_grace = Duration::from_secs(3);
    c
}

/// A running edge.
pub struct TestEdge {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    pub done: tokio::task::JoinHandle<Result<(), herald_edge::EdgeError>>,
}

impl TestEdge {
    pub async fn start(config: EdgeConfig) -> TestEdge {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(herald_edge::run(listener, config, async {
            let _ = stopped.await;
        }));
        TestEdge {
            addr,
            stop: Some(stop),
            done,
        }
    }

    pub fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Edge + fake core, link established.
pub async fn setup() -> (FakeCore, TestEdge) {
    setup_with(|_| {}).await
}

pub async fn setup_with(f: impl FnOnce(&mut EdgeConfig)) -> (FakeCore, TestEdge) {
    let mut core = FakeCore::start().await;
    let mut cfg = config(core.addr);
    f(&mut cfg);
    let edge = TestEdge::start(cfg).await;
    core.next_matching(|m| matches!(m, link_request::Msg::Hello(_)).then_some(()))
        .await;
    (core, edge)
}

// ---------- websocket client ----------

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

pub async fn ws_open(addr: SocketAddr, query: &str) -> Ws {
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket{query}");
    let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws
}

/// Next text or binary message, answering pings; `None` when the connection ended.
pub async fn ws_next(ws: &mut Ws) -> Option<Message> {
    tokio::time::timeout(WAIT, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                    let _ = ws.send(Message::text("3")).await;
                }
                Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => return Some(m),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .expect("timed out waiting for a websocket message")
}

pub async fn ws_text(ws: &mut Ws) -> String {
    match ws_next(ws).await {
        Some(Message::Text(t)) => t.as_str().to_owned(),
        other => panic!("expected text, got {other:?}"),
    }
}

pub async fn ws_send(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text.to_owned())).await.unwrap();
}

/// Opens a websocket session and connects namespace `ns` with `token`; returns the CONNECT answer.
/// Retries while the link is still coming up ("core unavailable").
pub async fn ws_connect_raw(addr: SocketAddr, ns: &str, auth: &str) -> (Ws, String) {
    for _ in 0..100 {
        let mut ws = ws_open(addr, "").await;
        let open = ws_text(&mut ws).await;
        assert!(open.starts_with("0{"), "{open}");
        let prefix = if ns == "/" {
            String::new()
        } else {
            format!("{ns},")
        };
        ws_send(&mut ws, &format!("40{prefix}{auth}")).await;
        let answer = ws_text(&mut ws).await;
        if answer.contains("core unavailable") {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        return (ws, answer);
    }
    panic!("link never came up");
}

/// Connects and returns the socket id.
pub async fn ws_connect(addr: SocketAddr, ns: &str, token: &str) -> (Ws, String) {
    let (ws, answer) = ws_connect_raw(addr, ns, &format!("{{\"token\":\"{token}\"}}")).await;
    let sid = socket_sid(&answer);
    (ws, sid)
}

/// The `sid` of a `40...{"sid":...}` answer.
pub fn socket_sid(answer: &str) -> String {
    let json = &answer[answer
        .find('{')
        .unwrap_or_else(|| panic!("not a connect answer: {answer}"))..];
    assert!(answer.starts_with("40"), "{answer}");
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["sid"].as_str().unwrap().to_owned()
}

// ---------- raw HTTP ----------

pub struct HttpResponse {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

pub async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> HttpResponse {
    http_with(addr, method, path, "", body).await
}

/// `extra` is inserted as additional header lines (each ending with "\r\n").
pub async fn http_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    extra: &str,
    body: &str,
) -> HttpResponse {
    tokio::time::timeout(WAIT, async {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{}Content-Length: {}\r\n\r\n{body}",
            if extra.is_empty() { "Content-Type: text/plain;charset=UTF-8\r\n" } else { extra },
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            dechunk(body)
        } else {
            body.to_owned()
        };
        HttpResponse {
            status,
            headers: head.to_owned(),
            body,
        }
    })
    .await
    .expect("http request timed out")
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

/// Polling handshake; returns the Engine.IO sid and the handshake JSON.
pub async fn poll_handshake(addr: SocketAddr) -> (String, serde_json::Value) {
    let r = http(addr, "GET", "/socket.io/?EIO=4&transport=polling", "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.starts_with('0'), "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body[1..]).unwrap();
    (v["sid"].as_str().unwrap().to_owned(), v)
}

pub fn poll_path(sid: &str) -> String {
    format!("/socket.io/?EIO=4&transport=polling&sid={sid}")
}

/// Polling handshake plus a Socket.IO CONNECT of `ns` with `token`; returns the Engine.IO sid and the
/// CONNECT answer. Retries while the link is still coming up.
pub async fn poll_connect(addr: SocketAddr, ns: &str, token: &str) -> (String, String) {
    let prefix = if ns == "/" {
        String::new()
    } else {
        format!("{ns},")
    };
    for _ in 0..100 {
        let (sid, _) = poll_handshake(addr).await;
        let r = http(
            addr,
            "POST",
            &poll_path(&sid),
            &format!("40{prefix}{{\"token\":\"{token}\"}}"),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = http(addr, "GET", &poll_path(&sid), "").await;
        if r.body.contains("core unavailable") {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        return (sid, r.body);
    }
    panic!("link never came up");
}

/// The `/` namespace config with `f` applied, replacing the test config's `/`.
pub fn with_root(c: &mut EdgeConfig, f: impl FnOnce(&mut NamespaceConfig)) {
    let mut ns = NamespaceConfig::new("/");
    f(&mut ns);
    c.namespaces[0] = ns;
}
