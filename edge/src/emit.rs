//! `POST /v1/emit`: a JSON front for the core's `HeraldService.Emit`, for services that cannot do gRPC.
//!
//! Body: every `EmitRequest` field, with the gRPC meaning: `{"namespace":"/","targets":["user:alice"],
//! "except":[],"event":"name","args":[<json>...],"delivery":"volatile"|"recoverable",
//! "ack_timeout_ms":0,"idempotency_key":""}`. An argument written `{"$binary":"<base64>"}` (that one
//! key only) is a binary argument. Unknown fields are refused with 400 naming them. The caller's
//! `Authorization` header is passed through as gRPC metadata.
//! Answer: the EmitResponse as JSON (ack args as JSON values; binary ack args as base64 strings).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use base64::Engine;
use herald_proto::v1::herald_service_client::HeraldServiceClient;
use herald_proto::v1::{Arg, DeliveryClass, EmitRequest, EmitResponse, PushIfOffline, arg};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::edge::Edge;
use crate::error::HttpError;

/// The fields of a body, as in `EmitRequest`.
const FIELDS: [&str; 9] = [
    "namespace",
    "targets",
    "except",
    "event",
    "args",
    "delivery",
    "ack_timeout_ms",
    "idempotency_key",
    "push_if_offline",
];

/// `push_if_offline` as JSON: the payload is any JSON value, not a JSON text.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PushBody {
    queue: String,
    #[serde(default)]
    payload: Value,
}

/// The key of a binary argument's object.
const BINARY_KEY: &str = "$binary";

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
    delivery: Option<String>,
    #[serde(default)]
    ack_timeout_ms: u32,
    #[serde(default)]
    idempotency_key: String,
    /// `{"queue": "push", "payload": <any JSON>}`: a push task per targeted user with no connection.
    #[serde(default)]
    push_if_offline: Option<PushBody>,
}

/// The delivery class a body names: `volatile`, `recoverable`, `unspecified` (or the proto names).
fn delivery(name: Option<&str>) -> Result<DeliveryClass, HttpError> {
    let Some(name) = name else {
        return Ok(DeliveryClass::Unspecified);
    };
    let short = name
        .strip_prefix("DELIVERY_CLASS_")
        .unwrap_or(name)
        .to_ascii_lowercase();
    match short.as_str() {
        "" | "unspecified" => Ok(DeliveryClass::Unspecified),
        "volatile" => Ok(DeliveryClass::Volatile),
        "recoverable" => Ok(DeliveryClass::Recoverable),
        _ => Err(HttpError::Invalid(format!(
            "delivery: {name:?} is not one of \"volatile\", \"recoverable\", \"unspecified\""
        ))),
    }
}

/// One body argument as a proto argument (`{"$binary": base64}` is binary, anything else JSON).
fn proto_arg(i: usize, v: &Value) -> Result<Arg, HttpError> {
    let value = match v
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.get(BINARY_KEY))
    {
        Some(Value::String(b64)) => arg::Value::Binary(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| {
                    HttpError::Invalid(format!("args[{i}]: {BINARY_KEY} is not base64: {e}"))
                })?
                .into(),
        ),
        Some(_) => {
            return Err(HttpError::Invalid(format!(
                "args[{i}]: {BINARY_KEY} must be a base64 string"
            )));
        }
        None => arg::Value::Json(v.to_string()),
    };
    Ok(Arg { value: Some(value) })
}

/// The body as an `EmitRequest`, refusing unknown fields (all of them named).
fn parse(body: Map<String, Value>) -> Result<EmitRequest, HttpError> {
    let unknown: Vec<&str> = body
        .keys()
        .map(String::as_str)
        .filter(|k| !FIELDS.contains(k))
        .collect();
    if !unknown.is_empty() {
        return Err(HttpError::Invalid(format!(
            "unknown field(s): {}; the fields are {}",
            unknown.join(", "),
            FIELDS.join(", ")
        )));
    }
    let b: EmitBody = serde_json::from_value(Value::Object(body))
        .map_err(|e| HttpError::Invalid(format!("bad emit body: {e}")))?;
    let args = b
        .args
        .iter()
        .enumerate()
        .map(|(i, v)| proto_arg(i, v))
        .collect::<Result<_, _>>()?;
    Ok(EmitRequest {
        namespace: b.namespace,
        targets: b.targets,
        except: b.except,
        event: b.event,
        args,
        delivery: delivery(b.delivery.as_deref())?.into(),
        ack_timeout_ms: b.ack_timeout_ms,
        idempotency_key: b.idempotency_key,
        push_if_offline: b.push_if_offline.map(|p| PushIfOffline {
            queue: p.queue,
            payload_json: if p.payload.is_null() {
                String::new()
            } else {
                p.payload.to_string()
            },
        }),
    })
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
    body: Result<Json<Map<String, Value>>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, HttpError> {
    let Json(body) = body.map_err(|e| HttpError::Invalid(e.body_text()))?;
    let mut req = tonic::Request::new(parse(body)?);
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
