//! `herald emit`: call Emit from the command line and print the response as JSON.

use anyhow::Context;
use herald_client::proto::{EmitResponse, arg};
use herald_server::config::Config;
use serde_json::{Value, json};

#[derive(clap::Args)]
pub struct EmitArgs {
    /// Target topic: user:ID, room:NAME, conn:ID or * (repeatable).
    #[arg(long = "to", required = true)]
    to: Vec<String>,
    /// Topic whose connections are skipped (repeatable).
    #[arg(long = "except")]
    except: Vec<String>,
    /// Event name.
    #[arg(long)]
    event: String,
    /// A JSON argument (repeatable, in order).
    #[arg(long = "json")]
    json: Vec<String>,
    /// A binary argument, base64-encoded (repeatable, in order, after the JSON arguments).
    #[arg(long = "binary", value_parser = parse_base64)]
    binary: Vec<Vec<u8>>,
    /// Delivery class: volatile, recoverable, or the server default (recoverable for users and rooms).
    #[arg(long, value_enum, default_value_t = Delivery::Default)]
    delivery: Delivery,
    /// The same key within the core's idempotency window returns the first call's response.
    #[arg(long)]
    idempotency_key: Option<String>,
    /// Socket.IO namespace.
    #[arg(long, default_value = "/")]
    namespace: String,
    /// Core URL (default: http:// + core.listen).
    #[arg(long)]
    core: Option<String>,
    /// Service token (default: the first of core.service_tokens).
    #[arg(long, env = "HERALD_SERVICE_TOKEN")]
    token: Option<String>,
    /// Wait this long for each receiving connection's ack.
    #[arg(long, default_value_t = 0)]
    ack_timeout_ms: u32,
}

/// `--delivery`: the EmitRequest's delivery class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Delivery {
    Default,
    Volatile,
    Recoverable,
}

fn parse_base64(s: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| format!("not base64: {e}"))
}

pub async fn run(config: &Config, a: EmitArgs) -> anyhow::Result<()> {
    let url = a.core.unwrap_or_else(|| config.core.listen.clone());
    let token = a
        .token
        .or_else(|| config.core.service_tokens.first().cloned())
        .unwrap_or_default();
    let mut client = crate::cli::admin::connect_core(config, &url, &token).await?;
    let mut b = client
        .emit(&a.event)
        .namespace(&a.namespace)
        .ack_timeout_ms(a.ack_timeout_ms);
    for t in &a.to {
        b = b.to(t);
    }
    for t in &a.except {
        b = b.except(t);
    }
    for j in a.json {
        b = b.raw_json(j);
    }
    for bytes in a.binary {
        b = b.binary(bytes);
    }
    b = match a.delivery {
        Delivery::Default => b,
        Delivery::Volatile => b.volatile(),
        Delivery::Recoverable => b.recoverable(),
    };
    if let Some(key) = &a.idempotency_key {
        b = b.idempotency_key(key);
    }
    let resp = b.send().await.context("Emit failed")?;
    println!("{}", serde_json::to_string_pretty(&response_json(&resp))?);
    Ok(())
}

fn response_json(r: &EmitResponse) -> Value {
    let args = |args: &[herald_client::proto::Arg]| -> Vec<Value> {
        args.iter()
            .map(|a| match &a.value {
                Some(arg::Value::Json(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
                Some(arg::Value::Binary(b)) => json!({ "binary_bytes": b.len() }),
                None => Value::Null,
            })
            .collect()
    };
    json!({
        "event_id": r.event_id,
        "connections": r.connections,
        "offline_users": r.offline_users,
        "positions": r.positions.iter().map(|p| json!({"topic": p.topic, "offset": p.offset, "epoch": p.epoch})).collect::<Vec<_>>(),
        "acks": r.acks.iter().map(|a| json!({
            "connection_id": a.connection_id,
            "user_id": a.user_id,
            "acked": a.acked,
            "args": args(&a.args),
            "error": a.error,
        })).collect::<Vec<_>>(),
    })
}
