//! Prometheus text exposition shared by the edge and the core: metric families, label escaping,
//! a lock-free fixed-bucket histogram, and the `process_*` metrics read from `/proc`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Appends one metric family with its samples (`labels` already formatted, e.g. `namespace="/"`).
pub fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, u64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, v) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {v}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {v}");
        }
    }
}

/// A label value escaped as the text format wants it.
pub fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// `name="value"` with the value escaped.
pub fn label(name: &str, value: &str) -> String {
    format!("{name}=\"{}\"", escape(value))
}

/// Bucket bounds, in seconds, for latencies from a millisecond to a minute.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// A histogram with fixed bounds: one atomic add per bucket at or above the value (cumulative
/// counts, as the format wants), no lock and no allocation per observation.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    buckets: Box<[AtomicU64]>,
    /// Sum of the observations in millionths.
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            buckets: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Records one value (seconds, or a plain count for non-time histograms).
    pub fn observe(&self, v: f64) {
        let v = if v.is_finite() && v > 0.0 { v } else { 0.0 };
        // Bounds are sorted: every bucket from the first that holds `v` counts it.
        if let Some(first) = self.bounds.iter().position(|b| v <= *b) {
            for b in &self.buckets[first..] {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let micros = (v * 1_000_000.0) as u64;
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// The observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Appends the family (`labels` may be empty).
    pub fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        self.render_samples(out, name, "");
    }

    /// Appends the samples of one labelled series (after the family's HELP/TYPE lines).
    pub fn render_samples(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (b, c) in self.bounds.iter().zip(self.buckets.iter()) {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        let count = self.count();
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        #[allow(clippy::cast_precision_loss)]
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1_000_000.0;
        let braces = |s: &str| {
            if s.is_empty() {
                String::new()
            } else {
                format!("{{{s}}}")
            }
        };
        let _ = writeln!(out, "{name}_sum{} {sum}", braces(labels));
        let _ = writeln!(out, "{name}_count{} {count}", braces(labels));
    }
}

/// Clock ticks per second of `/proc/self/stat` (USER_HZ, 100 on Linux).
const USER_HZ: f64 = 100.0;

/// `process_resident_memory_bytes`, `process_open_fds`, `process_cpu_seconds_total` and
/// `process_start_time_seconds` of this process (nothing where `/proc` is missing).
pub fn process(out: &mut String) {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let rss_kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok());
        if let Some(kb) = rss_kb {
            family(
                out,
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size in bytes.",
                &[(String::new(), kb * 1024)],
            );
        }
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        let fds = u64::try_from(dir.count()).unwrap_or(u64::MAX);
        family(
            out,
            "process_open_fds",
            "gauge",
            "Open file descriptors.",
            &[(String::new(), fds)],
        );
    }
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the command name (which may contain spaces) start at field 3.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        // utime and stime are fields 14 and 15, i.e. 11 and 12 after the state field.
        #[allow(clippy::cast_precision_loss)]
        let cpu = (ticks(11) + ticks(12)) as f64 / USER_HZ;
        let _ = writeln!(
            out,
            "# HELP process_cpu_seconds_total User and system CPU time spent in seconds.\n\
             # TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total {cpu}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::new(&[0.1, 1.0]);
        h.observe(0.05);
        h.observe(0.5);
        h.observe(5.0);
        let mut out = String::new();
        h.render(&mut out, "x_seconds", "help");
        assert!(out.contains("x_seconds_bucket{le=\"0.1\"} 1\n"), "{out}");
        assert!(out.contains("x_seconds_bucket{le=\"1\"} 2\n"), "{out}");
        assert!(out.contains("x_seconds_bucket{le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("x_seconds_count 3\n"), "{out}");
        assert!(out.contains("x_seconds_sum 5.55\n"), "{out}");
    }

    #[test]
    fn process_metrics_are_read() {
        let mut out = String::new();
        process(&mut out);
        if std::path::Path::new("/proc/self/status").exists() {
            assert!(out.contains("process_resident_memory_bytes "), "{out}");
            assert!(out.contains("process_open_fds "), "{out}");
            assert!(out.contains("process_cpu_seconds_total "), "{out}");
        }
    }
}
