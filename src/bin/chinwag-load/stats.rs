//! What receivers measure and how a run is reported (text and JSON).

use std::collections::BTreeMap;
use std::time::Instant;

use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// One receiving connection's tally. Texts look like `L <sender> <n> <sent at, µs since epoch>`.
pub struct Receiver {
    epoch: Instant,
    /// Only messages sent inside [from, to) seconds count for throughput and latency.
    from_us: u64,
    to_us: u64,
    latency_us: Histogram<u64>,
    /// With several servers: latency of messages from a sender on this receiver's server, and
    /// from one on another server.
    same_us: Histogram<u64>,
    cross_us: Histogram<u64>,
    /// This receiver's server and how many there are (sender `s` is on server `s % servers`).
    server: usize,
    servers: usize,
    /// Per sender, the numbers seen (a bitmap) and the highest one.
    seen: Vec<Vec<u64>>,
    highest: Vec<Option<u64>>,
    pub unique: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    /// Deliveries of messages sent inside the measuring window.
    pub measured: u64,
}

/// 1 µs to 60 s, 3 significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!("3 digits is valid")))
}

impl Receiver {
    pub fn new(senders: usize, epoch: Instant, from_secs: f64, to_secs: f64) -> Self {
        Self {
            epoch,
            from_us: (from_secs * 1e6) as u64,
            to_us: (to_secs * 1e6) as u64,
            latency_us: histogram(),
            same_us: histogram(),
            cross_us: histogram(),
            server: 0,
            servers: 1,
            seen: vec![Vec::new(); senders],
            highest: vec![None; senders],
            unique: 0,
            duplicated: 0,
            out_of_order: 0,
            measured: 0,
        }
    }

    /// This receiver is on server `server` of `servers`.
    pub fn on_server(mut self, server: usize, servers: usize) -> Self {
        self.server = server;
        self.servers = servers.max(1);
        self
    }

    /// Records one received text. Returns `(sender, n)` the first time a message arrives here.
    pub fn record(&mut self, text: &str) -> Option<(usize, u64)> {
        let mut parts = text.split(' ');
        if parts.next() != Some("L") {
            return None;
        }
        let s: usize = parts.next()?.parse().ok()?;
        let n: u64 = parts.next()?.parse().ok()?;
        let sent: u64 = parts.next()?.parse().ok()?;
        if s >= self.seen.len() {
            return None;
        }
        let bits = &mut self.seen[s];
        let (word, bit) = ((n / 64) as usize, n % 64);
        if bits.len() <= word {
            bits.resize(word + 1, 0);
        }
        if bits[word] & (1 << bit) != 0 {
            self.duplicated += 1;
            return None;
        }
        bits[word] |= 1 << bit;
        self.unique += 1;
        match self.highest[s] {
            Some(h) if n < h => self.out_of_order += 1,
            _ => self.highest[s] = Some(n),
        }
        if (self.from_us..self.to_us).contains(&sent) {
            self.measured += 1;
            let now = self.epoch.elapsed().as_micros() as u64;
            let latency = now.saturating_sub(sent).max(1);
            let _ = self.latency_us.record(latency);
            if self.servers > 1 {
                let _ = if s % self.servers == self.server {
                    self.same_us.record(latency)
                } else {
                    self.cross_us.record(latency)
                };
            }
        }
        Some((s, n))
    }

    /// The messages `(sender, n)` this receiver never got, of `sent[s]` per sender (itself
    /// excepted), for a diagnosis when some were lost.
    pub fn missing(&self, sent: &[u64], me: usize) -> Vec<(usize, u64)> {
        let mut missing = Vec::new();
        for (s, count) in sent.iter().enumerate() {
            if s == me {
                continue;
            }
            for n in 0..*count {
                let (word, bit) = ((n / 64) as usize, n % 64);
                if self.seen[s].get(word).is_none_or(|w| w & (1 << bit) == 0) {
                    missing.push((s, n));
                }
            }
        }
        missing
    }

    pub fn merge(&mut self, other: &Receiver) {
        let _ = self.latency_us.add(&other.latency_us);
        let _ = self.same_us.add(&other.same_us);
        let _ = self.cross_us.add(&other.cross_us);
        self.duplicated += other.duplicated;
        self.out_of_order += other.out_of_order;
        self.measured += other.measured;
    }

    /// The run's report: deliveries/s over the measuring window, latency percentiles.
    pub fn report(&self, label: &str, scenario: &str, secs: f64) -> Report {
        let mut report = Report::new(label, scenario);
        report.set("deliveries_per_sec", self.measured as f64 / secs);
        let h = &self.latency_us;
        for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)] {
            report.set(
                &format!("latency_{name}_ms"),
                h.value_at_quantile(q) as f64 / 1000.0,
            );
        }
        report.set("latency_max_ms", h.max() as f64 / 1000.0);
        for (kind, h) in [("same", &self.same_us), ("cross", &self.cross_us)] {
            if !h.is_empty() {
                for (name, q) in [("p50", 0.5), ("p99", 0.99)] {
                    report.set(
                        &format!("latency_{kind}_server_{name}_ms"),
                        h.value_at_quantile(q) as f64 / 1000.0,
                    );
                }
            }
        }
        report.set("duplicated", self.duplicated as f64);
        report.set("out_of_order", self.out_of_order as f64);
        report
    }
}

/// Named figures of one run.
pub struct Report {
    label: String,
    scenario: String,
    figures: BTreeMap<String, f64>,
}

impl Report {
    pub fn new(label: &str, scenario: &str) -> Self {
        Self {
            label: label.to_owned(),
            scenario: scenario.to_owned(),
            figures: BTreeMap::new(),
        }
    }

    pub fn set(&mut self, name: &str, value: f64) {
        self.figures.insert(name.to_owned(), value);
    }

    pub fn text(&self) -> String {
        let mut out = format!("{} {}\n", self.scenario, self.label);
        for (name, value) in &self.figures {
            out.push_str(&format!("  {name:<22} {value:.3}\n"));
        }
        out
    }

    pub fn json(&self) -> Value {
        json!({"label": self.label, "scenario": self.scenario, "figures": self.figures})
    }
}
