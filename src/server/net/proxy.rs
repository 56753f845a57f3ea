//! Who the client is behind a reverse proxy.
//!
//! Behind nginx every connection comes from the proxy's address, so the per-address limits (new
//! sessions, new rooms, open websockets) would count every client as one. For a peer listed in
//! `CHINWAG_TRUSTED_PROXIES`, the client's address is read from `X-Forwarded-For`: the rightmost
//! entry that is not itself a trusted proxy (the entries to its left are whatever the client
//! claimed). Anyone else's `X-Forwarded-For` is ignored: a client cannot choose its own address.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::http::HeaderMap;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpAddr]>);

/// How many `X-Forwarded-For` entries are looked at, from the right: a chain of proxies is short,
/// and a long header costs nothing more than this.
const MAX_HOPS: usize = 8;

impl TrustedProxies {
    pub fn new(proxies: Vec<IpAddr>) -> Self {
        Self(proxies.into_iter().map(canonical).collect())
    }

    /// Whether `addr` is a trusted proxy.
    pub fn trusts(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        self.0.contains(&addr)
    }

    /// The client behind `peer`: `peer` itself unless it is a trusted proxy that says who it
    /// forwards for.
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> SocketAddr {
        if !self.trusts(peer.ip()) {
            return peer;
        }
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .rev()
            .take(MAX_HOPS)
            .map(|entry| entry.trim().parse::<IpAddr>())
            .take_while(Result::is_ok)
            .flatten()
            .find(|addr| !self.trusts(*addr))
            .map_or(peer, |client| {
                SocketAddr::new(canonical(client), peer.port())
            })
    }
}

/// An IPv4 address written as IPv6 (`::ffff:1.2.3.4`) is the IPv4 address.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        IpAddr::V4(_) => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().expect("header"));
        }
        headers
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let proxies = TrustedProxies::new(vec!["127.0.0.1".parse().expect("ip")]);
        let proxy: SocketAddr = "127.0.0.1:5000".parse().expect("addr");
        let stranger: SocketAddr = "203.0.113.9:5000".parse().expect("addr");
        let forwarded = headers(&["198.51.100.7"]);
        assert_eq!(
            proxies.client(proxy, &forwarded).ip().to_string(),
            "198.51.100.7"
        );
        assert_eq!(proxies.client(stranger, &forwarded), stranger);
        assert_eq!(proxies.client(proxy, &HeaderMap::new()), proxy);
    }

    #[test]
    fn the_rightmost_untrusted_entry_is_the_client_whatever_it_claimed() {
        let proxies = TrustedProxies::new(vec![
            "127.0.0.1".parse().expect("ip"),
            "10.0.0.2".parse().expect("ip"),
        ]);
        let proxy: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().expect("addr");
        // The client claimed 1.1.1.1; the edge proxy saw 198.51.100.7 and an inner one 10.0.0.2.
        let forwarded = headers(&["1.1.1.1, 198.51.100.7", "10.0.0.2"]);
        assert_eq!(
            proxies.client(proxy, &forwarded).ip().to_string(),
            "198.51.100.7"
        );
        // Garbage stops the walk: the proxy itself is the client then.
        let garbage = headers(&["198.51.100.7, not-an-address"]);
        assert_eq!(proxies.client(proxy, &garbage), proxy);
    }
}
