//! Retry backoff: exponential in the attempt number, capped, with jitter.

use std::time::Duration;

/// Delay before the retry that follows `attempt` (1-based), within ±20% jitter.
pub fn delay(attempt: u32, base: Duration, max: Duration) -> Duration {
    let exp = attempt.saturating_sub(1).min(20);
    let raw = base.saturating_mul(1u32 << exp).min(max);
    let jitter: f64 = 0.8 + rand::random::<f64>() * 0.4;
    raw.mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_caps_and_jitters_within_bounds() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(2);
        for _ in 0..200 {
            let d1 = delay(1, base, max);
            assert!(
                d1 >= Duration::from_millis(80) && d1 <= Duration::from_millis(120),
                "{d1:?}"
            );
            let d3 = delay(3, base, max);
            assert!(
                d3 >= Duration::from_millis(320) && d3 <= Duration::from_millis(480),
                "{d3:?}"
            );
            let d30 = delay(30, base, max);
            assert!(d30 <= Duration::from_millis(2400), "{d30:?}");
        }
    }
}
