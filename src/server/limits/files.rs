//! How many connections the process can hold: derived from its file limit, so that accepting
//! never runs out of descriptors.
//!
//! Every TCP connection (a page request, a form post, a websocket) is one open file. The
//! configured caps (`CHINWAG_MAX_HTTP_CONNECTIONS`, `CHINWAG_MAX_CONNECTIONS`) are lowered at
//! start-up to what the file limit leaves after a reserve: the store's connections (and SQLite's
//! journal files), the bus, the listeners, the log, and the few connections a full server still
//! takes to answer a health check. Past the cap, a connection is refused at once instead of
//! failing to be accepted (`EMFILE`), which would leave `/healthz` unanswered for everyone.
//!
//! The soft file limit is first raised to the hard one (what an unprivileged process may do),
//! so a default `ulimit -n` of 1024 does not cap a machine that allows more.

use super::Limits;

/// Descriptors kept for everything but client connections: the store's pool (16 PostgreSQL
/// connections, or 4 SQLite connections with their database, journal and shared-memory files),
/// Redis, the listeners, standard streams, the metrics listener, a margin for the runtime and
/// for files the server opens (the client's assets).
pub const RESERVED: u64 = 128;

/// The most of the connection budget one address may hold: one part in this many.
pub const PER_ADDRESS_SHARE: usize = 8;

/// What the file limit allows, as found at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileBudget {
    /// The process's (soft) file limit after raising it.
    pub limit: u64,
    /// Client connections it leaves room for.
    pub connections: usize,
}

/// Raises the soft file limit to the hard one and returns what it leaves for client
/// connections, keeping [`RESERVED`] and `extra` (connections served over the cap) aside.
/// `None` where the limit cannot be read (then the configured caps stand).
pub fn budget(extra: usize) -> Option<FileBudget> {
    let limit = raise_file_limit()?;
    let reserved = RESERVED + extra as u64;
    let connections = usize::try_from(limit.saturating_sub(reserved)).unwrap_or(usize::MAX);
    Some(FileBudget {
        limit,
        connections: connections.max(1),
    })
}

/// Lowers the connection caps in `limits` to what `budget` allows: TCP connections in total and
/// per address, websockets in total and per address (a websocket is one of the TCP
/// connections). Returns whether anything was lowered.
pub fn apply(limits: &mut Limits, budget: FileBudget) -> bool {
    let before = (
        limits.max_http_connections,
        limits.max_http_connections_per_ip,
        limits.max_connections,
        limits.max_connections_per_ip,
    );
    limits.max_http_connections = limits.max_http_connections.min(budget.connections);
    // One address may hold an eighth of what the file limit leaves at most, so a handful of
    // addresses cannot take every descriptor.
    limits.max_http_connections_per_ip = limits
        .max_http_connections_per_ip
        .min((limits.max_http_connections / PER_ADDRESS_SHARE).max(1));
    limits.max_connections = limits.max_connections.min(limits.max_http_connections);
    limits.max_connections_per_ip = limits
        .max_connections_per_ip
        .min(limits.max_connections)
        .min(limits.max_http_connections_per_ip);
    let after = (
        limits.max_http_connections,
        limits.max_http_connections_per_ip,
        limits.max_connections,
        limits.max_connections_per_ip,
    );
    before != after
}

#[cfg(unix)]
fn raise_file_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the limit into the struct it is given, which lives for the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct it is given.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit = raised;
        }
    }
    // RLIM_INFINITY is u64::MAX; nothing real is above that.
    Some(limit.rlim_cur)
}

#[cfg(not(unix))]
fn raise_file_limit() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caps_never_exceed_what_the_file_limit_leaves() {
        let mut limits = Limits::default();
        let budget = FileBudget {
            limit: 1024,
            connections: 1024 - 128 - 16,
        };
        assert!(apply(&mut limits, budget));
        assert_eq!(limits.max_http_connections, 880);
        assert_eq!(
            limits.max_http_connections_per_ip, 110,
            "an eighth each at most"
        );
        assert_eq!(limits.max_connections, 880);
        assert!(limits.max_connections_per_ip <= limits.max_http_connections_per_ip);
        // A generous limit leaves the configured caps as they are.
        let mut limits = Limits::default();
        let roomy = FileBudget {
            limit: 1 << 40,
            connections: 1 << 30,
        };
        assert!(!apply(&mut limits, roomy));
        assert_eq!(
            limits.max_http_connections,
            Limits::default().max_http_connections
        );
    }

    #[test]
    fn the_file_limit_can_be_read() {
        let budget = budget(16).expect("a file limit on unix");
        assert!(budget.limit >= 64);
        assert!(budget.connections >= 1);
    }
}
