//! `POST /v1/emit`: a JSON front for the core's `HeraldService.Emit`, for services that cannot do gRPC.
//!
//! Body: `{"namespace":"/","targets":["user:alice"],"except":[],"event":"name","args":[<json>...],
//! "ack_timeout_ms":0}`. The caller's `Authorization` header is passed through as gRPC metadata.
//! Answer: the EmitResponse as JSON (ack args as JSON values; binary ack args as base64 strings).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use base64::Engine;
use herald_proto::v1::herald_service_client::HeraldServiceClient;
use herald_proto::v1::{Arg, EmitRequest, EmitResponse, arg};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::edge::Edge;
use crate::error::HttpError;

#[derive(Debug, Deserialize)]
pub(crate) struct EmitBody {
    #[serde(default)]
    namespace: String,
    targets: Vec<String>,
    #[serde(default)]
    except: Vec<String>,
    event: String,
    #[serde(default)]
    args: Vec<Value>,
    #[serde(default)]
    ack_timeout_ms: u32,
}

pub(crate) fn arg_json(a: &Arg) -> Value {
    match &a.value {
        Some(arg::Value::Json(j)) => serde_json::from_str(j).unwrap_or(Value::Null),
        Some(arg::Value::Binary(b)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        None => Value::Null,
    }
}

fn response_json(r: &EmitResponse) -> Value {
    json!({
        "event_id": r.event_id,
        "connections": r.connections,
        "offline_users": r.offline_users,
        "positions": r.positions.iter().map(|p| json!({"topic": p.topic, "offset": p.offset, "epoch": p.epoch})).collect::<Vec<_>>(),
        "acks": r.acks.iter().map(|a| json!({
            "connection_id": a.connection_id,
            "user_id": a.user_id,
            "acked": a.acked,
            "args": a.args.iter().map(arg_json).collect::<Vec<_>>(),
            "error": a.error,
        })).collect::<Vec<_>>(),
    })
}

pub(crate) async fn emit(
    State(edge): State<Arc<Edge>>,
    headers: HeaderMap,
    body: Result<Json<EmitBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, HttpError> {
    let Json(body) = body.map_err(|e| HttpError::Invalid(e.body_text()))?;
    let args = body
        .args
        .iter()
        .map(|v| Arg {
            value: Some(arg::Value::Json(v.to_string())),
        })
        .collect();
    let mut req = tonic::Request::new(EmitRequest {
        namespace: body.namespace,
        targets: body.targets,
        except: body.except,
        event: body.event,
        args,
        ack_timeout_ms: body.ack_timeout_ms,
        ..Default::default()
    });
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = auth
            .parse()
            .map_err(|_| HttpError::Invalid("bad authorization header".into()))?;
        req.metadata_mut().insert("authorization", v);
    }
    let mut client = HeraldServiceClient::new(edge.link.channel());
    let resp = client.emit(req).await.map_err(HttpError::from)?;
    Ok(Json(response_json(resp.get_ref())))
}
