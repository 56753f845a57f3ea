//! Caps on open connections, per client address and in total. An over-cap websocket upgrade is
//! refused with 429 (that address) or 503 (the server) before any websocket exists; the TCP
//! listener applies the same kind of cap to every connection it accepts.
//!
//! The per-address map holds only addresses with something open: a slot's `Drop` takes its
//! address out when its count reaches zero, so the map is bounded by the open connections.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::http::StatusCode;

use super::keyed::AddrKey;

/// Counts open connections per client address and in total.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    inner: Arc<Counts>,
}

#[derive(Debug)]
struct Counts {
    max_total: usize,
    max_per_addr: usize,
    total: AtomicUsize,
    per_addr: Mutex<HashMap<AddrKey, usize>>,
}

/// One open connection, counted until dropped.
#[derive(Debug)]
pub struct ConnectionSlot {
    counts: Arc<Counts>,
    /// `None` for a connection counted only in the total (a trusted proxy's).
    addr: Option<AddrKey>,
}

impl ConnectionLimits {
    pub fn new(max_per_addr: usize, max_total: usize) -> Self {
        Self {
            inner: Arc::new(Counts {
                max_total,
                max_per_addr,
                total: AtomicUsize::new(0),
                per_addr: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Counts a new connection from `addr`, or refuses it: 503 if the server is full, 429 if this
    /// address has too many open.
    pub fn acquire(&self, addr: impl Into<AddrKey>) -> Result<ConnectionSlot, StatusCode> {
        let addr = addr.into();
        let counts = &self.inner;
        let mut per_addr = counts
            .per_addr
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if counts.total.load(Ordering::Relaxed) >= counts.max_total {
            return Err(StatusCode::SERVICE_UNAVAILABLE);
        }
        let mine = per_addr.entry(addr).or_insert(0);
        if *mine >= counts.max_per_addr {
            return Err(StatusCode::TOO_MANY_REQUESTS);
        }
        *mine += 1;
        counts.total.fetch_add(1, Ordering::Relaxed);
        Ok(ConnectionSlot {
            counts: Arc::clone(counts),
            addr: Some(addr),
        })
    }

    /// Counts a new connection in the total only: a trusted proxy's, which carries many clients
    /// (each is counted by its own address where it matters, e.g. its websockets).
    pub fn acquire_shared(&self) -> Result<ConnectionSlot, StatusCode> {
        let counts = &self.inner;
        let reserved = counts
            .total
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |total| {
                (total < counts.max_total).then_some(total + 1)
            });
        match reserved {
            Ok(_) => Ok(ConnectionSlot {
                counts: Arc::clone(counts),
                addr: None,
            }),
            Err(_) => Err(StatusCode::SERVICE_UNAVAILABLE),
        }
    }

    /// How many connections are open.
    pub fn open(&self) -> usize {
        self.inner.total.load(Ordering::Relaxed)
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        if let Some(addr) = &self.addr {
            let mut per_addr = self
                .counts
                .per_addr
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(count) = per_addr.get_mut(addr) {
                *count -= 1;
                if *count == 0 {
                    per_addr.remove(addr);
                }
            }
        }
        self.counts.total.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    #[test]
    fn connections_are_capped_per_address_and_in_total() {
        let limits = ConnectionLimits::new(2, 3);
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        let a1 = limits.acquire(a).expect("free");
        let _a2 = limits.acquire(a).expect("free");
        assert_eq!(
            limits.acquire(a).map(|_| ()),
            Err(StatusCode::TOO_MANY_REQUESTS)
        );
        let _b1 = limits.acquire(b).expect("another address");
        assert_eq!(
            limits.acquire(b).map(|_| ()),
            Err(StatusCode::SERVICE_UNAVAILABLE)
        );
        drop(a1);
        assert_eq!(limits.open(), 2);
        let _a3 = limits.acquire(a).expect("a slot was freed");
    }

    #[test]
    fn an_address_with_nothing_open_is_forgotten() {
        let limits = ConnectionLimits::new(2, 3);
        let slot = limits.acquire(IpAddr::from([10, 0, 0, 1])).expect("free");
        drop(slot);
        let per_addr = limits.inner.per_addr.lock().expect("lock");
        assert!(per_addr.is_empty());
    }
}
