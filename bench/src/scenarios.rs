//! The four scenarios (broadcast, chat, idle, connect storm), each run against a fresh process of every
//! system in turn (interleaved per repeat), measuring server CPU from /proc over each phase (summed over
//! a cluster's cores and its Redis), and for a cluster the Redis commands each Emit costs.

use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until};

use crate::client::{self, Mode, Spec, Stats};
use crate::payload::{broadcast_body, now_us};
use crate::redis_info;
use crate::report::{Better, Report};
use crate::system::{self, Kind, Launch, Server};
use crate::trigger::{Job, Pool};

/// Sizes and rates of a run.
#[derive(Clone, Debug)]
pub struct Sizes {
    pub subs: Vec<usize>,
    /// Offered deliveries per second in the broadcast scenario.
    pub rates: Vec<f64>,
    pub phase_secs: f64,
    /// Saturation search steps (offered rate x1.5 per step, from 1.5x the highest fixed rate). A phase is
    /// healthy when nothing is lost or skipped, >= 95% of the offered rate is delivered and p99 < 1 s.
    pub sat_steps: usize,
    pub chat_pairs: usize,
    /// Chat events each member sends per second.
    pub chat_rate: f64,
    pub chat_secs: f64,
    pub idle: Vec<usize>,
    pub storm_n: usize,
    pub storm_rate: f64,
}

impl Sizes {
    pub fn full() -> Self {
        Self {
            subs: vec![1000, 5000, 10_000],
            rates: vec![25_000.0, 50_000.0, 100_000.0],
            phase_secs: 5.0,
            sat_steps: 6,
            chat_pairs: 5000,
            chat_rate: 2.0,
            chat_secs: 5.0,
            idle: vec![10_000, 18_000],
            storm_n: 5000,
            storm_rate: 1000.0,
        }
    }

    pub fn quick() -> Self {
        Self {
            subs: vec![1000],
            rates: vec![20_000.0, 50_000.0],
            phase_secs: 2.0,
            sat_steps: 3,
            chat_pairs: 500,
            chat_rate: 2.0,
            chat_secs: 2.0,
            idle: vec![2000],
            storm_n: 1000,
            storm_rate: 500.0,
        }
    }
}

/// Everything a scenario needs.
pub struct Ctx {
    pub launch: Launch,
    pub sizes: Sizes,
    pub stats: Rc<Stats>,
    pub report: Report,
    pub tokens: Vec<String>,
    pub ticks: f64,
    pub workers: usize,
    run: Cell<u64>,
    bind: Cell<u32>,
}

impl Ctx {
    pub fn new(launch: Launch, sizes: Sizes, tokens: Vec<String>) -> anyhow::Result<Self> {
        Ok(Self {
            launch,
            sizes,
            stats: Stats::new()?,
            report: Report::default(),
            tokens,
            ticks: system::clock_ticks(),
            workers: 16,
            run: Cell::new(0),
            bind: Cell::new(0),
        })
    }

    fn next_run(&self) -> u64 {
        self.run.set(self.run.get() + 1);
        self.run.get()
    }

    fn next_bind(&self) -> IpAddr {
        let i = self.bind.get();
        self.bind.set(i.wrapping_add(1));
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (i % 200) as u8))
    }

    fn cpu_s(&self, pid: &str) -> f64 {
        system::cpu_ticks(pid)
            .map(|t| t as f64 / self.ticks)
            .unwrap_or(f64::NAN)
    }

    /// CPU seconds used so far by every process of `server`.
    fn server_cpu_s(&self, server: &Server) -> f64 {
        server.pids.iter().map(|p| self.cpu_s(&p.to_string())).sum()
    }

    fn add(&mut self, scenario: &str, figure: &str, better: Better, kind: Kind, v: f64) {
        self.report.add(scenario, figure, better, kind, v);
    }
}

/// A set of connected clients.
struct Group {
    mode: watch::Sender<Mode>,
    handles: Vec<JoinHandle<()>>,
    ok: usize,
    errors: Vec<String>,
    connect_us: Histogram<u64>,
    elapsed: Duration,
}

impl Group {
    async fn close(self) {
        let _ = self.mode.send(Mode::Close);
        let deadline = Instant::now() + Duration::from_secs(10);
        for h in self.handles {
            let left = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, h).await.is_err() {
                break;
            }
        }
    }
}

/// Connects `n` clients (tokens from `first`), `concurrency` handshakes at a time, or paced at `pace`/s;
/// client `i` goes to `addrs[i % addrs.len()]`.
async fn connect(
    ctx: &Ctx,
    addrs: &[SocketAddr],
    n: usize,
    first: usize,
    room: impl Fn(usize) -> Option<String>,
    pace: Option<f64>,
) -> anyhow::Result<Group> {
    let (mode, _) = watch::channel(Mode::Listen);
    let (tx, mut rx) = mpsc::channel(n.max(1));
    let sem = Arc::new(Semaphore::new(256));
    let mut handles = Vec::with_capacity(n);
    let start = Instant::now();
    let mut connect_us = Histogram::new_with_bounds(1, client::HIST_MAX_US, 3)?;
    let mut ok = 0;
    let mut errors = Vec::new();
    let mut got = 0;
    for i in 0..n {
        let permit = match pace {
            Some(rate) => {
                sleep_until(start + Duration::from_secs_f64(i as f64 / rate)).await;
                None
            }
            None => Some(sem.clone().acquire_owned().await?),
        };
        let spec = Spec {
            addr: addrs[i % addrs.len()],
            bind: ctx.next_bind(),
            token: ctx.tokens[(first + i) % ctx.tokens.len()].clone(),
            room: room(i),
            index: (first + i) as u64,
        };
        handles.push(tokio::task::spawn_local(client::run(
            spec,
            ctx.stats.clone(),
            mode.subscribe(),
            tx.clone(),
            permit,
        )));
        while let Ok(r) = rx.try_recv() {
            got += 1;
            tally(r, &mut ok, &mut errors, &mut connect_us);
        }
    }
    drop(tx);
    let deadline = Instant::now() + Duration::from_secs(60);
    while got < n {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(r)) => {
                got += 1;
                tally(r, &mut ok, &mut errors, &mut connect_us);
            }
            _ => break,
        }
    }
    if got < n {
        errors.push(format!(
            "{} clients did not finish their handshake",
            n - got
        ));
    }
    Ok(Group {
        mode,
        handles,
        ok,
        errors,
        connect_us,
        elapsed: start.elapsed(),
    })
}

fn tally(r: Result<u64, String>, ok: &mut usize, errors: &mut Vec<String>, h: &mut Histogram<u64>) {
    match r {
        Ok(us) => {
            *ok += 1;
            let _ = h.record(us.clamp(1, client::HIST_MAX_US));
        }
        Err(e) => errors.push(e),
    }
}

fn summarize_errors(errors: &[String]) -> String {
    let mut e: Vec<&String> = errors.iter().take(3).collect();
    e.dedup();
    format!("{} errors, e.g. {:?}", errors.len(), e)
}

fn start(ctx: &Ctx, kind: Kind) -> anyhow::Result<Server> {
    let s = system::start(kind, &ctx.launch)?;
    eprintln!(
        "  started {} (pids {:?}) ws {:?}",
        s.kind.name(),
        s.pids,
        s.ws_addrs
    );
    Ok(s)
}

/// One broadcast phase's measurements.
struct Phase {
    offered: f64,
    delivered_rate: f64,
    received: u64,
    lost: u64,
    skipped: u64,
    failed: u64,
    cpu_s: f64,
    gen_load: f64,
    p50: f64,
    p99: f64,
    p999: f64,
    /// Emits that returned OK.
    emits: u64,
    /// Commands the cluster's Redis executed over the phase.
    redis_calls: Option<u64>,
    /// CPU seconds of the cluster's Redis over the phase.
    redis_cpu_s: f64,
    wall: f64,
}

impl Phase {
    fn healthy(&self) -> bool {
        self.lost == 0
            && self.skipped == 0
            && self.failed == 0
            && self.delivered_rate >= 0.95 * self.offered
            && self.p99 < 1000.0
    }
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        f64::NAN
    } else {
        h.value_at_quantile(q) as f64 / 1000.0
    }
}

async fn broadcast_phase(
    ctx: &Ctx,
    server: &Server,
    pool: &mut Pool,
    subs: usize,
    rate: f64,
    secs: f64,
) -> Phase {
    let stats = &ctx.stats;
    let run = ctx.next_run();
    stats.begin(run);
    pool.reset();
    let cpu0 = ctx.server_cpu_s(server);
    let calls0 = server.redis.map(|(a, _)| redis_info::command_calls(a));
    let redis_pid = server.redis.map(|(_, p)| p.to_string());
    let redis_cpu0 = redis_pid.as_deref().map_or(0.0, |p| ctx.cpu_s(p));
    let gen0 = ctx.cpu_s("self");
    let room: Rc<str> = Rc::from("bench");
    let n_emits = ((rate * secs / subs as f64).ceil() as u64).max(1);
    let gap = subs as f64 / rate;
    let start = Instant::now();
    let t_first = now_us();
    for i in 0..n_emits {
        sleep_until(start + Duration::from_secs_f64(gap * i as f64)).await;
        pool.submit(Job {
            room: room.clone(),
            body: broadcast_body(run, now_us()),
        });
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last = (stats.received.get(), Instant::now());
    loop {
        sleep(Duration::from_millis(20)).await;
        let es = &pool.stats;
        let expected = es.ok.get() * subs as u64;
        let got = stats.received.get();
        let now = Instant::now();
        if es.in_flight.get() == 0 && got >= expected {
            break;
        }
        if got != last.0 {
            last = (got, now);
        } else if es.in_flight.get() == 0 && now - last.1 > Duration::from_secs(1) {
            break;
        }
        if now > deadline {
            break;
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu_s = ctx.server_cpu_s(server) - cpu0;
    let redis_cpu_s = redis_pid.as_deref().map_or(0.0, |p| ctx.cpu_s(p)) - redis_cpu0;
    let redis_calls = match (
        calls0,
        server.redis.map(|(a, _)| redis_info::command_calls(a)),
    ) {
        (Some(Ok(a)), Some(Ok(b))) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let gen_s = ctx.cpu_s("self") - gen0;
    let es = &pool.stats;
    let received = stats.received.get();
    let expected = es.ok.get() * subs as u64;
    let span = (stats.last_rx_us.get().saturating_sub(t_first)) as f64 / 1e6;
    let h = stats.hist.borrow();
    Phase {
        offered: rate,
        delivered_rate: if span > 0.0 {
            received as f64 / span.max(secs)
        } else {
            0.0
        },
        received,
        lost: expected.saturating_sub(received),
        skipped: es.skipped.get(),
        failed: es.failed.get(),
        cpu_s,
        gen_load: gen_s / wall,
        p50: ms(&h, 0.5),
        p99: ms(&h, 0.99),
        p999: ms(&h, 0.999),
        emits: es.ok.get(),
        redis_calls,
        redis_cpu_s,
        wall,
    }
}

fn k(x: f64) -> String {
    if x >= 1000.0 {
        format!("{}k", (x / 1000.0).round())
    } else {
        format!("{x}")
    }
}

/// Broadcast: one room of `subs` subscribers, open-loop offered rates, then a saturation search.
pub async fn broadcast(ctx: &mut Ctx, kind: Kind) -> anyhow::Result<()> {
    for subs in ctx.sizes.subs.clone() {
        let server = start(ctx, kind)?;
        sleep(Duration::from_millis(300)).await;
        let group = connect(
            ctx,
            &server.ws_addrs,
            subs,
            0,
            |_| Some("bench".into()),
            None,
        )
        .await?;
        let scen0 = format!("broadcast {} subs", k(subs as f64));
        if !group.errors.is_empty() {
            eprintln!("  {}: {}", kind.name(), summarize_errors(&group.errors));
        }
        ctx.add(
            &scen0,
            "connect errors",
            Better::None,
            kind,
            group.errors.len() as f64,
        );
        let mut pool = Pool::start(&server.target, ctx.workers).await?;
        let background = redis_background(server.redis.map(|(a, _)| a)).await;
        if let Some(bg) = background {
            eprintln!("  {}: redis background {bg:.1} commands/s", kind.name());
            ctx.add(
                &scen0,
                "Redis background commands/s",
                Better::None,
                kind,
                bg,
            );
        }
        let secs = ctx.sizes.phase_secs;
        let mut best: f64 = 0.0;
        for rate in ctx.sizes.rates.clone() {
            let p = broadcast_phase(ctx, &server, &mut pool, subs, rate, secs).await;
            if p.healthy() {
                best = best.max(rate);
            }
            let scen = format!("broadcast {} subs @ {}/s", k(subs as f64), k(rate));
            eprintln!(
                "  {} {scen}: {} delivered, lost {}, cpu {:.3}s, p99 {:.2}ms, gen {:.0}%",
                kind.name(),
                p.received,
                p.lost,
                p.cpu_s,
                p.p99,
                p.gen_load * 100.0
            );
            let per = if p.received > 0 {
                p.cpu_s * 1e6 / p.received as f64
            } else {
                f64::NAN
            };
            ctx.add(&scen, "server CPU µs/delivery", Better::Lower, kind, per);
            ctx.add(
                &scen,
                "deliveries/s (wall)",
                Better::Higher,
                kind,
                p.delivered_rate,
            );
            ctx.add(&scen, "p50 ms", Better::Lower, kind, p.p50);
            ctx.add(&scen, "p99 ms", Better::Lower, kind, p.p99);
            ctx.add(&scen, "p999 ms", Better::Lower, kind, p.p999);
            ctx.add(
                &scen,
                "lost",
                Better::None,
                kind,
                (p.lost + p.skipped * subs as u64) as f64,
            );
            ctx.add(
                &scen,
                "generator CPU %",
                Better::None,
                kind,
                p.gen_load * 100.0,
            );
            if let (Some(calls), Some(bg)) = (p.redis_calls, background) {
                let emits = p.emits.max(1) as f64;
                let per = (calls as f64 - bg * p.wall).max(0.0) / emits;
                eprintln!(
                    "  {} {scen}: redis {calls} commands for {} emits ({per:.2}/emit net of background)",
                    kind.name(),
                    p.emits
                );
                ctx.add(&scen, "Redis commands/Emit", Better::Lower, kind, per);
                ctx.add(
                    &scen,
                    "Redis CPU µs/Emit",
                    Better::None,
                    kind,
                    p.redis_cpu_s * 1e6 / emits,
                );
                ctx.add(
                    &scen,
                    "Redis commands/Emit (incl. background)",
                    Better::None,
                    kind,
                    calls as f64 / emits,
                );
            }
        }
        let mut rate = ctx.sizes.rates.iter().copied().fold(0.0, f64::max) * 1.5;
        let mut limit = String::from("search cap");
        for _ in 0..ctx.sizes.sat_steps {
            let p = broadcast_phase(ctx, &server, &mut pool, subs, rate, secs.min(3.0)).await;
            eprintln!(
                "  {} saturation @ {}/s: delivered {:.0}/s lost {} p99 {:.1}ms gen {:.0}% cpu {:.2}s",
                kind.name(),
                k(rate),
                p.delivered_rate,
                p.lost,
                p.p99,
                p.gen_load * 100.0,
                p.cpu_s
            );
            if !p.healthy() {
                limit = if p.gen_load > 0.9 {
                    "generator".into()
                } else {
                    "server".into()
                };
                break;
            }
            best = rate;
            rate *= 1.5;
        }
        if ctx.sizes.sat_steps > 0 {
            eprintln!(
                "  {} saturation {scen0}: {} (limited by {limit})",
                kind.name(),
                k(best)
            );
            ctx.add(
                &scen0,
                "saturation deliveries/s",
                Better::Higher,
                kind,
                best,
            );
        }
        ctx.add(
            &scen0,
            "server RSS MiB",
            Better::Lower,
            kind,
            server.rss_kib().unwrap_or(0) as f64 / 1024.0,
        );
        drop(pool);
        group.close().await;
        drop(server);
    }
    Ok(())
}

/// Chat: pairs in 1:1 rooms, every member sending to its room at a fixed rate.
pub async fn chat(ctx: &mut Ctx, kind: Kind) -> anyhow::Result<()> {
    let pairs = ctx.sizes.chat_pairs;
    let server = start(ctx, kind)?;
    sleep(Duration::from_millis(300)).await;
    let group = connect(
        ctx,
        &server.ws_addrs,
        pairs * 2,
        0,
        |i| Some(format!("pair-{}", i / 2)),
        None,
    )
    .await?;
    let scen = format!(
        "chat {} pairs @ {}/s/member",
        k(pairs as f64),
        ctx.sizes.chat_rate
    );
    if !group.errors.is_empty() {
        eprintln!("  {}: {}", kind.name(), summarize_errors(&group.errors));
    }
    let stats = ctx.stats.clone();
    let run = ctx.next_run();
    stats.begin(run);
    let cpu0 = ctx.server_cpu_s(&server);
    let start = Instant::now();
    let period_us = (1e6 / ctx.sizes.chat_rate) as u64;
    let _ = group.mode.send(Mode::Chat { run, period_us });
    sleep(Duration::from_secs_f64(ctx.sizes.chat_secs)).await;
    let _ = group.mode.send(Mode::Listen);
    let sent_at_stop = stats.sent.get();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = (stats.received.get(), Instant::now());
    while stats.received.get() < stats.sent.get() && Instant::now() < deadline {
        sleep(Duration::from_millis(20)).await;
        let got = stats.received.get();
        if got != last.0 {
            last = (got, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(1) {
            break;
        }
    }
    let cpu_s = ctx.server_cpu_s(&server) - cpu0;
    let wall = start.elapsed().as_secs_f64();
    let received = stats.received.get();
    let sent = stats.sent.get().max(sent_at_stop);
    eprintln!(
        "  {} {scen}: sent {sent} received {received} cpu {cpu_s:.3}s wall {wall:.1}s",
        kind.name()
    );
    let (p50, p99, p999) = {
        let h = stats.hist.borrow();
        (ms(&h, 0.5), ms(&h, 0.99), ms(&h, 0.999))
    };
    ctx.add(
        &scen,
        "connect errors",
        Better::None,
        kind,
        group.errors.len() as f64,
    );
    ctx.add(
        &scen,
        "routed events/server CPU-s",
        Better::Higher,
        kind,
        received as f64 / cpu_s,
    );
    ctx.add(
        &scen,
        "routed events/s (wall)",
        Better::Higher,
        kind,
        received as f64 / ctx.sizes.chat_secs,
    );
    ctx.add(&scen, "p50 ms", Better::Lower, kind, p50);
    ctx.add(&scen, "p99 ms", Better::Lower, kind, p99);
    ctx.add(&scen, "p999 ms", Better::Lower, kind, p999);
    ctx.add(
        &scen,
        "lost",
        Better::None,
        kind,
        sent.saturating_sub(received) as f64,
    );
    group.close().await;
    drop(server);
    Ok(())
}

/// Idle: resident memory per connected (CONNECTed, no room) client.
pub async fn idle(ctx: &mut Ctx, kind: Kind, max_conns: usize) -> anyhow::Result<()> {
    let server = start(ctx, kind)?;
    sleep(Duration::from_millis(1000)).await;
    let rss0 = server.rss_kib()?;
    let mut groups = Vec::new();
    let mut have = 0;
    for n in ctx.sizes.idle.clone() {
        let n = n.min(max_conns);
        if n <= have {
            continue;
        }
        let g = connect(ctx, &server.ws_addrs, n - have, have, |_| None, None).await?;
        if !g.errors.is_empty() {
            eprintln!("  {}: {}", kind.name(), summarize_errors(&g.errors));
        }
        have += g.ok;
        groups.push(g);
        sleep(Duration::from_secs(2)).await;
        let rss = server.rss_kib()?;
        let scen = format!("idle {} conns", k(n as f64));
        eprintln!(
            "  {} {scen}: rss {} KiB (baseline {rss0} KiB), {have} connected",
            kind.name(),
            rss
        );
        ctx.add(
            &scen,
            "server RSS KiB/conn (over baseline)",
            Better::Lower,
            kind,
            (rss.saturating_sub(rss0)) as f64 / have.max(1) as f64,
        );
        ctx.add(
            &scen,
            "server RSS MiB total",
            Better::Lower,
            kind,
            rss as f64 / 1024.0,
        );
        ctx.add(
            &scen,
            "connect errors",
            Better::None,
            kind,
            (n - have) as f64,
        );
    }
    for g in groups {
        g.close().await;
    }
    drop(server);
    Ok(())
}

/// Connect storm: paced handshakes with a JWT in the CONNECT auth.
pub async fn storm(ctx: &mut Ctx, kind: Kind) -> anyhow::Result<()> {
    let server = start(ctx, kind)?;
    sleep(Duration::from_millis(500)).await;
    let cpu0 = ctx.server_cpu_s(&server);
    let n = ctx.sizes.storm_n;
    let g = connect(
        ctx,
        &server.ws_addrs,
        n,
        0,
        |_| None,
        Some(ctx.sizes.storm_rate),
    )
    .await?;
    let cpu_s = ctx.server_cpu_s(&server) - cpu0;
    let scen = format!(
        "connect storm {} @ {}/s",
        k(n as f64),
        k(ctx.sizes.storm_rate)
    );
    if !g.errors.is_empty() {
        eprintln!("  {}: {}", kind.name(), summarize_errors(&g.errors));
    }
    eprintln!("  {} {scen}: ok {} cpu {cpu_s:.3}s", kind.name(), g.ok);
    ctx.add(
        &scen,
        "server CPU µs/handshake",
        Better::Lower,
        kind,
        cpu_s * 1e6 / g.ok.max(1) as f64,
    );
    ctx.add(
        &scen,
        "p50 connect ms",
        Better::Lower,
        kind,
        ms(&g.connect_us, 0.5),
    );
    ctx.add(
        &scen,
        "p99 connect ms",
        Better::Lower,
        kind,
        ms(&g.connect_us, 0.99),
    );
    ctx.add(
        &scen,
        "handshakes/s (wall)",
        Better::Higher,
        kind,
        g.ok as f64 / g.elapsed.as_secs_f64(),
    );
    ctx.add(&scen, "errors", Better::None, kind, g.errors.len() as f64);
    g.close().await;
    drop(server);
    Ok(())
}

/// Commands per second a cluster's Redis executes with nothing emitted (heartbeats and the like),
/// over two idle seconds; subtracted from each phase's count.
async fn redis_background(redis: Option<SocketAddr>) -> Option<f64> {
    let addr = redis?;
    let a = redis_info::command_calls(addr).ok()?;
    let t = Instant::now();
    sleep(Duration::from_secs(2)).await;
    let b = redis_info::command_calls(addr).ok()?;
    Some(b.saturating_sub(a) as f64 / t.elapsed().as_secs_f64())
}
