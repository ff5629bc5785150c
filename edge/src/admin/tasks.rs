//! The admin API's task views and actions: tasks by status with their attempts and last errors,
//! cancel, retry, and the connected workers.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use herald_proto::v1::{
    CancelTaskRequest, ListTasksRequest, ListWorkersRequest, RetryTaskRequest, Task, TaskStatus,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Admin;
use super::core::{request, tasks};
use super::error::AdminError;
use crate::edge::Edge;

type Answer = Result<Json<Value>, AdminError>;

const STATUSES: [(&str, TaskStatus); 6] = [
    ("queued", TaskStatus::Queued),
    ("running", TaskStatus::Running),
    ("succeeded", TaskStatus::Succeeded),
    ("failed", TaskStatus::Failed),
    ("cancelled", TaskStatus::Cancelled),
    ("dead", TaskStatus::Dead),
];

fn status_name(s: i32) -> &'static str {
    STATUSES
        .iter()
        .find(|(_, v)| *v as i32 == s)
        .map_or("unknown", |(n, _)| n)
}

fn json_text(t: &str) -> Value {
    if t.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_owned()))
    }
}

fn task_json(t: &Task) -> Value {
    json!({
        "id": t.id, "queue": t.queue, "status": status_name(t.status),
        "attempt": t.attempt, "max_attempts": t.max_attempts, "last_error": t.last_error,
        "worker": t.worker, "payload": json_text(&t.payload_json), "result": json_text(&t.result_json),
        "created_ms": t.created_ms, "updated_ms": t.updated_ms,
    })
}

#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    queue: String,
    #[serde(default)]
    limit: u32,
}

pub(super) async fn list(
    _: Admin,
    State(edge): State<Arc<Edge>>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Answer {
    let Query(q) = q.map_err(|e| AdminError::Invalid(e.body_text()))?;
    let status = if q.status.is_empty() {
        TaskStatus::Unspecified
    } else {
        STATUSES
            .iter()
            .find(|(n, _)| *n == q.status)
            .map(|(_, s)| *s)
            .ok_or_else(|| {
                AdminError::Invalid(format!(
                    "status: {:?} is not one of queued, running, succeeded, failed, cancelled, dead",
                    q.status
                ))
            })?
    };
    let r = tasks(&edge)
        .list_tasks(request(
            &edge,
            ListTasksRequest {
                status: status.into(),
                queue: q.queue,
                limit: q.limit,
            },
        ))
        .await?
        .into_inner();
    Ok(Json(
        json!({ "tasks": r.tasks.iter().map(task_json).collect::<Vec<_>>() }),
    ))
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct CancelBody {
    #[serde(default)]
    reason: String,
}

pub(super) async fn cancel(
    _: Admin,
    State(edge): State<Arc<Edge>>,
    Path(id): Path<String>,
    b: Option<Json<CancelBody>>,
) -> Answer {
    let reason = b.map(|Json(b)| b.reason).unwrap_or_default();
    let r = tasks(&edge)
        .cancel_task(request(&edge, CancelTaskRequest { id, reason }))
        .await?
        .into_inner();
    Ok(Json(json!({ "task": r.task.as_ref().map(task_json) })))
}

pub(super) async fn retry(
    _: Admin,
    State(edge): State<Arc<Edge>>,
    Path(id): Path<String>,
) -> Answer {
    let r = tasks(&edge)
        .retry_task(request(&edge, RetryTaskRequest { id }))
        .await?
        .into_inner();
    Ok(Json(json!({ "task": r.task.as_ref().map(task_json) })))
}

pub(super) async fn workers(_: Admin, State(edge): State<Arc<Edge>>) -> Answer {
    let r = tasks(&edge)
        .list_workers(request(&edge, ListWorkersRequest {}))
        .await?
        .into_inner();
    Ok(Json(json!({
        "workers": r.workers.iter().map(|w| json!({
            "worker_id": w.worker_id, "name": w.name, "queues": w.queues,
            "capacity": w.capacity, "running": w.running,
        })).collect::<Vec<_>>(),
    })))
}
