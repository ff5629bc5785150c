//! Limits of the Engine.IO layer that span sessions: total sessions, sessions and handshakes per
//! client IP address, and the packet rate of one address's sessions; and their refusal counters.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::time::Instant;

use crate::config::Rate;
use crate::error::Refusal;

/// Addresses tracked at most; beyond it idle ones are forgotten, and if none is idle new
/// addresses are refused (the table is bounded whatever clients do).
const MAX_TRACKED: usize = 65_536;

/// What one limit refused (the option that sets it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Sessions,
    SessionsPerIp,
    HandshakeRate,
    MessageRate,
    Origin,
    PollBodyTimeout,
    ControlQueue,
    HeaderBytes,
    HeaderTimeout,
}

impl Limit {
    /// Every limit, in the order of [`Limits::refusals`].
    pub const ALL: [Limit; 9] = [
        Limit::Sessions,
        Limit::SessionsPerIp,
        Limit::HandshakeRate,
        Limit::MessageRate,
        Limit::Origin,
        Limit::PollBodyTimeout,
        Limit::ControlQueue,
        Limit::HeaderBytes,
        Limit::HeaderTimeout,
    ];

    /// The option that sets the limit.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Sessions => "max_sessions",
            Limit::SessionsPerIp => "max_sessions_per_ip",
            Limit::HandshakeRate => "handshakes_per_ip_per_sec",
            Limit::MessageRate => "messages_per_ip_per_sec",
            Limit::Origin => "allowed_origins",
            Limit::PollBodyTimeout => "poll_body_timeout_ms",
            Limit::ControlQueue => "outbound_queue_control",
            Limit::HeaderBytes => "max_header_bytes",
            Limit::HeaderTimeout => "header_timeout_ms",
        }
    }
}

/// A token bucket in one atomic (GCRA: the theoretical arrival time of the next packet).
#[derive(Debug, Default)]
pub struct Bucket(AtomicU64);

/// A [`Rate`] as GCRA parameters, in nanoseconds.
#[derive(Debug, Clone, Copy)]
struct Gcra {
    interval: u64,
    tolerance: u64,
}

impl Gcra {
    fn new(rate: Rate) -> Option<Self> {
        if rate.per_sec == 0 {
            return None;
        }
        let interval = 1_000_000_000 / u64::from(rate.per_sec);
        Some(Gcra {
            interval,
            tolerance: interval.saturating_mul(u64::from(rate.burst.max(1) - 1)),
        })
    }
}

impl Bucket {
    /// Takes one token at `now` (ns); `false` when the bucket is empty (nothing taken).
    fn take(&self, g: Gcra, now: u64) -> bool {
        let mut tat = self.0.load(Ordering::Relaxed);
        loop {
            let base = tat.max(now);
            if base - now > g.tolerance {
                return false;
            }
            match self.0.compare_exchange_weak(
                tat,
                base.saturating_add(g.interval),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(t) => tat = t,
            }
        }
    }

    /// Whether the bucket is full again at `now` (forgetting it changes nothing).
    fn is_full(&self, now: u64) -> bool {
        self.0.load(Ordering::Relaxed) <= now
    }
}

/// What the limits know of one client IP address.
#[derive(Debug, Default)]
pub struct PerIp {
    /// Changed under the table's lock; atomic so that packets need no lock.
    sessions: AtomicUsize,
    handshakes: Bucket,
    messages: Bucket,
}

impl PerIp {
    /// No session, and both buckets full: forgetting the address changes nothing.
    fn is_idle(&self, now: u64) -> bool {
        self.sessions.load(Ordering::Relaxed) == 0
            && self.handshakes.is_full(now)
            && self.messages.is_full(now)
    }
}

/// The limits' shared state (one per server).
#[derive(Debug)]
pub struct Limits {
    epoch: Instant,
    max_sessions: usize,
    max_per_ip: usize,
    handshakes: Option<Gcra>,
    messages: Option<Gcra>,
    state: parking_lot::Mutex<Table>,
    refused: [AtomicU64; 9],
}

#[derive(Debug, Default)]
struct Table {
    sessions: usize,
    ips: HashMap<IpAddr, Arc<PerIp>>,
}

/// A session's place in the limits: released when the session leaves the server's table.
#[derive(Debug)]
pub struct Admitted {
    ip: IpAddr,
    entry: Arc<PerIp>,
}

impl Limits {
    /// Limits of `max_sessions` in total and `max_per_ip` per address (0: none), handshakes and
    /// packets per address.
    pub fn new(max_sessions: usize, max_per_ip: usize, handshakes: Rate, messages: Rate) -> Self {
        Limits {
            epoch: Instant::now(),
            max_sessions,
            max_per_ip,
            handshakes: Gcra::new(handshakes),
            messages: Gcra::new(messages),
            state: parking_lot::Mutex::default(),
            refused: Default::default(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Counts a refusal by `limit` and logs it.
    pub fn refuse(&self, limit: Limit, ip: Option<IpAddr>, what: &str) {
        if let Some(c) = self
            .refused
            .get(Limit::ALL.iter().position(|l| *l == limit).unwrap_or(0))
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
        tracing::info!(limit = limit.as_str(), ip = ?ip, "limit: {what}");
    }

    /// Admits a new session from `ip`, or says which limit refuses it.
    pub fn admit(&self, ip: IpAddr) -> Result<Admitted, Refusal> {
        let now = self.now();
        let refused = |limit: Limit, e: Refusal| {
            self.refuse(limit, Some(ip), &e.to_string());
            Err(e)
        };
        let mut t = self.state.lock();
        if self.max_sessions > 0 && t.sessions >= self.max_sessions {
            return refused(Limit::Sessions, Refusal::TooManySessions);
        }
        let entry = match t.ips.get(&ip) {
            Some(e) => e.clone(),
            None => {
                if t.ips.len() >= MAX_TRACKED {
                    t.ips.retain(|_, e| !e.is_idle(now));
                    if t.ips.len() >= MAX_TRACKED {
                        return refused(Limit::Sessions, Refusal::TooManySessions);
                    }
                }
                t.ips.entry(ip).or_default().clone()
            }
        };
        if self.max_per_ip > 0 && entry.sessions.load(Ordering::Relaxed) >= self.max_per_ip {
            return refused(Limit::SessionsPerIp, Refusal::TooManySessionsFromIp);
        }
        if let Some(g) = self.handshakes
            && !entry.handshakes.take(g, now)
        {
            return refused(Limit::HandshakeRate, Refusal::HandshakeRate);
        }
        entry.sessions.fetch_add(1, Ordering::Relaxed);
        t.sessions += 1;
        Ok(Admitted { ip, entry })
    }

    /// A session left the server's table: its place is free again.
    pub fn release(&self, a: &Admitted) {
        let mut t = self.state.lock();
        t.sessions = t.sessions.saturating_sub(1);
        let _ = a
            .entry
            .sessions
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        if a.entry.is_idle(self.now()) {
            t.ips.remove(&a.ip);
        }
    }

    /// Takes one packet from the rate of the session's address; `false` when it is over.
    pub fn allow_packet(&self, a: &Admitted) -> bool {
        let Some(g) = self.messages else { return true };
        let now = self.now();
        a.entry.messages.take(g, now)
    }

    /// How many times each limit refused something, in the order of [`Limit::ALL`].
    pub fn refusals(&self) -> impl Iterator<Item = (Limit, u64)> + '_ {
        Limit::ALL
            .into_iter()
            .zip(self.refused.iter().map(|c| c.load(Ordering::Relaxed)))
    }
}

impl Admitted {
    /// The client's address.
    pub fn ip(&self) -> IpAddr {
        self.ip
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let g = Gcra::new(Rate {
            per_sec: 10,
            burst: 3,
        })
        .unwrap();
        let b = Bucket::default();
        let t0 = 1_000_000_000;
        assert!((0..3).all(|_| b.take(g, t0)));
        assert!(!b.take(g, t0), "the burst is spent");
        assert!(b.take(g, t0 + 100_000_000), "one token per 100 ms");
        assert!(!b.take(g, t0 + 100_000_000));
        assert!(b.is_full(t0 + 1_000_000_000));
    }

    const NONE: Rate = Rate {
        per_sec: 0,
        burst: 0,
    };

    #[test]
    fn sessions_per_address_are_refused_over_the_limit_and_freed_on_release() {
        let limits = Limits::new(0, 2, NONE, NONE);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = limits.admit(a).unwrap();
        let _second = limits.admit(a).unwrap();
        assert_eq!(limits.admit(a).unwrap_err(), Refusal::TooManySessionsFromIp);
        assert!(limits.admit(b).is_ok(), "another address is not affected");
        limits.release(&first);
        assert!(limits.admit(a).is_ok(), "a released place is free again");
        let counts: Vec<(Limit, u64)> = limits.refusals().filter(|(_, n)| *n > 0).collect();
        assert_eq!(counts, vec![(Limit::SessionsPerIp, 1)]);
    }

    #[test]
    fn the_total_and_the_handshake_rate_refuse_with_their_reason() {
        let limits = Limits::new(1, 0, NONE, NONE);
        let _one = limits.admit("10.0.0.1".parse().unwrap()).unwrap();
        assert_eq!(
            limits.admit("10.0.0.2".parse().unwrap()).unwrap_err(),
            Refusal::TooManySessions
        );
        let rate = Rate {
            per_sec: 1,
            burst: 1,
        };
        let limits = Limits::new(0, 0, rate, NONE);
        let ip: IpAddr = "10.0.0.3".parse().unwrap();
        assert!(limits.admit(ip).is_ok());
        assert_eq!(limits.admit(ip).unwrap_err(), Refusal::HandshakeRate);
    }
}
