//! The systems under test: how each is started (pinned with `taskset` to the server core, one worker
//! thread), where it listens, how it takes emit triggers, and its CPU time and resident memory from /proc.
//! `herald-cluster` is two `herald serve` processes sharing a private `redis-server`, all on that core.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

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
    /// Two Herald cores (each `herald serve`, core and edge) on one private Redis.
    HeraldCluster,
    Node,
    Socketioxide,
    Floor,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Herald => "herald",
            Kind::HeraldCluster => "herald-cluster",
            Kind::Node => "node",
            Kind::Socketioxide => "socketioxide",
            Kind::Floor => "floor",
        }
    }

    pub fn parse(s: &str) -> anyhow::Result<Self> {
        Ok(match s {
            "herald" => Kind::Herald,
            "herald-cluster" => Kind::HeraldCluster,
            "node" => Kind::Node,
            "socketioxide" => Kind::Socketioxide,
            "floor" => Kind::Floor,
            other => bail!(
                "unknown system {other:?} (herald, herald-cluster, node, socketioxide, floor)"
            ),
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

/// A running system: one process, or for the cluster two cores and their Redis.
pub struct Server {
    pub kind: Kind,
    /// Every process whose CPU time and memory count as the server's.
    pub pids: Vec<u32>,
    /// Where clients connect; a group of clients is spread evenly over these.
    pub ws_addrs: Vec<SocketAddr>,
    pub target: Target,
    /// The cluster's private Redis: its address and pid (also in `pids`).
    pub redis: Option<(SocketAddr, u32)>,
    /// Stopped in reverse order (the cores before their Redis).
    children: Vec<Child>,
}

impl Drop for Server {
    fn drop(&mut self) {
        while let Some(mut child) = self.children.pop() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Server {
    /// VmRSS summed over the server's processes, in KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        self.pids.iter().map(|p| rss_kib(*p)).sum()
    }
}

/// Herald's benchmark config; `extra` is appended (the cluster's `[broker]`).
fn herald_config(dir: &Path, name: &str, extra: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
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
# The bench measures the server, not a per-user budget.
user_event_rate_per_sec = 0
{extra}"#
    );
    std::fs::write(&path, text)?;
    Ok(path)
}

fn pinned(launch: &Launch) -> Command {
    let mut cmd = Command::new("taskset");
    cmd.arg("-c").arg(&launch.server_cpu);
    cmd
}

fn log_file(launch: &Launch, name: &str) -> anyhow::Result<std::fs::File> {
    Ok(std::fs::File::create(
        launch.work_dir.join(format!("{name}.stderr.log")),
    )?)
}

fn herald_cmd(launch: &Launch, cfg: &Path) -> Command {
    let mut cmd = pinned(launch);
    cmd.arg(&launch.herald_bin)
        .arg("serve")
        .arg("--config")
        .arg(cfg);
    cmd.env("RUST_LOG", "warn");
    cmd
}

/// Starts `kind` pinned to the server core and waits until it says where it listens.
pub fn start(kind: Kind, launch: &Launch) -> anyhow::Result<Server> {
    std::fs::create_dir_all(&launch.work_dir)?;
    let cmd = match kind {
        Kind::HeraldCluster => return start_cluster(launch),
        Kind::Herald => {
            let cfg = herald_config(&launch.work_dir, "herald-bench.toml", "")?;
            herald_cmd(launch, &cfg)
        }
        Kind::Node => {
            let mut cmd = pinned(launch);
            cmd.arg("node").arg(&launch.node_script);
            cmd
        }
        Kind::Socketioxide => {
            let mut cmd = pinned(launch);
            cmd.arg(&launch.sio_bin);
            cmd
        }
        Kind::Floor => {
            let mut cmd = pinned(launch);
            cmd.arg(&launch.bench_bin).arg("floor");
            cmd
        }
    };
    let mut children = Vec::new();
    let (core, edge) = spawn_listening(
        cmd,
        kind.name(),
        log_file(launch, kind.name())?,
        launch,
        kind == Kind::Herald,
        &mut children,
    )?;
    let target = match core {
        Some(core) => Target::Herald {
            url: format!("http://{core}"),
            service_token: SERVICE_TOKEN.into(),
        },
        None => Target::Http { addr: edge },
    };
    Ok(Server {
        kind,
        pids: children.iter().map(Child::id).collect(),
        ws_addrs: vec![edge],
        target,
        redis: None,
        children,
    })
}

/// A private `redis-server` and two Herald cores with the same config and a fresh key prefix; events
/// are emitted through core 0's gRPC, clients are spread over both edges.
fn start_cluster(launch: &Launch) -> anyhow::Result<Server> {
    static STARTS: AtomicU32 = AtomicU32::new(0);
    let mut children = Vec::new();
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let redis_addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let mut cmd = pinned(launch);
    cmd.arg("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .current_dir(&launch.work_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log_file(launch, "redis-server")?))
        .stderr(Stdio::from(log_file(launch, "redis-server.err")?));
    let redis = cmd.spawn().context("starting redis-server")?;
    let redis_pid = redis.id();
    children.push(redis);
    let deadline = Instant::now() + Duration::from_secs(15);
    while crate::redis_info::ping(redis_addr).is_err() {
        if Instant::now() > deadline {
            bail!("redis-server on port {port} did not answer PING");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let prefix = format!(
        "bench-{}-{}",
        std::process::id(),
        STARTS.fetch_add(1, Ordering::Relaxed)
    );
    let broker = format!("[broker]\nurl = \"redis://{redis_addr}\"\nkey_prefix = \"{prefix}\"\n");
    let cfg = herald_config(&launch.work_dir, "herald-cluster-bench.toml", &broker)?;
    let mut cores = Vec::new();
    let mut ws_addrs = Vec::new();
    for i in 0..2 {
        let name = format!("herald-cluster-{i}");
        let (core, edge) = spawn_listening(
            herald_cmd(launch, &cfg),
            &name,
            log_file(launch, &name)?,
            launch,
            true,
            &mut children,
        )?;
        cores.push(core.context("no core address")?);
        ws_addrs.push(edge);
    }
    // CPU is summed over both cores and Redis.
    let pids = children.iter().map(Child::id).collect();
    Ok(Server {
        kind: Kind::HeraldCluster,
        pids,
        ws_addrs,
        target: Target::Herald {
            url: format!("http://{}", cores[0]),
            service_token: SERVICE_TOKEN.into(),
        },
        redis: Some((redis_addr, redis_pid)),
        children,
    })
}

/// Spawns `cmd` (pushed onto `children` at once, so it is stopped on any error) and waits until it
/// prints its edge (and, when `want_core`, its gRPC core) address.
fn spawn_listening(
    mut cmd: Command,
    name: &str,
    log: std::fs::File,
    launch: &Launch,
    want_core: bool,
    children: &mut Vec<Child>,
) -> anyhow::Result<(Option<SocketAddr>, SocketAddr)> {
    cmd.env("TOKIO_WORKER_THREADS", "1")
        .env("BENCH_SECRET", SECRET)
        .env("PORT", "0")
        .current_dir(&launch.work_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log));
    let mut child = cmd.spawn().with_context(|| format!("starting {name}"))?;
    let stdout = child.stdout.take().context("no stdout")?;
    children.push(child);
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
    let mut core: Option<SocketAddr> = None;
    let mut edge: Option<SocketAddr> = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    while edge.is_none() || (want_core && core.is_none()) {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .with_context(|| format!("{name} did not say where it listens"))?;
        let addr = || -> anyhow::Result<SocketAddr> {
            Ok(line.rsplit(' ').next().unwrap_or("").trim().parse()?)
        };
        if line.starts_with("herald core listening on") {
            core = Some(addr()?);
        } else if line.starts_with("herald edge listening on") || line.starts_with("listening on") {
            edge = Some(addr()?);
        }
    }
    Ok((core, edge.context("no edge address")?))
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
