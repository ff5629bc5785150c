//! A private three-master Redis Cluster for the tests that need cluster mode: three
//! `redis-server --cluster-enabled yes` on free ports, joined with `redis-cli --cluster create`.
//! One cluster per test binary, started on first use; each server is watched by a small shell
//! loop that stops it (and removes its files) once the test process is gone, since a test binary
//! runs no destructors at exit.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const READY_WITHIN: Duration = Duration::from_secs(30);

/// The seed URLs of the cluster (comma-separated), for `ClusterConfig::url`.
pub fn redis_cluster_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| start().unwrap_or_else(|e| panic!("private Redis Cluster: {e}")))
}

/// A port that is free, and whose cluster bus port (+10000) is free too.
fn free_port() -> u16 {
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = l.local_addr().expect("its address").port();
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

fn start() -> Result<String, String> {
    let dir = std::env::temp_dir().join(format!(
        "herald-rcluster-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let me = std::process::id();
    for port in &ports {
        // The watcher: runs the server, and stops it when this test process exits.
        let script = format!(
            "redis-server --port {port} --bind 127.0.0.1 --cluster-enabled yes \
             --cluster-config-file {dir}/nodes-{port}.conf --dir {dir} --save '' \
             --appendonly no >/dev/null 2>&1 & r=$!; \
             while kill -0 {me} 2>/dev/null && kill -0 $r 2>/dev/null; do sleep 0.5; done; \
             kill $r 2>/dev/null; wait $r; rm -rf {dir}",
            dir = dir.display()
        );
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run redis-server: {e}"))?;
    }
    for port in &ports {
        until(|| cli(*port, &["PING"]).is_some_and(|o| o.trim() == "PONG"))
            .map_err(|()| format!("redis-server on port {port} did not start"))?;
    }
    let mut create = vec!["--cluster".to_owned(), "create".to_owned()];
    create.extend(ports.iter().map(|p| format!("127.0.0.1:{p}")));
    create.extend(["--cluster-replicas", "0", "--cluster-yes"].map(String::from));
    let out = Command::new("redis-cli")
        .args(&create)
        .output()
        .map_err(|e| format!("cannot run redis-cli: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    for port in &ports {
        until(|| cli(*port, &["CLUSTER", "INFO"]).is_some_and(|o| o.contains("cluster_state:ok")))
            .map_err(|()| format!("node {port} never reached cluster_state:ok"))?;
    }
    Ok(ports
        .iter()
        .map(|p| format!("redis://127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(","))
}

fn cli(port: u16, args: &[&str]) -> Option<String> {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Polls `ok` until it holds or the deadline passes.
fn until(mut ok: impl FnMut() -> bool) -> Result<(), ()> {
    let deadline = Instant::now() + READY_WITHIN;
    while Instant::now() < deadline {
        if ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(())
}
