//! `herald-bench`: the benchmark driver and load generator of issue 6 (`run`), and the floor peer
//! (`floor`). See bench/README.md.

mod client;
mod floor;
mod payload;
mod redis_info;
mod report;
mod scenarios;
mod system;
mod trigger;
mod ws;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::scenarios::{Ctx, Sizes};
use crate::system::{Kind, Launch};

#[derive(Parser)]
#[command(about = "Herald load generator and benchmark driver")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the scenarios against every system and print the table.
    Run(Box<RunArgs>),
    /// Serve the floor peer (prints `listening on ADDR`).
    Floor {
        #[arg(long, env = "PORT", default_value_t = 0)]
        port: u16,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// One repeat and small sizes: a smoke run.
    #[arg(long)]
    quick: bool,
    /// Repeats of every scenario (default 5, or 1 with --quick).
    #[arg(long)]
    repeats: Option<usize>,
    /// Systems, interleaved in this order within each repeat.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "herald,node,socketioxide,floor"
    )]
    systems: Vec<String>,
    /// Scenarios to run.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "broadcast,chat,idle,storm"
    )]
    scenarios: Vec<String>,
    /// Broadcast subscriber counts (overrides the mode's default).
    #[arg(long, value_delimiter = ',')]
    subs: Vec<usize>,
    /// Broadcast offered deliveries/s (overrides the mode's default).
    #[arg(long, value_delimiter = ',')]
    rates: Vec<f64>,
    /// Seconds per measured broadcast phase.
    #[arg(long)]
    phase_secs: Option<f64>,
    /// Broadcast saturation search steps (0: no search).
    #[arg(long)]
    sat_steps: Option<usize>,
    #[arg(long, default_value = "target/release/herald")]
    herald_bin: PathBuf,
    #[arg(
        long,
        default_value = "bench/peers/socketioxide/target/release/sio-peer"
    )]
    sio_bin: PathBuf,
    #[arg(long, default_value = "bench/peers/node/server.js")]
    node_script: PathBuf,
    /// Where servers run and write their logs.
    #[arg(long, default_value = "target/bench-work")]
    work_dir: PathBuf,
    /// CPU list the servers are pinned to (taskset -c).
    #[arg(long, default_value = "1")]
    server_cpu: String,
    /// Markdown results file.
    #[arg(long, default_value = "bench/results/latest.md")]
    out: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Floor { port } => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(floor::serve(port)),
        Cmd::Run(args) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let local = tokio::task::LocalSet::new();
            local.block_on(&rt, run(*args))
        }
    }
}

/// The soft limit on open files of this process.
fn open_files_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(1024)
}

fn abs(p: PathBuf) -> anyhow::Result<PathBuf> {
    Ok(if p.is_absolute() {
        p
    } else {
        std::env::current_dir()?.join(p)
    })
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut sizes = if args.quick {
        Sizes::quick()
    } else {
        Sizes::full()
    };
    if !args.subs.is_empty() {
        sizes.subs = args.subs.clone();
    }
    if !args.rates.is_empty() {
        sizes.rates = args.rates.clone();
    }
    if let Some(s) = args.phase_secs {
        sizes.phase_secs = s;
    }
    if let Some(s) = args.sat_steps {
        sizes.sat_steps = s;
    }
    let repeats = args
        .repeats
        .unwrap_or(if args.quick { 1 } else { 5 })
        .max(1);
    let systems = args
        .systems
        .iter()
        .map(|s| Kind::parse(s))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let launch = Launch {
        herald_bin: abs(args.herald_bin)?,
        bench_bin: std::env::current_exe()?,
        sio_bin: abs(args.sio_bin)?,
        node_script: abs(args.node_script)?,
        work_dir: abs(args.work_dir)?,
        server_cpu: args.server_cpu.clone(),
    };
    // Stay below the open-files limit (each client is one socket).
    let max_conns = open_files_limit().saturating_sub(500).min(18_000);
    let need = sizes
        .idle
        .iter()
        .chain(&sizes.subs)
        .copied()
        .chain([sizes.chat_pairs * 2, sizes.storm_n])
        .max()
        .unwrap_or(0)
        .min(max_conns);
    eprintln!("minting {need} tokens; open-files limit allows {max_conns} clients");
    let tokens = (0..need.max(1))
        .map(|i| payload::mint(system::SECRET, &format!("bench-user-{i}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut ctx = Ctx::new(launch, sizes, tokens)?;
    ctx.sizes
        .subs
        .iter_mut()
        .for_each(|s| *s = (*s).min(max_conns));
    ctx.sizes.chat_pairs = ctx.sizes.chat_pairs.min(max_conns / 2);
    ctx.sizes.storm_n = ctx.sizes.storm_n.min(max_conns);
    let started = std::time::Instant::now();
    for scen in &args.scenarios {
        for rep in 0..repeats {
            for &kind in &systems {
                eprintln!(
                    "[{:>5.0}s] {scen} repeat {}/{repeats}: {}",
                    started.elapsed().as_secs_f64(),
                    rep + 1,
                    kind.name()
                );
                let r = match scen.as_str() {
                    "broadcast" => scenarios::broadcast(&mut ctx, kind).await,
                    "chat" => scenarios::chat(&mut ctx, kind).await,
                    "idle" => scenarios::idle(&mut ctx, kind, max_conns).await,
                    "storm" => scenarios::storm(&mut ctx, kind).await,
                    other => {
                        anyhow::bail!("unknown scenario {other:?} (broadcast, chat, idle, storm)")
                    }
                };
                if let Err(e) = r {
                    eprintln!("  {} {scen} failed: {e:#}", kind.name());
                }
            }
        }
    }
    let mut table = ctx.report.markdown(&systems);
    if let Some(cluster) = ctx.report.cluster_summary() {
        table.push('\n');
        table.push_str(&cluster);
    }
    let cmdline: Vec<String> = std::env::args().skip(1).collect();
    let md = format!(
        "# Herald benchmark results\n\n\
         Command: `herald-bench {}` ({} repeat(s), interleaved; {} s total). Servers pinned to CPU {} with one \
         worker thread; generator and emitter on the other core. Values: median (min–max). \
         \"herald vs X\" is Herald's advantage on medians (> 1 means Herald is better: lower CPU/latency/memory, \
         higher rates). The floor does not verify tokens.\n\n{table}",
        cmdline.join(" "),
        repeats,
        started.elapsed().as_secs(),
        args.server_cpu
    );
    let out = abs(args.out)?;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, &md).with_context(|| format!("writing {}", out.display()))?;
    println!("{table}");
    eprintln!("written to {}", out.display());
    Ok(())
}
