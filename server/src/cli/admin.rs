//! `herald stats`, `herald presence`, `herald disconnect`: the operator's view of a running core,
//! printed as text or (`--json`) as one JSON document.

use anyhow::Context;
use herald_client::Client;
use herald_client::proto::{DisconnectRequest, PresenceRequest};
use herald_server::config::Config;
use herald_server::wiring;
use serde_json::{Value, json};
use tonic::transport::ClientTlsConfig;

/// Where the core is and which credential to use (shared by the admin commands).
#[derive(clap::Args)]
pub struct CoreConn {
    /// Core address: http://HOST:PORT, or HOST:PORT (default: core.listen of the config).
    #[arg(long)]
    core: Option<String>,
    /// Service token (default: the first of core.service_tokens).
    #[arg(long, env = "HERALD_SERVICE_TOKEN")]
    token: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// PEM CA certificate that verifies the core's TLS certificate (default: edge.core_ca_file).
    #[arg(long)]
    ca: Option<std::path::PathBuf>,
    /// PEM client certificate for a core that requires mTLS (default: edge.core_cert_file).
    #[arg(long, requires = "key")]
    cert: Option<std::path::PathBuf>,
    /// PEM key of --cert (default: edge.core_key_file).
    #[arg(long, requires = "cert")]
    key: Option<std::path::PathBuf>,
}

impl CoreConn {
    /// The core's URL (with its scheme: `https://` when TLS is configured).
    pub fn url(&self, config: &Config) -> String {
        let addr = self.core.as_deref().unwrap_or(&config.core.listen);
        let tls = self.ca.is_some()
            || self.cert.is_some()
            || !config.edge.core_ca_file.is_empty()
            || !config.edge.core_cert_file.is_empty();
        if tls && !addr.contains("://") {
            format!("https://{addr}")
        } else {
            herald_client::with_scheme(addr)
        }
    }

    /// The TLS settings: the flags, else the `edge.core_*` files of the config.
    fn tls(&self, config: &Config) -> anyhow::Result<Option<ClientTlsConfig>> {
        let read = |flag: &str, p: &Option<std::path::PathBuf>| -> anyhow::Result<Option<String>> {
            p.as_ref()
                .map(|p| {
                    std::fs::read_to_string(p)
                        .with_context(|| format!("{flag}: cannot read {}", p.display()))
                })
                .transpose()
        };
        if self.ca.is_none() && self.cert.is_none() {
            return Ok(wiring::client_tls(config)?);
        }
        let ca = read("--ca", &self.ca)?;
        let identity = read("--cert", &self.cert)?.zip(read("--key", &self.key)?);
        Ok(wiring::tls_options(ca, identity)?)
    }

    /// Connects and makes one call; its error names the RPC and the core's URL.
    pub async fn call<R>(
        &self,
        config: &Config,
        rpc: &str,
        f: impl AsyncFnOnce(&mut Client) -> Result<R, herald_client::ClientError>,
    ) -> anyhow::Result<R> {
        let mut client = self.connect(config).await?;
        f(&mut client)
            .await
            .with_context(|| format!("{rpc} at {}", self.url(config)))
    }

    pub async fn connect(&self, config: &Config) -> anyhow::Result<Client> {
        let url = self.url(config);
        let token = self
            .token
            .clone()
            .or_else(|| config.core.service_tokens.first().cloned())
            .unwrap_or_default();
        Ok(Client::connect_with(&url, &token, self.tls(config)?).await?)
    }
}

/// Connects to the core at `url` with the TLS settings of the config (`edge.core_*`); a URL
/// without a scheme means `https://` when they are set.
pub async fn connect_core(config: &Config, url: &str, token: &str) -> anyhow::Result<Client> {
    let tls = wiring::client_tls(config)?;
    let url = if tls.is_some() && !url.contains("://") {
        format!("https://{url}")
    } else {
        url.to_owned()
    };
    Ok(Client::connect_with(&url, token, tls).await?)
}

/// Prints `value` as JSON, or `text` (one item per line).
pub fn print(json_out: bool, value: &Value, text: &str) -> anyhow::Result<()> {
    if json_out {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        print!("{text}");
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct StatsArgs {
    #[command(flatten)]
    conn: CoreConn,
}

pub async fn stats(config: &Config, a: StatsArgs) -> anyhow::Result<()> {
    let s = a
        .conn
        .call(config, "Stats", async |c| c.stats().await)
        .await?;
    let namespaces: Vec<Value> = s
        .namespaces
        .iter()
        .map(|n| json!({"namespace": n.namespace, "connections": n.connections, "users": n.users, "rooms": n.rooms}))
        .collect();
    let value = json!({
        "namespaces": namespaces,
        "edges": s.edges,
        "subscribers": s.subscribers,
        "handlers": s.handlers,
    });
    let mut text = format!(
        "edges {}  subscribers {}  handlers {}\n",
        s.edges, s.subscribers, s.handlers
    );
    for n in &s.namespaces {
        text.push_str(&format!(
            "namespace {}  connections {}  users {}  rooms {}\n",
            n.namespace, n.connections, n.users, n.rooms
        ));
    }
    print(a.conn.json, &value, &text)
}

#[derive(clap::Args)]
pub struct PresenceArgs {
    #[command(flatten)]
    conn: CoreConn,
    /// Socket.IO namespace.
    #[arg(long, default_value = "/")]
    namespace: String,
    /// The users in this room.
    #[arg(long)]
    room: Option<String>,
    /// This user's status (repeatable).
    #[arg(long = "user")]
    users: Vec<String>,
}

pub async fn presence(config: &Config, a: PresenceArgs) -> anyhow::Result<()> {
    if a.room.is_none() && a.users.is_empty() {
        anyhow::bail!("presence: name a --room, one or more --user, or both");
    }
    let req = PresenceRequest {
        namespace: a.namespace,
        room: a.room.unwrap_or_default(),
        user_ids: a.users,
    };
    let r = a
        .conn
        .call(config, "Presence", async |c| c.presence(req).await)
        .await?;
    let users: Vec<Value> = r
        .users
        .iter()
        .map(|u| json!({"user_id": u.user_id, "online": u.online, "connections": u.connections}))
        .collect();
    let value = json!({ "connections": r.connections, "users": users });
    let mut text = format!("connections {}\n", r.connections);
    for u in &r.users {
        text.push_str(&format!(
            "user {}  {}  connections {}\n",
            u.user_id,
            if u.online { "online" } else { "offline" },
            u.connections
        ));
    }
    print(a.conn.json, &value, &text)
}

#[derive(clap::Args)]
pub struct DisconnectArgs {
    #[command(flatten)]
    conn: CoreConn,
    /// Socket.IO namespace.
    #[arg(long, default_value = "/")]
    namespace: String,
    /// The connection to close.
    #[arg(long, conflicts_with = "user", required_unless_present = "user")]
    connection: Option<String>,
    /// Close every connection of this user.
    #[arg(long)]
    user: Option<String>,
    /// Told to the client in `herald:disconnect`.
    #[arg(long, default_value = "disconnected by an operator")]
    reason: String,
}

pub async fn disconnect(config: &Config, a: DisconnectArgs) -> anyhow::Result<()> {
    let req = DisconnectRequest {
        namespace: a.namespace,
        connection_id: a.connection.unwrap_or_default(),
        user_id: a.user.unwrap_or_default(),
        reason: a.reason,
    };
    let r = a
        .conn
        .call(config, "Disconnect", async |c| c.disconnect(req).await)
        .await?;
    print(
        a.conn.json,
        &json!({ "connections": r.connections }),
        &format!("disconnected {} connection(s)\n", r.connections),
    )
}
