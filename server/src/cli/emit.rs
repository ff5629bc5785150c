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
