//! The edge's HTTP router: `/socket.io/` (Engine.IO), `/healthz` (live), `/readyz` (ready),
//! `/admin/`, and static files.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};

use crate::edge::Edge;
use crate::error::HttpError;
use crate::transport::{polling, ws};
use herald_engine::Refusal;
use herald_engine::limits::Limit;
use herald_engine::origin::{cors_headers, origin_of, preflight_headers};

pub(crate) use herald_engine::handshake::bearer_value;

pub(crate) fn router(edge: Arc<Edge>) -> Router {
    Router::new()
        .route("/socket.io/", any(engine))
        .route("/socket.io", any(engine))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(crate::metrics::metrics))
        .route("/v1/emit", axum::routing::post(crate::emit::emit))
        .merge(crate::admin::router())
        .fallback(static_file)
        .with_state(edge)
}

/// `GET /readyz`: 200 while the edge is linked to a core and not draining, else 503 with the reason,
/// so a load balancer sends new clients elsewhere.
async fn readyz(State(edge): State<Arc<Edge>>) -> Response {
    use axum::http::StatusCode;
    if edge.shutdown.is_cancelled() {
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

fn bearer(headers: &HeaderMap) -> Option<Box<str>> {
    bearer_value(headers.get(header::AUTHORIZATION)?.to_str().ok()?)
}

/// `/socket.io/`: the origin check, CORS for allowed origins, then Engine.IO.
async fn engine(State(edge): State<Arc<Edge>>, req: Request) -> Response {
    let origin = req.headers().get(header::ORIGIN).cloned();
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.as_bytes());
    let ip = edge
        .engine
        .settings
        .trusted_proxies
        .client_ip(peer, forwarded);
    if !edge
        .engine
        .settings
        .allowed_origins
        .allows(origin_of(req.headers()))
    {
        edge.engine.limits.refuse(
            Limit::Origin,
            Some(ip),
            "request from an origin not allowed",
        );
        return HttpError::from(Refusal::OriginNotAllowed).into_response();
    }
    let mut response = if req.method() == Method::OPTIONS {
        let mut r = StatusCode::NO_CONTENT.into_response();
        preflight_headers(req.headers(), r.headers_mut());
        r
    } else {
        match engine_inner(edge.clone(), req, ip).await {
            Ok(r) => r,
            Err(e) => e.into_response(),
        }
    };
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        cors_headers(
            &edge.engine.settings.allowed_origins,
            origin.as_ref(),
            response.headers_mut(),
        );
    }
    response
}

async fn engine_inner(edge: Arc<Edge>, req: Request, ip: IpAddr) -> Result<Response, HttpError> {
    let (mut parts, body) = req.into_parts();
    let Query(q) = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
        .map_err(|_| Refusal::BadRequest)?;
    if q.get("EIO").map(String::as_str) != Some("4") {
        return Err(HttpError::UnsupportedVersion);
    }
    let websocket = match q.get("transport").map(String::as_str) {
        Some("polling") => false,
        Some("websocket") => true,
        _ => return Err(HttpError::UnknownTransport),
    };
    let session = match q.get("sid") {
        None => None,
        Some(sid) => Some(
            edge.engine
                .sessions
                .get(sid.as_str())
                .ok_or(HttpError::UnknownSid)?,
        ),
    };
    if session.is_none() && edge.shutdown.is_cancelled() {
        return Err(Refusal::BadRequest.into());
    }
    if websocket {
        let accept = ws::accept_key(&parts)?;
        let upgrade = parts
            .extensions
            .remove::<hyper::upgrade::OnUpgrade>()
            .ok_or(Refusal::BadRequest)?;
        return match session {
            None => ws::open(&edge, upgrade, &accept, bearer(&parts.headers), ip),
            Some(s) => ws::upgrade(&edge, upgrade, &accept, s),
        };
    }
    match (parts.method, session) {
        (Method::GET, None) => polling::handshake(&edge, bearer(&parts.headers), ip),
        (_, None) => Err(HttpError::BadHandshakeMethod),
        (Method::GET, Some(s)) => polling::get(&edge, &s).await,
        (Method::POST, Some(s)) => polling::post(&edge, &s, body).await,
        _ => Err(Refusal::BadRequest.into()),
    }
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
    let Some(root) = &edge.config.static_dir else {
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
