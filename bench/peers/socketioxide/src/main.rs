//! socketioxide peer for the Herald benchmark: Socket.IO on axum, HS256 JWT check on CONNECT
//! (`auth.token`), a `join` event with ack (allowed by the token's rooms claim), a `chat` relay to the
//! sender's room, and `POST /emit?room=R&event=E` (JSON body) as the emit trigger. Prints
//! `listening on ADDR`. Run with TOKIO_WORKER_THREADS=1 for the benchmark.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::post;
use serde::Deserialize;
use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef};
use socketioxide::handler::ConnectHandler;

#[derive(Deserialize)]
struct Auth {
    token: String,
}

#[derive(Deserialize, Clone)]
struct Claims {
    #[serde(default)]
    rooms: Vec<String>,
}

/// What a connected socket may join and has joined.
struct Peer {
    allowed: Vec<String>,
    joined: Mutex<Vec<String>>,
}

#[derive(Debug)]
struct AuthError;

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("invalid token")
    }
}

fn secret() -> String {
    std::env::var("BENCH_SECRET").unwrap_or_else(|_| "herald-bench-secret-0123456789abcdef".into())
}

fn allowed(patterns: &[String], room: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => room.starts_with(prefix),
        None => p == room,
    })
}

async fn authenticate(
    s: SocketRef,
    Data(auth): Data<Auth>,
) -> Result<(), AuthError> {
    let key = jsonwebtoken::DecodingKey::from_secret(secret().as_bytes());
    let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    let claims = jsonwebtoken::decode::<Claims>(&auth.token, &key, &validation)
        .map_err(|_| AuthError)?
        .claims;
    s.extensions.insert(Arc::new(Peer {
        allowed: claims.rooms,
        joined: Mutex::new(Vec::new()),
    }));
    // Registered here, before CONNECT is answered: socketioxide runs the connect handler in a spawned
    // task after sending CONNECT, so handlers registered there can miss a client's first events.
    register(&s);
    Ok(())
}

async fn on_connect(_socket: SocketRef) {}

fn register(socket: &SocketRef) {
    socket.on("join", |s: SocketRef, Data(room): Data<String>, ack: AckSender| async move {
        let ok = s
            .extensions
            .get::<Arc<Peer>>()
            .filter(|p| allowed(&p.allowed, &room))
            .map(|p| {
                if let Ok(mut j) = p.joined.lock() {
                    j.push(room.clone());
                }
            })
            .is_some();
        if ok {
            s.join(room);
            let _ = ack.send(&serde_json::json!({ "ok": true }));
        } else {
            let _ = ack.send(&serde_json::json!({ "ok": false, "error": "not allowed" }));
        }
    });
    socket.on("chat", |s: SocketRef, Data(msg): Data<Value>| async move {
        let Some(room) = msg.get("room").and_then(Value::as_str) else { return };
        let member = s
            .extensions
            .get::<Arc<Peer>>()
            .and_then(|p| p.joined.lock().ok().map(|j| j.iter().any(|r| r == room)))
            .unwrap_or(false);
        if member {
            let _ = s.to(room.to_owned()).emit("chat", &msg).await;
        }
    });
}

async fn emit(
    State(io): State<SocketIo>,
    Query(q): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> (StatusCode, &'static str) {
    let Ok(data) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "bad json");
    };
    let room = q.get("room").cloned().unwrap_or_default();
    let event = q.get("event").cloned().unwrap_or_default();
    match io.to(room).emit(event, &data).await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "emit failed"),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (layer, io) = SocketIo::builder().max_buffer_size(1024).build_layer();
    io.ns("/", on_connect.with(authenticate));
    let app = axum::Router::new()
        .route("/emit", post(emit))
        .with_state(io)
        .layer(layer);
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(0);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
