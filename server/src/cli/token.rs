//! `herald token`: mint a development JWT with the configured HS256 secret.

use anyhow::{Context, bail};
use herald_auth::{MintOptions, mint_hs256_with_rooms_claim};
use herald_server::config::Config;

#[derive(clap::Args)]
pub struct TokenArgs {
    /// The user id (`sub`).
    #[arg(long)]
    sub: String,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    ttl: u64,
    /// `aud` claim (defaults to auth.audience when configured).
    #[arg(long)]
    aud: Option<String>,
    /// `iss` claim (defaults to auth.issuer when configured).
    #[arg(long)]
    iss: Option<String>,
    /// A room or room pattern (`campaign:*`) the user may join; repeatable.
    #[arg(long = "room")]
    rooms: Vec<String>,
}

pub fn run(config: &Config, a: TokenArgs) -> anyhow::Result<()> {
    let auth = &config.auth;
    if !auth.algorithms.iter().any(|x| x == "HS256") || auth.hs256_secret.is_empty() {
        bail!(
            "herald token signs with HS256: allow HS256 in auth.algorithms and set auth.hs256_secret"
        );
    }
    let pick = |flag: Option<String>, configured: &str| {
        flag.or_else(|| (!configured.is_empty()).then(|| configured.to_owned()))
    };
    let opts = MintOptions {
        sub: a.sub,
        ttl_secs: a.ttl,
        audience: pick(a.aud, &auth.audience),
        issuer: pick(a.iss, &auth.issuer),
        rooms: a.rooms,
    };
    let token = mint_hs256_with_rooms_claim(&auth.hs256_secret, &opts, &auth.rooms_claim)
        .context("cannot mint token")?;
    println!("{token}");
    Ok(())
}
