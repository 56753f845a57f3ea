//! The `hold` and `probe` scenarios: many connections held open (across several processes, as
//! one process may hold only so many files) while a prober posts into their room, each connection
//! recording when each probe reached it. Probes carry the wall clock, shared by every process on
//! the machine, so latency is measured across processes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::stats::Report;
use crate::wire::{self, Event, Proto};
use crate::{open_many, run_id, source, Args};

/// Microseconds since the Unix epoch: one clock for every process on the machine.
fn wall_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

pub(crate) async fn hold(args: &Args) -> Result<Report, String> {
    if args.proto != Proto::Chinwag {
        return Err("hold makes chinwag sessions".into());
    }
    // Nicknames unique across the processes running at once.
    let tag = format!("h{:x}{:x}", std::process::id(), run_id());
    let arrivals: Arc<std::sync::Mutex<Vec<(u32, u64)>>> = Arc::default();
    let started = Instant::now();
    let mut open = Vec::with_capacity(args.conns);
    let connect = |i: usize| {
        let hello = json!({"type":"hello","nick":format!("{tag}-{i}")});
        wire::connect_lean(args.proto, args.addr(i), source(i), Some(hello))
    };
    let failed = open_many(args.conns, connect, |connected| {
        let (sink, mut stream) = connected.ws.split();
        let arrivals = Arc::clone(&arrivals);
        open.push(tokio::spawn(async move {
            let _sink = sink;
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Text(text) = msg else { continue };
                if let Event::Chat(chat) = wire::decode(Proto::Chinwag, text.as_str()) {
                    let mut parts = chat.split(' ');
                    if parts.next() != Some("P") {
                        continue;
                    }
                    let k: Option<u32> = parts.next().and_then(|k| k.parse().ok());
                    let sent: Option<u64> = parts.next().and_then(|t| t.parse().ok());
                    if let (Some(k), Some(sent)) = (k, sent) {
                        let latency = wall_us().saturating_sub(sent);
                        if let Ok(mut arrivals) = arrivals.lock() {
                            arrivals.push((k, latency));
                        }
                    }
                }
            }
        }));
    })
    .await;
    let connect_secs = started.elapsed().as_secs_f64();
    if let Some(ready) = &args.out {
        std::fs::write(ready, format!("{}\n", open.len())).map_err(|e| format!("{ready}: {e}"))?;
    }
    tokio::time::sleep(Duration::from_secs_f64(args.secs)).await;
    let mut report = Report::new(&args.label, "hold");
    report.set("conns", open.len() as f64);
    report.set("failed", failed as f64);
    report.set("connect_secs", connect_secs);
    report.set("conns_per_sec", open.len() as f64 / connect_secs.max(1e-9));
    let arrivals = arrivals.lock().map(|a| a.clone()).unwrap_or_default();
    let mut probes: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for (k, latency) in arrivals {
        probes.entry(k).or_default().push(latency);
    }
    for (k, mut latencies) in probes {
        latencies.sort_unstable();
        let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
        report.set(&format!("probe{k}_received"), latencies.len() as f64);
        report.set(&format!("probe{k}_p50_ms"), at(0.5));
        report.set(&format!("probe{k}_p99_ms"), at(0.99));
        report.set(&format!("probe{k}_max_ms"), at(1.0));
    }
    for task in open {
        task.abort();
    }
    Ok(report)
}

pub(crate) async fn probe(args: &Args) -> Result<Report, String> {
    let run = run_id();
    let connected = wire::connect(
        args.proto,
        args.addr(0),
        source(0),
        Some(json!({"type":"hello","nick":format!("probe{run:x}")})),
    )
    .await?;
    let (mut sink, mut stream) = connected.ws.split();
    // Read (and drop) whatever comes, as a client does.
    let reader = tokio::spawn(async move { while let Some(Ok(_)) = stream.next().await {} });
    for k in 0..args.count {
        let text = format!("P {k} {}", wall_us());
        let frame = wire::encode(args.proto, &text, &format!("p{run:x}-{k}"));
        sink.send(Message::text(frame))
            .await
            .map_err(|e| format!("send: {e}"))?;
        tokio::time::sleep(Duration::from_secs_f64(args.every)).await;
    }
    reader.abort();
    let mut report = Report::new(&args.label, "probe");
    report.set("sent", args.count as f64);
    Ok(report)
}
