//! The accept loop: every TCP connection of the server passes here.
//!
//! `axum::serve` gives hyper no timer, so a client that sends half a request's headers holds its
//! connection open forever, and nothing counts connections that never become websockets. Here:
//! - a request's headers must arrive within [`Limits::header_read_timeout`] (also how long an
//!   idle keep-alive connection is kept);
//! - open connections are capped per client address and in total (over a cap, the connection is
//!   closed at once);
//! - on shutdown the listener stops accepting and open HTTP connections finish their requests.
//!
//! A trusted reverse proxy's connections count only in the total, and each request names its
//! client from the proxy's `X-Forwarded-For` ([`TrustedProxies`]): the address the per-address
//! limits see is the client's.

use std::future::Future;
use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt as _;

use super::proxy::TrustedProxies;
use crate::server::limits::{ConnectionLimits, Limits};
use crate::server::metrics::Metrics;

/// Serves `app` on `listener` until `stop` resolves; then stops accepting and gives open HTTP
/// requests up to `drain` to finish (upgraded websockets have their own shutdown).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &Limits,
    proxies: TrustedProxies,
    metrics: Metrics,
    stop: impl Future<Output = ()>,
    drain: std::time::Duration,
) {
    let caps = ConnectionLimits::new(
        limits.max_http_connections_per_ip,
        limits.max_http_connections,
    );
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.ping_interval));
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors or the like: wait a little instead of spinning.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let proxied = proxies.trusts(peer.ip());
        let slot = match if proxied {
            caps.acquire_shared()
        } else {
            caps.acquire(peer.ip())
        } {
            Ok(slot) => slot,
            Err(_) => {
                metrics.refused("tcp_connections");
                continue;
            }
        };
        // No Nagle delay: chat frames are small and latency is the point.
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::warn!(%err, "cannot set TCP_NODELAY");
        }
        let proxies = proxies.clone();
        let service = app
            .clone()
            .map_request(move |mut request: axum::http::Request<Incoming>| {
                // The client's address is what the per-address limits count.
                let client = if proxied {
                    proxies.client(peer, request.headers())
                } else {
                    peer
                };
                request
                    .extensions_mut()
                    .insert(ConnectInfo::<SocketAddr>(client));
                request
            });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(tcp), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(err) = connection.await {
                tracing::debug!(%err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some HTTP connections did not finish within {drain:?}");
    }
}
