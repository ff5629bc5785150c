//! The admin console at `/admin/` and its JSON API under `/admin/api/`, behind `edge.admin_secret`
//! (disabled when empty). The API calls the core's public gRPC API with the edge's service token; the
//! browser only ever holds the admin secret.
//!
//! | method and path | what |
//! |---|---|
//! | `GET /admin/api/stats` | connections, users, rooms per namespace; this edge's sessions and frames sent |
//! | `GET /admin/api/users/{user}?namespace=/` | a user's presence and connections |
//! | `GET /admin/api/rooms/{room}?namespace=/` | a room's members |
//! | `GET /admin/api/history?namespace=/&topic=room:x&limit=50` | a topic's recent events, newest first |
//! | `POST /admin/api/emit` | `{namespace, targets, except, event, args}` |
//! | `POST /admin/api/disconnect` | `{namespace, user_id or connection_id, reason}` |
//! | `GET /admin/api/tasks?status=dead&queue=push&limit=50` | tasks, newest first |
//! | `POST /admin/api/tasks/{id}/cancel`, `.../retry` | cancel (`{reason}` optional) or queue again |
//! | `GET /admin/api/workers` | connected workers: queues, capacity, running |

mod api;
mod auth;
mod core;
mod error;
mod tasks;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::edge::Edge;
use error::AdminError;

const PAGE: &str = include_str!("page.html");
const SCRIPT: &str = include_str!("app.js");

/// The `/admin` routes, merged into the edge's router.
pub(crate) fn router() -> Router<Arc<Edge>> {
    Router::new()
        .route("/admin", get(|| async { Redirect::permanent("/admin/") }))
        .route("/admin/", get(page))
        .route("/admin/app.js", get(script))
        .route("/admin/api/stats", get(api::stats))
        .route("/admin/api/users/{user}", get(api::user))
        .route("/admin/api/rooms/{room}", get(api::room))
        .route("/admin/api/history", get(api::history))
        .route("/admin/api/emit", post(api::emit))
        .route("/admin/api/disconnect", post(api::disconnect))
        .route("/admin/api/tasks", get(tasks::list))
        .route("/admin/api/tasks/{id}/cancel", post(tasks::cancel))
        .route("/admin/api/tasks/{id}/retry", post(tasks::retry))
        .route("/admin/api/workers", get(tasks::workers))
}

fn served(edge: &Edge, content_type: &'static str, body: &'static str) -> Response {
    if edge.sio.config.admin_secret.is_none() {
        return AdminError::Disabled.into_response();
    }
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn page(State(edge): State<Arc<Edge>>) -> Response {
    served(&edge, "text/html; charset=utf-8", PAGE)
}

async fn script(State(edge): State<Arc<Edge>>) -> Response {
    served(&edge, "text/javascript; charset=utf-8", SCRIPT)
}
