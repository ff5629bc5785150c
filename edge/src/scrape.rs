//! `GET /metrics`: the edge's counters and gauges plus the core's `Stats`, in the Prometheus text
//! format.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use herald_proto::v1::herald_service_client::HeraldServiceClient;
use herald_proto::v1::{StatsRequest, StatsResponse};

use crate::edge::Edge;
use crate::metrics::{CONTENT_TYPE, Refusal};
use crate::prom::{escape, family};

/// How long `/metrics` waits for the core's stats.
const STATS_TIMEOUT: Duration = Duration::from_secs(2);

fn one(v: u64) -> [(String, u64); 1] {
    [(String::new(), v)]
}

fn ns_label(ns: &str) -> String {
    format!("namespace=\"{}\"", escape(ns))
}

/// The edge's own metrics.
fn render_edge(edge: &Edge, out: &mut String) {
    let m = &edge.sio.metrics;
    let sessions = u64::try_from(edge.sio.engine.sessions.len()).unwrap_or(u64::MAX);
    family(
        out,
        "herald_edge_sessions",
        "gauge",
        "Open Engine.IO sessions.",
        &one(sessions),
    );
    let sockets: Vec<(String, u64)> = {
        let index = edge.sio.index.read();
        edge.sio
            .config
            .namespaces
            .iter()
            .map(|n| {
                let (conns, _, _) = index.counts(&n.name);
                (ns_label(&n.name), u64::try_from(conns).unwrap_or(u64::MAX))
            })
            .collect()
    };
    family(
        out,
        "herald_edge_sockets",
        "gauge",
        "Connected Socket.IO sockets per namespace.",
        &sockets,
    );
    let counters = [
        (
            "herald_edge_sessions_opened_total",
            "Engine.IO sessions opened.",
            &m.sessions_opened,
        ),
        (
            "herald_edge_frames_sent_total",
            "Engine.IO packets written to clients.",
            edge.sio.engine.frames_sent.as_ref(),
        ),
        (
            "herald_edge_slow_consumer_disconnects_total",
            "Sessions closed because their outbound queue was full.",
            &m.slow_consumers,
        ),
        (
            "herald_edge_malformed_closes_total",
            "Sessions closed for a malformed or forbidden packet.",
            &m.malformed,
        ),
        (
            "herald_edge_tls_handshake_failures_total",
            "Connections closed because their TLS handshake failed (e.g. plain HTTP to the HTTPS edge).",
            &edge.sio.engine.tls_handshakes_failed,
        ),
        (
            "herald_edge_relay_events_total",
            "Relay events sent to the core.",
            &m.relayed,
        ),
        (
            "herald_edge_relay_refused_total",
            "Relay events refused at the edge (rate limited, no room, not a member).",
            &m.relay_refused,
        ),
        (
            "herald_edge_user_rate_limited_total",
            "Client events refused because their user went over its event rate.",
            &m.user_rate_limited,
        ),
        (
            "herald_edge_forwarded_events_total",
            "Client events forwarded to backend handlers.",
            &m.forwarded,
        ),
        (
            "herald_edge_recovered_sessions_total",
            "Reconnecting clients whose session (id, rooms, missed events) was restored.",
            &m.recovered,
        ),
        (
            "herald_edge_unrecovered_sessions_total",
            "Reconnecting clients that asked for recovery and got a fresh session.",
            &m.not_recovered,
        ),
    ];
    for (name, help, c) in counters {
        family(out, name, "counter", help, &one(c.load(Ordering::Relaxed)));
    }
    let up = u64::from(edge.link.is_up());
    family(
        out,
        "herald_edge_link_up",
        "gauge",
        "1 when the link to the core is up.",
        &one(up),
    );
    family(
        out,
        "herald_edge_link_queue_depth",
        "gauge",
        "Messages queued on the link towards the core.",
        &one(edge.link.queued()),
    );
    family(
        out,
        "herald_edge_link_backlog",
        "gauge",
        "Messages owed to the core (close notices, $disconnect reports, acks) waiting for room on the link.",
        &one(edge.link.backlog()),
    );
    let dropped = [
        ("message=\"relay\"".to_owned(), edge.link.relays_dropped()),
        ("message=\"owed\"".to_owned(), edge.link.owed_discarded()),
    ];
    family(
        out,
        "herald_edge_link_dropped_total",
        "counter",
        "Messages towards the core dropped: relay events without an ack on a full link, owed messages discarded when their backlog overflowed (the link was then reset).",
        &dropped,
    );
    let handshakes = [
        (
            "transport=\"polling\"".to_owned(),
            m.handshakes_polling.load(Ordering::Relaxed),
        ),
        (
            "transport=\"websocket\"".to_owned(),
            m.handshakes_websocket.load(Ordering::Relaxed),
        ),
    ];
    family(
        out,
        "herald_edge_handshakes_total",
        "counter",
        "Engine.IO handshakes by the transport they opened with.",
        &handshakes,
    );
    let refusals: Vec<(String, u64)> = Refusal::ALL
        .iter()
        .zip(m.refusals.iter())
        .map(|(r, c)| {
            (
                format!("reason=\"{}\"", r.as_str()),
                c.load(Ordering::Relaxed),
            )
        })
        .collect();
    family(
        out,
        "herald_edge_connect_refusals_total",
        "counter",
        "Socket.IO connections refused, by reason.",
        &refusals,
    );
    m.emit_to_write.render(
        out,
        "herald_edge_emit_to_write_seconds",
        "From the core accepting an event to the edge handing its frame to the sockets.",
    );
    let rows: Vec<(String, u64)> = edge
        .sio
        .engine
        .limits
        .refusals()
        .map(|(l, n)| (format!("limit=\"{}\"", l.as_str()), n))
        .collect();
    family(
        out,
        "herald_edge_limit_refusals_total",
        "counter",
        "Requests, sessions and packets refused by a limit of the edge, by limit.",
        &rows,
    );
    crate::prom::process(out);
}

/// The core's stats, or nothing but `herald_core_up 0`.
fn render_core(stats: Option<&StatsResponse>, out: &mut String) {
    let up = u64::from(stats.is_some());
    family(
        out,
        "herald_core_up",
        "gauge",
        "1 when the core answered Stats.",
        &one(up),
    );
    let Some(s) = stats else { return };
    let per_ns = |f: fn(&herald_proto::v1::NamespaceStats) -> u32| -> Vec<(String, u64)> {
        s.namespaces
            .iter()
            .map(|n| (ns_label(&n.namespace), u64::from(f(n))))
            .collect()
    };
    family(
        out,
        "herald_connections",
        "gauge",
        "Connections per namespace (whole cluster view of the core).",
        &per_ns(|n| n.connections),
    );
    family(
        out,
        "herald_users",
        "gauge",
        "Online users per namespace.",
        &per_ns(|n| n.users),
    );
    family(
        out,
        "herald_rooms",
        "gauge",
        "Non-empty rooms per namespace.",
        &per_ns(|n| n.rooms),
    );
    family(
        out,
        "herald_edges",
        "gauge",
        "Edges linked to the core.",
        &one(u64::from(s.edges)),
    );
    family(
        out,
        "herald_subscribers",
        "gauge",
        "Direct subscribers of the core.",
        &one(u64::from(s.subscribers)),
    );
    family(
        out,
        "herald_handlers",
        "gauge",
        "Client-event handlers registered with the core.",
        &one(u64::from(s.handlers)),
    );
}

/// `HeraldService.Stats` on the link's unary channel, with the edge's service token.
async fn core_stats(edge: &Edge) -> Result<StatsResponse, tonic::Status> {
    let mut req = tonic::Request::new(StatsRequest {});
    req.metadata_mut().insert("authorization", edge.link.auth());
    req.set_timeout(STATS_TIMEOUT);
    let mut client = HeraldServiceClient::new(edge.link.channel());
    match tokio::time::timeout(STATS_TIMEOUT, client.stats(req)).await {
        Ok(r) => r.map(tonic::Response::into_inner),
        Err(_) => Err(tonic::Status::deadline_exceeded("core stats timed out")),
    }
}

pub(crate) async fn metrics(State(edge): State<Arc<Edge>>) -> Response {
    let mut body = String::with_capacity(8192);
    render_edge(&edge, &mut body);
    if let Some(extra) = &edge.sio.config.extra_metrics {
        // `herald serve`: the core is in this process and renders its own metrics.
        body.push_str(&extra().await);
    } else {
        let stats = match core_stats(&edge).await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::debug!(error = %e, "core stats unavailable for /metrics");
                None
            }
        };
        render_core(stats.as_ref(), &mut body);
    }
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(ns_label("/a\"b\\c\nd"), r#"namespace="/a\"b\\c\nd""#);
    }

    #[test]
    fn core_down_is_one_line_family() {
        let mut out = String::new();
        render_core(None, &mut out);
        assert!(out.contains("\nherald_core_up 0\n"), "{out}");
        assert!(!out.contains("herald_connections"), "{out}");
    }
}
