//! The admin API's live views and actions: stats, a user's presence and connections, a room's members,
//! a topic's history, emit, disconnect. Each handler takes [`Admin`] first, so the secret is checked
//! before anything else is read.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use herald_proto::v1::{
    Arg, DisconnectRequest, EmitRequest, HistoryRequest, PresenceRequest, StatsRequest, arg,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Admin;
use super::core::{herald, request};
use super::error::AdminError;
use crate::edge::Edge;
use crate::emit::arg_json;

type Answer = Result<Json<Value>, AdminError>;

#[derive(Debug, Deserialize)]
pub(super) struct Ns {
    #[serde(default)]
    namespace: String,
}

fn ns(q: &str) -> &str {
    if q.is_empty() { "/" } else { q }
}

pub(super) fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, AdminError> {
    b.map(|Json(v)| v)
        .map_err(|e| AdminError::Invalid(e.body_text()))
}

pub(super) async fn stats(_: Admin, State(edge): State<Arc<Edge>>) -> Answer {
    let s = herald(&edge)
        .stats(request(&edge, StatsRequest {}))
        .await?
        .into_inner();
    let sessions = edge.sio.engine.sessions.len();
    Ok(Json(json!({
        "namespaces": s.namespaces.iter().map(|n| json!({
            "namespace": n.namespace, "connections": n.connections, "users": n.users, "rooms": n.rooms,
            "events": n.events,
        })).collect::<Vec<_>>(),
        "edges": s.edges,
        "subscribers": s.subscribers,
        "handlers": s.handlers,
        "edge": {
            "name": edge.sio.config.name,
            "sessions": sessions,
            "frames_sent": edge.sio.engine.frames_sent.load(Ordering::Relaxed),
        },
    })))
}

/// Ids of this edge's connections of a user, or in a room, in a namespace.
fn local_ids(edge: &Edge, ns: &str, user: Option<&str>, room: Option<&str>) -> Vec<String> {
    let ix = edge.sio.index.read();
    let mut ids: Vec<String> = match (user, room) {
        (Some(u), _) => ix
            .user_connections(ns, u)
            .map(|c| c.id.to_string())
            .collect(),
        (None, Some(r)) => ix.room_members(ns, r).map(|c| c.id.to_string()).collect(),
        (None, None) => Vec::new(),
    };
    ids.sort();
    ids
}

pub(super) async fn user(
    _: Admin,
    State(edge): State<Arc<Edge>>,
    Path(user): Path<String>,
    Query(q): Query<Ns>,
) -> Answer {
    let namespace = ns(&q.namespace).to_owned();
    let r = herald(&edge)
        .presence(request(
            &edge,
            PresenceRequest {
                namespace: namespace.clone(),
                user_ids: vec![user.clone()],
                ..Default::default()
            },
        ))
        .await?
        .into_inner();
    let p = r.users.into_iter().find(|p| p.user_id == user);
    Ok(Json(json!({
        "namespace": namespace,
        "user_id": user,
        "online": p.as_ref().is_some_and(|p| p.online),
        "connections": p.map_or(0, |p| p.connections),
        "connection_ids_on_this_edge": local_ids(&edge, &namespace, Some(&user), None),
    })))
}

pub(super) async fn room(
    _: Admin,
    State(edge): State<Arc<Edge>>,
    Path(room): Path<String>,
    Query(q): Query<Ns>,
) -> Answer {
    let namespace = ns(&q.namespace).to_owned();
    let r = herald(&edge)
        .presence(request(
            &edge,
            PresenceRequest {
                namespace: namespace.clone(),
                room: room.clone(),
                ..Default::default()
            },
        ))
        .await?
        .into_inner();
    Ok(Json(json!({
        "namespace": namespace,
        "room": room,
        "connections": r.connections,
        "users": r.users.iter().map(|u| json!({"user_id": u.user_id, "connections": u.connections})).collect::<Vec<_>>(),
        "connection_ids_on_this_edge": local_ids(&edge, &namespace, None, Some(&room)),
    })))
}

#[derive(Debug, Deserialize)]
pub(super) struct HistoryQuery {
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    limit: u32,
}

pub(super) async fn history(
    _: Admin,
    State(edge): State<Arc<Edge>>,
    q: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer {
    let Query(q) = q.map_err(|e| AdminError::Invalid(e.body_text()))?;
    if q.topic.is_empty() {
        return Err(AdminError::Invalid(
            "topic: required, e.g. room:lobby or user:alice".into(),
        ));
    }
    let r = herald(&edge)
        .history(request(
            &edge,
            HistoryRequest {
                namespace: ns(&q.namespace).to_owned(),
                topic: q.topic.clone(),
                limit: if q.limit == 0 { 50 } else { q.limit },
                reverse: true,
                ..Default::default()
            },
        ))
        .await?
        .into_inner();
    Ok(Json(json!({
        "topic": q.topic,
        "truncated": r.truncated,
        "not_recovered": r.not_recovered,
        "events": r.events.iter().map(|e| json!({
            "id": e.id, "event": e.name, "targets": e.targets, "timestamp_ms": e.timestamp_ms,
            "offset": e.positions.iter().find(|p| p.topic == q.topic).map_or(0, |p| p.offset),
            "args": e.args.iter().map(arg_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })))
}

#[derive(Debug, Deserialize)]
pub(super) struct EmitBody {
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    except: Vec<String>,
    #[serde(default)]
    event: String,
    #[serde(default)]
    args: Vec<Value>,
}

pub(super) async fn emit(
    _: Admin,
    State(edge): State<Arc<Edge>>,
    b: Result<Json<EmitBody>, JsonRejection>,
) -> Answer {
    let b = body(b)?;
    let args = b
        .args
        .iter()
        .map(|v| Arg {
            value: Some(arg::Value::Json(v.to_string())),
        })
        .collect();
    let r = herald(&edge)
        .emit(request(
            &edge,
            EmitRequest {
                namespace: b.namespace,
                targets: b.targets,
                except: b.except,
                event: b.event,
                args,
                ..Default::default()
            },
        ))
        .await?
        .into_inner();
    Ok(Json(json!({
        "event_id": r.event_id,
        "connections": r.connections,
        "offline_users": r.offline_users,
    })))
}

#[derive(Debug, Deserialize)]
pub(super) struct DisconnectBody {
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    connection_id: String,
    #[serde(default)]
    reason: String,
}

pub(super) async fn disconnect(
    _: Admin,
    State(edge): State<Arc<Edge>>,
    b: Result<Json<DisconnectBody>, JsonRejection>,
) -> Answer {
    let b = body(b)?;
    let namespace = ns(&b.namespace).to_owned();
    let who = if b.user_id.is_empty() {
        format!("connection {}", b.connection_id)
    } else {
        format!("user {}", b.user_id)
    };
    let r = herald(&edge)
        .disconnect(request(
            &edge,
            DisconnectRequest {
                namespace: namespace.clone(),
                user_id: b.user_id,
                connection_id: b.connection_id,
                reason: b.reason,
            },
        ))
        .await?
        .into_inner();
    if r.connections == 0 {
        return Err(AdminError::NotFound(format!(
            "{who} has no connection in namespace {namespace}"
        )));
    }
    Ok(Json(json!({ "connections": r.connections })))
}
