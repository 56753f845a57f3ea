//! `chinwag-load`: drives a chat server over loopback and reports throughput, latency and delivery
//! errors, as text and JSON. It speaks chinwag's protocol, socket.io 4 (Engine.IO v4 websocket
//! framing) and plain broadcast text frames, so the same load runs against all three (`bench/run`).
//!
//! Scenarios:
//! - `fanout`: N clients in one room, S of them sending. Each message carries its send time; every
//!   receiver measures its latency. With `--window W` each sender keeps at most W messages that have
//!   not yet reached every receiver; with `--rate R` the senders send R messages/s in all.
//! - `conns`: opens N idle connections, reports connections/s and (with `--pid`) the server's RSS
//!   growth per connection, holds them, closes them. With `--sessions FILE` (chinwag only) they are
//!   returning sessions, as after a deploy: each says hello with a session from `seed`.
//! - `seed` (chinwag only): creates N sessions and writes their tokens to `--out FILE`, one a line.
//! - `reconnect` (chinwag only): N clients drop, messages are posted while they are away, they come
//!   back with `since`; reports catch-up time and checks that each got exactly the missed messages.
//! - `hold` (chinwag only): opens N connections (new sessions) and holds them for `--secs` after the
//!   last one is open (writing `--out FILE` then, so a script can tell), every one recording when
//!   each probe arrives; reports connections/s and, per probe, how long it took to reach them. Run
//!   several at once for more connections than one process may hold.
//! - `probe` (chinwag only): one client posts `--count` probes, one every `--every` seconds, each
//!   carrying its send time (the machine's clock, shared by every process on it).
//!
//! Connections come from 127.0.0.1–127.0.0.250 in turn so ephemeral ports do not run out. With
//! several `--addr`esses (`A,B,C`: servers of one cluster), connection `i` goes to address
//! `i % n`, so clients and senders are spread over the servers, and `fanout` also reports latency
//! from senders on the receiver's own server and on another. Every run is bounded in time and count
//! and only touches loopback.

mod hold;
mod stats;
mod wire;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::{Mutex, Semaphore};
use tokio_tungstenite::tungstenite::Message;

use stats::{Receiver, Report};
use wire::{Event, Proto};

const USAGE: &str =
    "usage: chinwag-load <fanout|conns|seed|reconnect> --addr HOST:PORT[,HOST:PORT...] [--proto chinwag|socketio|plain]
  fanout:    --clients 200 --senders 4 (--window 16 | --rate 200) --secs 10 [--warmup 2]
  conns:     --conns 10000 [--pid SERVER_PID] [--hold 5] [--sessions FILE]
  seed:      --conns 10000 --out FILE
  reconnect: --clients 100 --missed 200
  hold:      --conns 16000 --secs 30 --out READY_FILE
  probe:     --count 5 --every 1
  common:    --json FILE (also write the report as JSON) --label NAME";

struct Args {
    scenario: String,
    /// The servers; connection `i` goes to `addrs[i % len]`.
    addrs: Vec<SocketAddr>,
    proto: Proto,
    clients: usize,
    senders: usize,
    window: Option<usize>,
    rate: Option<f64>,
    secs: f64,
    warmup: f64,
    conns: usize,
    pid: Option<u32>,
    hold: f64,
    missed: usize,
    json: Option<String>,
    label: String,
    /// Returning sessions' tokens (`conns`), or where to write them (`seed`).
    sessions: Option<String>,
    out: Option<String>,
    count: usize,
    every: f64,
}

fn parse_args() -> Result<Args, String> {
    let mut argv = std::env::args().skip(1);
    let scenario = argv.next().ok_or(USAGE)?;
    let mut args = Args {
        scenario,
        addrs: vec!["127.0.0.1:3000".parse().map_err(|_| "addr")?],
        proto: Proto::Chinwag,
        clients: 200,
        senders: 4,
        window: None,
        rate: None,
        secs: 10.0,
        warmup: 2.0,
        conns: 10_000,
        pid: None,
        hold: 5.0,
        missed: 200,
        json: None,
        label: String::new(),
        sessions: None,
        out: None,
        count: 5,
        every: 1.0,
    };
    while let Some(flag) = argv.next() {
        let value = argv
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |_: Box<dyn std::error::Error>| format!("bad value for {flag}: {value}");
        match flag.as_str() {
            "--addr" => {
                args.addrs = value
                    .split(',')
                    .map(|a| a.trim().parse().map_err(|_| format!("bad --addr {a}")))
                    .collect::<Result<_, _>>()?;
            }
            "--proto" => args.proto = value.parse()?,
            "--clients" => args.clients = value.parse().map_err(|e| bad(Box::new(e)))?,
            "--senders" => args.senders = value.parse().map_err(|e| bad(Box::new(e)))?,
            "--window" => args.window = Some(value.parse().map_err(|e| bad(Box::new(e)))?),
            "--rate" => args.rate = Some(value.parse().map_err(|e| bad(Box::new(e)))?),
            "--secs" => args.secs = value.parse().map_err(|e| bad(Box::new(e)))?,
            "--warmup" => args.warmup = value.parse().map_err(|e| bad(Box::new(e)))?,
            "--conns" => args.conns = value.parse().map_err(|e| bad(Box::new(e)))?,
            "--pid" => args.pid = Some(value.parse().map_err(|e| bad(Box::new(e)))?),
            "--hold" => args.hold = value.parse().map_err(|e| bad(Box::new(e)))?,
            "--missed" => args.missed = value.parse().map_err(|e| bad(Box::new(e)))?,
            "--json" => args.json = Some(value),
            "--label" => args.label = value,
            "--sessions" => args.sessions = Some(value),
            "--out" => args.out = Some(value),
            "--count" => args.count = value.parse().map_err(|e| bad(Box::new(e)))?,
            "--every" => args.every = value.parse().map_err(|e| bad(Box::new(e)))?,
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
    }
    Ok(args)
}

impl Args {
    /// The server connection `i` goes to.
    fn addr(&self, i: usize) -> SocketAddr {
        self.addrs[i % self.addrs.len()]
    }
}

/// The n-th connection's source address: 127.0.0.1 to 127.0.0.250.
fn source(n: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (n % 250) as u8))
}

fn hello(run: u64, n: usize) -> serde_json::Value {
    json!({"type":"hello","nick":format!("load{run:x}-{n}")})
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("{err}");
            std::process::exit(2);
        }
    };
    let result = match args.scenario.as_str() {
        "fanout" => fanout(&args).await,
        "conns" => conns(&args).await,
        "seed" => seed(&args).await,
        "reconnect" => reconnect(&args).await,
        "hold" => hold::hold(&args).await,
        "probe" => hold::probe(&args).await,
        other => Err(format!("unknown scenario {other}\n{USAGE}")),
    };
    match result {
        Ok(report) => {
            println!("{}", report.text());
            if let Some(path) = &args.json {
                if let Err(err) = std::fs::write(path, report.json().to_string()) {
                    eprintln!("cannot write {path}: {err}");
                    std::process::exit(1);
                }
            }
        }
        Err(err) => {
            eprintln!("chinwag-load: {err}");
            std::process::exit(1);
        }
    }
}

fn run_id() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
        & 0xff_ffff
}

/// Messages in flight per sender are tracked in a ring this many times the window.
const RING: usize = 8;

async fn fanout(args: &Args) -> Result<Report, String> {
    let n = args.clients;
    let senders = args.senders.min(n);
    if n < 2 || senders == 0 {
        return Err("fanout needs at least 2 clients and 1 sender".into());
    }
    let window = args.window.unwrap_or(16);
    let run = run_id();
    let mut sockets = Vec::with_capacity(n);
    for i in 0..n {
        let connected =
            wire::connect(args.proto, args.addr(i), source(i), Some(hello(run, i))).await?;
        sockets.push(connected.ws);
    }
    // Let join notices settle before measuring; time starts now, after every client is in.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let epoch = Instant::now();

    let receivers_per_message = (n - 1) as u32;
    let remaining: Arc<Vec<Vec<AtomicU32>>> = Arc::new(
        (0..senders)
            .map(|_| (0..window * RING).map(|_| AtomicU32::new(0)).collect())
            .collect(),
    );
    let permits: Arc<Vec<Semaphore>> =
        Arc::new((0..senders).map(|_| Semaphore::new(window)).collect());
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..senders).map(|_| AtomicU64::new(0)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let measure_from = args.warmup;
    let measure_to = args.warmup + args.secs;

    let servers = args.addrs.len();
    let mut receiver_tasks = Vec::new();
    let mut sender_tasks = Vec::new();
    let (done_tx, done_rx) = tokio::sync::watch::channel(false);
    for (i, ws) in sockets.into_iter().enumerate() {
        let (sink, mut stream) = ws.split();
        let sink = Arc::new(Mutex::new(sink));
        let proto = args.proto;
        let windowed = args.rate.is_none();
        let reply_sink = Arc::clone(&sink);
        let (remaining_rx, permits_rx) = (Arc::clone(&remaining), Arc::clone(&permits));
        let mut done = done_rx.clone();
        receiver_tasks.push(tokio::spawn(async move {
            let (remaining, permits) = (remaining_rx, permits_rx);
            let mut receiver = Receiver::new(senders, epoch, measure_from, measure_to)
                .on_server(i % servers, servers);
            loop {
                let msg = tokio::select! {
                    msg = stream.next() => msg,
                    _ = done.changed() => break,
                };
                let Some(Ok(msg)) = msg else { break };
                let Message::Text(text) = msg else { continue };
                match wire::decode(proto, text.as_str()) {
                    Event::Chat(text) => {
                        if let Some((s, k)) = receiver.record(&text) {
                            if windowed && s < senders {
                                let slot = &remaining[s][(k as usize) % (window * RING)];
                                if slot.fetch_sub(1, Ordering::AcqRel) == 1 {
                                    permits[s].add_permits(1);
                                }
                            }
                        }
                    }
                    Event::Reply(reply) => {
                        let _ = reply_sink.lock().await.send(Message::text(reply)).await;
                    }
                    _ => {}
                }
            }
            receiver
        }));
        if i < senders {
            let s = i;
            let sent = Arc::clone(&sent);
            let stop = Arc::clone(&stop);
            let remaining = Arc::clone(&remaining);
            let permits = Arc::clone(&permits);
            let rate = args.rate.map(|r| r / senders as f64);
            sender_tasks.push(tokio::spawn(async move {
                let mut interval = rate.map(|r| {
                    let mut iv = tokio::time::interval(Duration::from_secs_f64(1.0 / r));
                    iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                    iv
                });
                let mut k: u64 = 0;
                while !stop.load(Ordering::Relaxed) {
                    match &mut interval {
                        Some(iv) => {
                            iv.tick().await;
                        }
                        None => {
                            let Ok(permit) = tokio::time::timeout(
                                Duration::from_millis(200),
                                permits[s].acquire(),
                            )
                            .await
                            else {
                                continue;
                            };
                            if let Ok(permit) = permit {
                                permit.forget();
                            }
                            remaining[s][(k as usize) % (window * RING)]
                                .store(receivers_per_message, Ordering::Release);
                        }
                    }
                    let t = epoch.elapsed().as_micros() as u64;
                    let text = format!("L {s} {k} {t}");
                    let frame = wire::encode(proto, &text, &format!("c{k}"));
                    if sink.lock().await.send(Message::text(frame)).await.is_err() {
                        break;
                    }
                    sent[s].fetch_add(1, Ordering::Relaxed);
                    k += 1;
                }
            }));
        }
    }
    tokio::time::sleep(Duration::from_secs_f64(measure_to)).await;
    stop.store(true, Ordering::Relaxed);
    for task in sender_tasks {
        let _ = task.await;
    }
    // Let the last messages arrive, then close every connection.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = done_tx.send(true);
    let mut merged = Receiver::new(senders, epoch, measure_from, measure_to);
    let mut unique_total = 0u64;
    let sent_each: Vec<u64> = sent.iter().map(|s| s.load(Ordering::Relaxed)).collect();
    let diagnose = std::env::var_os("CHINWAG_LOAD_MISSING").is_some();
    for (i, task) in receiver_tasks.into_iter().enumerate() {
        if let Ok(receiver) = task.await {
            unique_total += receiver.unique;
            merged.merge(&receiver);
            if diagnose {
                let missing = receiver.missing(&sent_each, i);
                if !missing.is_empty() {
                    eprintln!("client {i} (server {}) never got {missing:?}", i % servers);
                }
            }
        }
    }
    let sent_total: u64 = sent_each.iter().sum();
    let expected = sent_total * u64::from(receivers_per_message);
    let mut report = merged.report(&args.label, "fanout", args.secs);
    report.set("clients", n as f64);
    report.set("senders", senders as f64);
    match args.rate {
        Some(rate) => report.set("rate", rate),
        None => report.set("window", window as f64),
    }
    report.set("sent", sent_total as f64);
    report.set("lost", expected.saturating_sub(unique_total) as f64);
    Ok(report)
}

/// Reads a process's resident set size in KiB from /proc.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Creates `--conns` sessions (each says hello with a fresh name, then leaves) and writes their
/// tokens to `--out`, one a line: what `conns --sessions` comes back with.
async fn seed(args: &Args) -> Result<Report, String> {
    if args.proto != Proto::Chinwag {
        return Err("seed makes chinwag sessions".into());
    }
    let out = args.out.as_deref().ok_or("seed needs --out FILE")?;
    let run = run_id();
    let mut tokens = Vec::with_capacity(args.conns);
    let mut pending = futures::stream::FuturesUnordered::new();
    let mut next = 0usize;
    while next < args.conns || !pending.is_empty() {
        while next < args.conns && pending.len() < 64 {
            let (proto, addr, i) = (args.proto, args.addr(next), next);
            pending.push(async move {
                let connected = wire::connect(proto, addr, source(i), Some(hello(run, i))).await?;
                connected
                    .welcome
                    .as_ref()
                    .and_then(|w| w["session"].as_str())
                    .map(str::to_owned)
                    .ok_or_else(|| "no session in the welcome".to_owned())
            });
            next += 1;
        }
        match pending.next().await {
            Some(Ok(token)) => tokens.push(token),
            Some(Err(err)) => return Err(err),
            None => break,
        }
    }
    std::fs::write(out, tokens.join("\n")).map_err(|e| format!("{out}: {e}"))?;
    let mut report = Report::new(&args.label, "seed");
    report.set("sessions", tokens.len() as f64);
    Ok(report)
}

/// Opens `n` connections (`connect(i)` opens the `i`th), at most 64 in flight at once, like many
/// people arriving, handing each that opened to `opened`. Returns how many failed.
async fn open_many<C, F>(n: usize, connect: C, mut opened: impl FnMut(wire::Connected)) -> u64
where
    C: Fn(usize) -> F,
    F: std::future::Future<Output = Result<wire::Connected, String>>,
{
    let mut failed = 0;
    let mut pending = futures::stream::FuturesUnordered::new();
    let mut next = 0;
    while next < n || !pending.is_empty() {
        while next < n && pending.len() < 64 {
            pending.push(connect(next));
            next += 1;
        }
        match pending.next().await {
            Some(Ok(connected)) => opened(connected),
            Some(Err(_)) => failed += 1,
            None => break,
        }
    }
    failed
}

async fn conns(args: &Args) -> Result<Report, String> {
    let run = run_id();
    let returning: Option<Arc<Vec<String>>> = match &args.sessions {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
            Some(Arc::new(text.lines().map(str::to_owned).collect()))
        }
        None => None,
    };
    let before = args.pid.and_then(rss_kib);
    let started = Instant::now();
    let mut open = Vec::with_capacity(args.conns);
    let connect = |i: usize| {
        let (proto, addr) = (args.proto, args.addr(i));
        let hello = match &returning {
            // A returning tab says where it was: nothing was missed meanwhile.
            Some(tokens) => tokens
                .get(i)
                .map(|token| json!({"type":"hello","session":token,"since":{"general":0}})),
            None => Some(hello(run, i)),
        };
        wire::connect(proto, addr, source(i), hello)
    };
    let failed = open_many(args.conns, connect, |connected| {
        // Each idle client still reads (and drops) what it is sent, as a browser would.
        let (sink, mut stream) = connected.ws.split();
        open.push(tokio::spawn(async move {
            let _sink = sink;
            while let Some(Ok(_)) = stream.next().await {}
        }));
    })
    .await;
    let connect_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs_f64(args.hold)).await;
    let after = args.pid.and_then(rss_kib);
    let mut report = Report::new(&args.label, "conns");
    report.set("conns", open.len() as f64);
    report.set("failed", failed as f64);
    report.set("conns_per_sec", open.len() as f64 / connect_secs.max(1e-9));
    if let (Some(before), Some(after)) = (before, after) {
        report.set("rss_before_kib", before as f64);
        report.set("rss_after_kib", after as f64);
        report.set(
            "rss_per_conn_kib",
            after.saturating_sub(before) as f64 / open.len().max(1) as f64,
        );
    }
    for task in open {
        task.abort();
    }
    Ok(report)
}

async fn reconnect(args: &Args) -> Result<Report, String> {
    if args.proto != Proto::Chinwag {
        return Err("reconnect needs chinwag's catch-up (`since`)".into());
    }
    let run = run_id();
    let n = args.clients.max(1);
    // The writer stays; the others each note their session and last seq, then drop.
    let mut writer = wire::connect(args.proto, args.addr(0), source(0), Some(hello(run, 0)))
        .await?
        .ws;
    let mut away = Vec::with_capacity(n);
    for i in 1..=n {
        let connected =
            wire::connect(args.proto, args.addr(i), source(i), Some(hello(run, i))).await?;
        let session = connected
            .welcome
            .as_ref()
            .and_then(|w| w["session"].as_str())
            .ok_or("no session in the welcome")?
            .to_owned();
        away.push(session);
        drop(connected);
    }
    // Where the room stands, then the messages they miss.
    let marker = format!("R {run} start");
    writer
        .send(Message::text(wire::encode(args.proto, &marker, "r-start")))
        .await
        .map_err(|e| e.to_string())?;
    let mut start_seq = None;
    while start_seq.is_none() {
        match writer.next().await {
            Some(Ok(Message::Text(text))) => {
                let v: serde_json::Value = serde_json::from_str(text.as_str()).unwrap_or_default();
                if v["type"] == "ack" {
                    start_seq = v["seq"].as_u64();
                }
            }
            Some(Ok(_)) => {}
            _ => return Err("the writer's connection closed".into()),
        }
    }
    let start_seq = start_seq.unwrap_or(0);
    let mut acked = 0;
    for k in 0..args.missed {
        let frame = wire::encode(args.proto, &format!("R {run} {k}"), &format!("r{k}"));
        writer
            .send(Message::text(frame))
            .await
            .map_err(|e| e.to_string())?;
    }
    while acked < args.missed {
        match writer.next().await {
            Some(Ok(Message::Text(text))) if text.as_str().contains("\"ack\"") => acked += 1,
            Some(Ok(_)) => {}
            _ => return Err("the writer's connection closed".into()),
        }
    }
    // Everyone comes back at once with `since`; each must get exactly the missed messages, in order.
    let started = Instant::now();
    let expected: Vec<String> = (0..args.missed).map(|k| format!("R {run} {k}")).collect();
    let expected = Arc::new(expected);
    let mut tasks = Vec::new();
    for (i, session) in away.into_iter().enumerate() {
        let (proto, addr, expected) = (args.proto, args.addr(i + 1), Arc::clone(&expected));
        let hello = json!({"type":"hello","session":session,"since":{"general":start_seq}});
        tasks.push(tokio::spawn(async move {
            let t0 = Instant::now();
            let mut connected = wire::connect(proto, addr, source(i + 1), Some(hello)).await?;
            let elapsed = t0.elapsed();
            let got = &connected.history;
            let unique: std::collections::HashSet<&String> = got.iter().collect();
            let lost = expected.iter().filter(|t| !unique.contains(t)).count();
            let duplicated = got.len() - unique.len();
            let out_of_order = usize::from(lost == 0 && duplicated == 0 && got != &*expected);
            let _ = connected.ws.close(None).await;
            Ok::<_, String>((elapsed, lost, duplicated, out_of_order))
        }));
    }
    let mut times = Vec::new();
    let (mut lost, mut duplicated, mut out_of_order, mut failed) = (0, 0, 0, 0);
    for task in tasks {
        match task.await {
            Ok(Ok((t, l, d, o))) => {
                times.push(t);
                lost += l;
                duplicated += d;
                out_of_order += o;
            }
            _ => failed += 1,
        }
    }
    let total = started.elapsed();
    let mut report = Report::new(&args.label, "reconnect");
    report.set("clients", n as f64);
    report.set("missed_each", args.missed as f64);
    report.set("reconnected", times.len() as f64);
    report.set("failed", f64::from(failed));
    report.set("lost", lost as f64);
    report.set("duplicated", duplicated as f64);
    report.set("out_of_order", out_of_order as f64);
    report.set("all_caught_up_secs", total.as_secs_f64());
    times.sort();
    if let Some(p50) = times.get(times.len() / 2) {
        report.set("catch_up_p50_ms", p50.as_secs_f64() * 1000.0);
    }
    if let Some(max) = times.last() {
        report.set("catch_up_max_ms", max.as_secs_f64() * 1000.0);
    }
    Ok(report)
}
