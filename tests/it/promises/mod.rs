//! Issue "Keep every promise": each abuse the probe found, reproduced against a real server (the
//! real binary where the process itself is measured: its files, its memory), with a bystander's
//! round trip measured during each flood and bounded generously (the numbers go to
//! docs/BENCHMARKS.md; a test only says the bystander was not held up).
//!
//! - [`connections`]: deadlines on every connection, caps from the file limit.
//! - [`sanctions`]: bans that cover a prepared second session and an IPv6 /64, mutes that cover
//!   renames, lifting, reasons that cannot forge lines.
//! - [`floods`]: rooms, catch-ups that are never read, private-message inboxes.
//! - [`answers`]: what the protocol document promises about answers (`reply_to`, `mentions`,
//!   characters, `lagged`, the close code of an oversize message).
//! - [`conformance`]: every JSON example of docs/protocol.md, sent or matched against the server.

mod answers;
mod conformance;
mod connections;
mod floods;
mod sanctions;

use std::time::{Duration, Instant};

use chinwag::server::config::ServerConfig;
use serde_json::Value;

use crate::common::{test_config, Client, DataDir, TestServer};

/// A server with the test settings, changed by `configure`.
pub async fn start(configure: impl FnOnce(&mut ServerConfig)) -> TestServer {
    let data = DataDir::new();
    let mut config = test_config(&data);
    configure(&mut config);
    TestServer::start_on(data, config).await
}

/// The next frame of `kind`, whatever comes before it.
pub async fn next(client: &mut Client, kind: &str) -> Value {
    loop {
        let frame = client.recv().await;
        if frame["type"] == kind {
            return frame;
        }
    }
}

/// A bystander's round trips: `n` messages posted one after the other, each timed from its `say` to
/// its `ack`. Returns them sorted, in milliseconds.
pub async fn round_trips(client: &mut Client, n: usize, tag: &str) -> Vec<f64> {
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        let client_id = format!("{tag}-{i}");
        client.say("still here", &client_id).await;
        loop {
            let frame = client.recv().await;
            if frame["type"] == "ack" && frame["client_id"] == client_id.as_str() {
                break;
            }
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    times
}

/// The `p`-th percentile of sorted `times`.
pub fn percentile(times: &[f64], p: f64) -> f64 {
    let index = ((times.len() as f64 - 1.0) * p).round() as usize;
    times[index.min(times.len() - 1)]
}

/// Waits until `check` holds, polling every 20 ms; fails the test after `wait`.
pub async fn eventually(wait: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + wait;
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within {wait:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
