//! The systems under test: how each is started (pinned with `taskset` to the server core, one worker
//! thread), where it listens, how it takes emit triggers, and its CPU time and resident memory from /proc.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::trigger::Target;

/// Shared secret of the benchmark's HS256 tokens (every system verifies with it).
pub const SECRET: &str = "herald-bench-secret-0123456789abcdef";
/// Herald's service token in the benchmark config.
pub const SERVICE_TOKEN: &str = "herald-bench-service-token";

/// A system under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Herald,
    Node,
    Socketioxide,
    Floor,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Herald => "herald",
            Kind::Node => "node",
            Kind::Socketioxide => "socketioxide",
            Kind::Floor => "floor",
        }
    }

    pub fn parse(s: &str) -> anyhow::Result<Self> {
        Ok(match s {
            "herald" => Kind::Herald,
            "node" => Kind::Node,
            "socketioxide" => Kind::Socketioxide,
            "floor" => Kind::Floor,
            other => bail!("unknown system {other:?} (herald, node, socketioxide, floor)"),
        })
    }
}

/// Paths and CPU placement used to start systems.
#[derive(Clone, Debug)]
pub struct Launch {
    pub herald_bin: PathBuf,
    pub bench_bin: PathBuf,
    pub sio_bin: PathBuf,
    pub node_script: PathBuf,
    pub work_dir: PathBuf,
    pub server_cpu: String,
}

/// A running system.
pub struct Server {
    pub kind: Kind,
    pub pid: u32,
    pub ws_addr: SocketAddr,
    pub target: Target,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn herald_config(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("herald-bench.toml");
    let text = format!(
        r#"[core]
listen = "127.0.0.1:0"
service_tokens = ["{SERVICE_TOKEN}"]
[edge]
listen = "127.0.0.1:0"
service_token = "{SERVICE_TOKEN}"
static_dir = ""
[auth]
algorithms = ["HS256"]
hs256_secret = "{SECRET}"
[store]
url = ""
[[namespaces]]
name = "/"
relay = ["chat"]
relay_rate_per_sec = 100000
relay_burst = 100000
"#
    );
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Starts `kind` pinned to the server core and waits until it prints where it listens.
pub fn start(kind: Kind, launch: &Launch) -> anyhow::Result<Server> {
    std::fs::create_dir_all(&launch.work_dir)?;
    let log = std::fs::File::create(launch.work_dir.join(format!("{}.stderr.log", kind.name())))?;
    let mut cmd = Command::new("taskset");
    cmd.arg("-c").arg(&launch.server_cpu);
    match kind {
        Kind::Herald => {
            let cfg = herald_config(&launch.work_dir)?;
            cmd.arg(&launch.herald_bin)
                .arg("serve")
                .arg("--config")
                .arg(cfg);
            cmd.env("RUST_LOG", "warn");
        }
        Kind::Node => {
            cmd.arg("node").arg(&launch.node_script);
        }
        Kind::Socketioxide => {
            cmd.arg(&launch.sio_bin);
        }
        Kind::Floor => {
            cmd.arg(&launch.bench_bin).arg("floor");
        }
    }
    cmd.env("TOKIO_WORKER_THREADS", "1")
        .env("BENCH_SECRET", SECRET)
        .env("PORT", "0")
        .current_dir(&launch.work_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log));
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", kind.name()))?;
    let pid = child.id();
    let stdout = child.stdout.take().context("no stdout")?;
    let (tx, rx) = std_mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                // Keep draining so the server never blocks on a full pipe.
                continue;
            }
        }
    });
    let mut server = Server {
        kind,
        pid,
        ws_addr: "127.0.0.1:0".parse()?,
        target: Target::Http {
            addr: "127.0.0.1:0".parse()?,
        },
        child,
    };
    let mut core: Option<SocketAddr> = None;
    let mut edge: Option<SocketAddr> = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while edge.is_none() || (kind == Kind::Herald && core.is_none()) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = rx
            .recv_timeout(left)
            .with_context(|| format!("{} did not say where it listens", kind.name()))?;
        let addr = || -> anyhow::Result<SocketAddr> {
            Ok(line.rsplit(' ').next().unwrap_or("").trim().parse()?)
        };
        if line.starts_with("herald core listening on") {
            core = Some(addr()?);
        } else if line.starts_with("herald edge listening on") || line.starts_with("listening on") {
            edge = Some(addr()?);
        }
    }
    let edge = edge.context("no edge address")?;
    server.ws_addr = edge;
    server.target = match (kind, core) {
        (Kind::Herald, Some(core)) => Target::Herald {
            url: format!("http://{core}"),
            service_token: SERVICE_TOKEN.into(),
        },
        _ => Target::Http { addr: edge },
    };
    Ok(server)
}

/// Clock ticks per second of /proc CPU times.
pub fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of a process (all its threads), in clock ticks.
pub fn cpu_ticks(pid: &str) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which ends at the last ')'.
    let rest = stat.rsplit_once(')').map(|x| x.1).context("bad stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime 15.
    let utime: u64 = f.get(11).context("no utime")?.parse()?;
    let stime: u64 = f.get(12).context("no stime")?.parse()?;
    Ok(utime + stime)
}

/// VmRSS of a process in KiB.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("bad VmRSS")?
        .parse()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_has_cpu_and_memory() {
        assert!(cpu_ticks("self").is_ok());
        assert!(rss_kib(std::process::id()).unwrap() > 0);
    }
}
