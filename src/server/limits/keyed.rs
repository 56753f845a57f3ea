//! Rate limits per client address, for what an address can make the server create or do outside
//! a session: new sessions, new rooms, form posts.
//!
//! Every map kept per address needs an owner, a bound and a way to be freed. Here: at most
//! `max_keys` addresses are tracked; [`KeyedLimiter::sweep`] (run periodically by the server)
//! forgets every address whose bucket has refilled, since a full bucket is what a stranger gets
//! anyway; and while the map is full, addresses not in it share one overflow bucket, so a flood of
//! fresh addresses is refused as one, and a check never costs more than one lookup.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::bucket::{Rate, TokenBucket};

/// What an address is counted by: an IPv4 address, or an IPv6 address's /64 network (one
/// household or host usually has a whole /64, so counting single IPv6 addresses counts nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddrKey(u128);

impl From<IpAddr> for AddrKey {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => AddrKey(u128::from(u32::from(v4))),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => AddrKey(u128::from(u32::from(v4))),
                // The top bit set keeps IPv6 networks apart from IPv4 addresses.
                None => AddrKey((u128::from(v6) >> 64) | (1 << 127)),
            },
        }
    }
}

impl AddrKey {
    /// A bucket for person `id` rather than an address (bit 126 set: no address maps there), for
    /// limiters that count per person.
    pub fn person(id: i64) -> Self {
        AddrKey((1 << 126) | u128::from(id as u64))
    }

    /// The address as the store records it for bans: an IPv4 address as it is, an IPv6
    /// address as its /64 network (`2001:db8:1:2::/64`), so rotating addresses inside one /64
    /// does not escape a ban any more than it escapes a rate limit.
    pub fn stored(ip: IpAddr) -> String {
        match ip {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => {
                    let network = u128::from(v6) & !((1u128 << 64) - 1);
                    format!("{}/64", std::net::Ipv6Addr::from(network))
                }
            },
        }
    }
}

/// A token bucket per address, bounded in how many addresses it tracks.
#[derive(Debug)]
pub struct KeyedLimiter {
    rate: Rate,
    max_keys: usize,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    buckets: HashMap<AddrKey, TokenBucket>,
    /// Shared by addresses that arrive while the map is full.
    overflow: TokenBucket,
}

impl KeyedLimiter {
    pub fn new(rate: Rate, max_keys: usize) -> Self {
        Self {
            rate,
            max_keys,
            state: Mutex::new(State {
                buckets: HashMap::new(),
                overflow: TokenBucket::new(rate, Instant::now()),
            }),
        }
    }

    /// Counts one action from `addr`; over the limit, how long until the next is allowed.
    pub fn check(&self, addr: impl Into<AddrKey>) -> Result<(), Duration> {
        self.check_n(addr, 1.0)
    }

    /// Counts an action of `n` units from `addr` (see [`TokenBucket::take_n`]).
    pub fn check_n(&self, addr: impl Into<AddrKey>, n: f64) -> Result<(), Duration> {
        let key = addr.into();
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let State { buckets, overflow } = &mut *state;
        if let Some(bucket) = buckets.get_mut(&key) {
            return bucket.take_n(n, now);
        }
        if buckets.len() >= self.max_keys {
            return overflow.take_n(n, now);
        }
        let mut bucket = TokenBucket::new(self.rate, now);
        let taken = bucket.take_n(n, now);
        buckets.insert(key, bucket);
        taken
    }

    /// Forgets every address whose bucket is full again. Returns how many are still tracked.
    pub fn sweep(&self) -> usize {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.buckets.retain(|_, bucket| !bucket.is_full(now));
        let keep = state.buckets.len() * 2;
        state.buckets.shrink_to(keep);
        state.buckets.len()
    }

    /// How many addresses are tracked.
    pub fn tracked(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .buckets
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn each_address_has_its_own_bucket() {
        let limiter = KeyedLimiter::new(Rate::new(1.0, 2.0), 100);
        assert!(limiter.check(v4(1)).is_ok());
        assert!(limiter.check(v4(1)).is_ok());
        assert!(limiter.check(v4(1)).is_err());
        assert!(
            limiter.check(v4(2)).is_ok(),
            "another address is not affected"
        );
    }

    #[test]
    fn ipv6_is_counted_by_its_64_bit_network() {
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("v6");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("v6");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("v6");
        assert_eq!(AddrKey::from(a), AddrKey::from(b));
        assert_ne!(AddrKey::from(a), AddrKey::from(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().expect("mapped");
        assert_eq!(AddrKey::from(mapped), AddrKey::from(v4(1)));
        assert_eq!(AddrKey::stored(a), "2001:db8:1:2::/64");
        assert_eq!(AddrKey::stored(a), AddrKey::stored(b));
        assert_eq!(AddrKey::stored(mapped), "10.0.0.1");
        assert_eq!(AddrKey::stored(v4(7)), "10.0.0.7");
    }

    #[test]
    fn a_full_map_shares_one_overflow_bucket_and_a_sweep_frees_it() {
        let limiter = KeyedLimiter::new(Rate::new(1000.0, 1.0), 2);
        assert!(limiter.check(v4(1)).is_ok());
        assert!(limiter.check(v4(2)).is_ok());
        assert_eq!(limiter.tracked(), 2);
        // Two fresh addresses while full: one overflow token between them.
        assert!(limiter.check(v4(3)).is_ok());
        assert!(limiter.check(v4(4)).is_err());
        assert_eq!(limiter.tracked(), 2, "never more than the bound");
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(limiter.sweep(), 0, "refilled buckets are forgotten");
        assert!(limiter.check(v4(4)).is_ok());
    }
}
