//! Results: samples per (scenario, figure, system) over the repeats, printed as a table of medians with
//! min-max and Herald's advantage over each other system, and written as Markdown.

use std::fmt::Write as _;

use crate::system::Kind;

/// Which way a figure is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
    /// Informational (e.g. loss counts, generator load): no ratio.
    None,
}

struct Row {
    scenario: String,
    figure: String,
    better: Better,
    samples: Vec<(Kind, f64)>,
}

/// Every figure measured in a run.
#[derive(Default)]
pub struct Report {
    rows: Vec<Row>,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn fmt_num(x: f64) -> String {
    let a = x.abs();
    if x == 0.0 {
        "0".into()
    } else if a >= 100_000.0 {
        format!("{:.0}k", x / 1000.0)
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

impl Report {
    /// Adds one sample.
    pub fn add(&mut self, scenario: &str, figure: &str, better: Better, kind: Kind, value: f64) {
        if !value.is_finite() {
            return;
        }
        let row = match self
            .rows
            .iter_mut()
            .position(|r| r.scenario == scenario && r.figure == figure)
        {
            Some(i) => &mut self.rows[i],
            None => {
                self.rows.push(Row {
                    scenario: scenario.to_owned(),
                    figure: figure.to_owned(),
                    better,
                    samples: Vec::new(),
                });
                let last = self.rows.len() - 1;
                &mut self.rows[last]
            }
        };
        row.samples.push((kind, value));
    }

    fn stats(row: &Row, kind: Kind) -> Option<(f64, f64, f64, usize)> {
        let mut v: Vec<f64> = row
            .samples
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, x)| *x)
            .collect();
        if v.is_empty() {
            return None;
        }
        let med = median(&mut v);
        Some((med, v[0], v[v.len() - 1], v.len()))
    }

    /// Herald's advantage over `other` (> 1: Herald better), on medians.
    pub fn advantage(&self, scenario: &str, figure: &str, other: Kind) -> Option<f64> {
        let row = self
            .rows
            .iter()
            .find(|r| r.scenario == scenario && r.figure == figure)?;
        let h = Self::stats(row, Kind::Herald)?.0;
        let o = Self::stats(row, other)?.0;
        match row.better {
            Better::Lower if h > 0.0 => Some(o / h),
            Better::Higher if o > 0.0 => Some(h / o),
            _ => None,
        }
    }

    /// Median of `kind`'s samples of one figure.
    fn median_of(&self, scenario: &str, figure: &str, kind: Kind) -> Option<f64> {
        let row = self
            .rows
            .iter()
            .find(|r| r.scenario == scenario && r.figure == figure)?;
        Some(Self::stats(row, kind)?.0)
    }

    /// The cluster against the single node measured in the same run: for every broadcast phase both
    /// ran, cluster CPU per delivery (cores + Redis) over Herald's, and Redis commands per Emit.
    pub fn cluster_summary(&self) -> Option<String> {
        const CPU: &str = "server CPU µs/delivery";
        let mut s = String::from(
            "Cluster (2 cores + Redis) against one node, same run (target: CPU ratio ≤ 1.15; \
             Redis commands per Emit independent of subscribers):\n\n\
             | scenario | herald CPU µs/delivery | herald-cluster CPU µs/delivery | cluster / herald | \
             Redis commands/Emit |\n|---|---:|---:|---:|---:|\n",
        );
        let mut any = false;
        for row in self.rows.iter().filter(|r| r.figure == CPU) {
            let (Some(h), Some(c)) = (
                self.median_of(&row.scenario, CPU, Kind::Herald),
                self.median_of(&row.scenario, CPU, Kind::HeraldCluster),
            ) else {
                continue;
            };
            let cmds = self
                .median_of(&row.scenario, "Redis commands/Emit", Kind::HeraldCluster)
                .map_or("–".into(), fmt_num);
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.2} | {cmds} |",
                row.scenario,
                fmt_num(h),
                fmt_num(c),
                c / h
            );
            any = true;
        }
        any.then_some(s)
    }

    /// The table as Markdown.
    pub fn markdown(&self, systems: &[Kind]) -> String {
        let others: Vec<Kind> = systems
            .iter()
            .copied()
            .filter(|k| *k != Kind::Herald)
            .collect();
        let mut s = String::from("| scenario | figure |");
        for k in systems {
            let _ = write!(s, " {} |", k.name());
        }
        for k in &others {
            let _ = write!(s, " herald vs {} |", k.name());
        }
        s.push('\n');
        s.push_str("|---|---|");
        for _ in 0..systems.len() + others.len() {
            s.push_str("---:|");
        }
        s.push('\n');
        for row in &self.rows {
            let _ = write!(s, "| {} | {} |", row.scenario, row.figure);
            for k in systems {
                match Self::stats(row, *k) {
                    Some((m, lo, hi, n)) if n > 1 => {
                        let _ = write!(s, " {} ({}–{}) |", fmt_num(m), fmt_num(lo), fmt_num(hi));
                    }
                    Some((m, ..)) => {
                        let _ = write!(s, " {} |", fmt_num(m));
                    }
                    None => s.push_str(" – |"),
                }
            }
            for k in &others {
                match self.advantage(&row.scenario, &row.figure, *k) {
                    Some(r) => {
                        let _ = write!(s, " {r:.2}x |");
                    }
                    None => s.push_str(" – |"),
                }
            }
            s.push('\n');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advantage_follows_the_direction_of_the_figure() {
        let mut r = Report::default();
        for (k, v) in [
            (Kind::Herald, 2.0),
            (Kind::Node, 6.0),
            (Kind::Herald, 4.0),
            (Kind::Herald, 3.0),
        ] {
            r.add("s", "cpu", Better::Lower, k, v);
            r.add("s", "rate", Better::Higher, k, v);
        }
        assert_eq!(r.advantage("s", "cpu", Kind::Node), Some(2.0));
        assert_eq!(r.advantage("s", "rate", Kind::Node), Some(0.5));
        let md = r.markdown(&[Kind::Herald, Kind::Node]);
        assert!(
            md.contains("| s | cpu | 3.00 (2.00–4.00) | 6.00 | 2.00x |"),
            "{md}"
        );
    }

    #[test]
    fn cluster_summary_divides_cluster_by_single_node() {
        let mut r = Report::default();
        assert_eq!(r.cluster_summary(), None);
        let cpu = "server CPU µs/delivery";
        r.add("b", cpu, Better::Lower, Kind::Herald, 8.0);
        r.add("b", cpu, Better::Lower, Kind::HeraldCluster, 9.0);
        r.add(
            "b",
            "Redis commands/Emit",
            Better::Lower,
            Kind::HeraldCluster,
            4.0,
        );
        r.add("c", cpu, Better::Lower, Kind::Herald, 8.0);
        let s = r.cluster_summary().unwrap();
        assert!(s.contains("| b | 8.00 | 9.00 | 1.12 | 4.00 |"), "{s}");
        assert!(!s.contains("| c |"), "{s}");
    }
}
