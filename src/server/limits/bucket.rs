//! A token bucket: `burst` tokens, refilled at `rate` per second; each frame takes one.
//!
//! The rate and burst are validated once at start-up (finite, above zero: see `server::config`),
//! so the arithmetic here cannot produce NaN or an unrepresentable wait.

use std::time::{Duration, Instant};

/// The longest wait a refusal ever names: a bucket with a tiny rate does not report years.
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// A rate as configured: so many per second, in bursts of so many.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_sec: f64,
    pub burst: f64,
}

impl Rate {
    pub const fn new(per_sec: f64, burst: f64) -> Self {
        Self { per_sec, burst }
    }

    /// So many per minute, in bursts of so many.
    pub fn per_minute(per_minute: f64, burst: f64) -> Self {
        Self::new(per_minute / 60.0, burst)
    }

    /// So many per hour, in bursts of so many.
    pub fn per_hour(per_hour: f64, burst: f64) -> Self {
        Self::new(per_hour / 3600.0, burst)
    }
}

#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: Rate,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: Rate, now: Instant) -> Self {
        Self {
            rate,
            tokens: rate.burst,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate.per_sec).min(self.rate.burst);
        self.last = now;
    }

    /// Takes a token at `now`, or says how long until one is there.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - self.tokens) / self.rate.per_sec;
        Err(Duration::try_from_secs_f64(wait).map_or(MAX_WAIT, |w| w.min(MAX_WAIT)))
    }

    /// Takes `n` tokens at `now` (a cost of several units: a page of catch-up), or says how long
    /// until there are that many. `n` above the burst is charged as the burst, so it can always
    /// be paid eventually.
    pub fn take_n(&mut self, n: f64, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        let n = n.min(self.rate.burst);
        if self.tokens >= n {
            self.tokens -= n;
            return Ok(());
        }
        let wait = (n - self.tokens) / self.rate.per_sec;
        Err(Duration::try_from_secs_f64(wait).map_or(MAX_WAIT, |w| w.min(MAX_WAIT)))
    }

    /// Whether the bucket is full again at `now`: it holds nothing a fresh bucket would not, so it
    /// can be forgotten.
    pub fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.rate.burst
    }
}

/// A refusal's wait in whole milliseconds, at least 1, as `retry_after_ms` carries it.
pub fn wait_ms(wait: Duration) -> u64 {
    u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(Rate::new(10.0, 20.0), start);
        for _ in 0..20 {
            assert!(bucket.take(start).is_ok());
        }
        let wait = bucket.take(start).expect_err("empty");
        assert_eq!(wait.as_millis(), 100);
        // A tenth of a second later one more is allowed, and only one.
        let later = start + Duration::from_millis(100);
        assert!(bucket.take(later).is_ok());
        assert!(bucket.take(later).is_err());
        // A long pause refills to the burst, not beyond.
        let much_later = later + Duration::from_secs(60);
        assert!(bucket.is_full(much_later));
        for _ in 0..20 {
            assert!(bucket.take(much_later).is_ok());
        }
        assert!(bucket.take(much_later).is_err());
    }

    #[test]
    fn a_tiny_rate_names_a_bounded_wait() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(Rate::new(1e-300, 1.0), start);
        assert!(bucket.take(start).is_ok());
        assert_eq!(bucket.take(start), Err(MAX_WAIT));
    }
}
