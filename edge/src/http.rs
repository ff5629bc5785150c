//! The edge's HTTP router: `/socket.io/` (Engine.IO), `/healthz` (live), `/readyz` (ready),
//! `/admin/`, and static files.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};

use crate::edge::Edge;
use crate::error::HttpError;

pub(crate) fn router(edge: Arc<Edge>) -> Router {
    Router::new()
        .route("/socket.io/", any(engine))
        .route("/socket.io", any(engine))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(crate::scrape::metrics))
        .route("/v1/emit", axum::routing::post(crate::emit::emit))
        .merge(crate::admin::router())
        .fallback(static_file)
        .with_state(edge)
}

/// `GET /readyz`: 200 while the edge is linked to a core and not draining, else 503 with the reason,
/// so a load balancer sends new clients elsewhere.
async fn readyz(State(edge): State<Arc<Edge>>) -> Response {
    use axum::http::StatusCode;
    if edge.sio.shutdown.is_cancelled() {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready: draining\n").into_response()
    } else if !edge.link.is_up() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: no link to the core\n",
        )
            .into_response()
    } else {
        "ready\n".into_response()
    }
}

/// `/socket.io/`: the engine's endpoint.
async fn engine(State(edge): State<Arc<Edge>>, req: Request) -> Response {
    herald_engine::endpoint::handle(edge.sio.clone(), req).await
}

/// Maps a request path to a file under `root`, refusing anything that could leave it.
fn resolve(root: &Path, path: &str) -> Option<PathBuf> {
    let rel = path.trim_start_matches('/');
    let mut out = root.to_path_buf();
    for c in Path::new(rel).components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    if rel.is_empty() || rel.ends_with('/') {
        out.push("index.html");
    }
    Some(out)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

async fn static_file(
    State(edge): State<Arc<Edge>>,
    method: Method,
    uri: axum::http::Uri,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return HttpError::NotFound.into_response();
    }
    let Some(root) = &edge.sio.config.static_dir else {
        return HttpError::NotFound.into_response();
    };
    let Some(path) = resolve(root, uri.path()) else {
        return HttpError::NotFound.into_response();
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => (
            [(header::CONTENT_TYPE, content_type(&path))],
            Body::from(bytes),
        )
            .into_response(),
        Err(_) => HttpError::NotFound.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_paths_stay_inside_the_root() {
        let root = Path::new("static");
        assert_eq!(resolve(root, "/"), Some(root.join("index.html")));
        assert_eq!(resolve(root, "/a/b.js"), Some(root.join("a").join("b.js")));
        assert_eq!(
            resolve(root, "/a/"),
            Some(root.join("a").join("index.html"))
        );
        assert_eq!(resolve(root, "/../etc/passwd"), None);
        assert_eq!(resolve(root, "/a/../../x"), None);
    }
}
