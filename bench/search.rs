//! Search on a generated store (docs/BENCHMARKS.md, "Search"): N messages in R rooms over 30
//! days, words drawn from a 5,000-word vocabulary with a Zipf-like skew; then a mix of queries
//! timed as a member of every room would run them, and what the index costs: on disk, and per
//! insert (the same batches into a fresh store with and without the index, in this run).
//!
//!   cargo run --release --features ssr --bin search-bench -- sqlite [MESSAGES] [ROOMS]
//!   cargo run --release --features ssr --bin search-bench -- postgres://... [MESSAGES] [ROOMS]
//!
//! SQLite runs in a temporary directory; PostgreSQL in databases it creates and drops
//! (`search_bench_a`, `search_bench_b`) on the server named (kept with `KEEP=1`).

use std::time::{Duration, Instant};

use chinwag::server::search::Query;
use chinwag::server::store::{NewMessage, Searcher, Store, StoreConfig};
use sqlx::Row;

const VOCABULARY: usize = 5_000;
const AUTHORS: i64 = 50;
const BATCH: usize = 500;
const DAYS: u64 = 30;

/// xorshift64*: the same store every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A word rank, skewed: rank r comes about 1/r as often.
    fn zipf(&mut self) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((VOCABULARY as f64).powf(u) as usize).saturating_sub(1)
    }
}

fn vocabulary() -> Vec<String> {
    const SYLLABLES: [&str; 24] = [
        "ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "de", "pla", "tor", "qui", "ben", "dra",
        "fel", "gon", "hir", "jas", "mor", "nix", "pel", "sten", "ur", "zed",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut words = std::collections::BTreeSet::new();
    while words.len() < VOCABULARY {
        let n = 2 + rng.below(2) as usize;
        let word: String = (0..n)
            .map(|_| SYLLABLES[rng.below(SYLLABLES.len() as u64) as usize])
            .collect();
        words.insert(word);
    }
    let mut words: Vec<String> = words.into_iter().collect();
    // A few real words at known ranks, for the queries.
    words[0] = "deploy".into();
    words[40] = "staging".into();
    words[41] = "database".into();
    words[2_000] = "flamingo".into();
    words
}

fn timestamp(i: u64, total: u64) -> String {
    let start = 1_764_547_200u64; // 2025-12-01T00:00:00Z
    let secs = start + i * DAYS * 86_400 / total.max(1);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3_600,
        rest / 60 % 60,
        rest % 60,
        i % 1_000
    )
}

/// Appends messages `from..to` (of `total`), each batch of [`BATCH`] to the next of `rooms` in
/// turn; returns the time taken.
async fn generate(
    store: &Store,
    words: &[String],
    from: u64,
    to: u64,
    total: u64,
    rooms: u64,
) -> Duration {
    let mut rng = Rng(0xDEAD_BEEF ^ from);
    let started = Instant::now();
    let mut i = from;
    while i < to {
        let room = format!("room-{}", (i / BATCH as u64) % rooms);
        let end = (i + BATCH as u64).min(to);
        let drafts = (i..end)
            .map(|n| {
                let count = 6 + rng.below(15) as usize;
                let text: Vec<&str> = (0..count).map(|_| words[rng.zipf()].as_str()).collect();
                NewMessage {
                    from: format!("author{}", n as i64 % AUTHORS),
                    text: text.join(" "),
                    at: timestamp(n, total),
                    client_id: None,
                    action: false,
                    person_id: Some(1_000 + n as i64 % AUTHORS),
                    mentions: Vec::new(),
                    files: Vec::new(),
                    answering: None,
                }
            })
            .collect();
        store
            .messages()
            .append_batch(&room, drafts)
            .await
            .expect("append");
        i = end;
    }
    started.elapsed()
}

struct Backend {
    name: &'static str,
    a: StoreConfig,
    b: StoreConfig,
    raw_a: String,
    raw_b: String,
    cleanup: Option<(String, [String; 2])>,
    _dir: Option<std::path::PathBuf>,
}

async fn backend(arg: &str) -> Backend {
    if arg == "sqlite" {
        let dir = std::env::temp_dir().join(format!("chinwag-search-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let (a, b) = (dir.join("a.db"), dir.join("b.db"));
        return Backend {
            name: "SQLite",
            raw_a: format!("sqlite://{}", a.display()),
            raw_b: format!("sqlite://{}", b.display()),
            a: StoreConfig::Sqlite(a),
            b: StoreConfig::Sqlite(b),
            cleanup: None,
            _dir: Some(dir),
        };
    }
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(arg).await.expect("postgres");
    let names = ["search_bench_a".to_owned(), "search_bench_b".to_owned()];
    for name in &names {
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&admin)
            .await
            .expect("drop");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .expect("create");
    }
    admin.close().await;
    let base = arg.rsplit_once('/').map_or(arg, |(b, _)| b);
    let (a, b) = (
        format!("{base}/{}", names[0]),
        format!("{base}/{}", names[1]),
    );
    Backend {
        name: "PostgreSQL",
        a: StoreConfig::Postgres(a.clone()),
        b: StoreConfig::Postgres(b.clone()),
        raw_a: a,
        raw_b: b,
        cleanup: Some((arg.to_owned(), names)),
        _dir: None,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1_000.0
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("sqlite", String::as_str);
    let total: u64 = args
        .get(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let rooms: u64 = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(100);
    sqlx::any::install_default_drivers();
    let words = vocabulary();
    let backend = backend(which).await;
    let sample = 100_000.min(total);

    // What one insert costs with the index and without: the same first batches into two fresh
    // stores, B with the index taken out.
    let b = Store::open(&backend.b).await.expect("open b");
    let raw_b = sqlx::AnyPool::connect(&backend.raw_b).await.expect("raw b");
    let drops: &[&str] = if backend.name == "SQLite" {
        &[
            "DROP TRIGGER message_search_insert",
            "DROP TRIGGER message_search_update",
            "DROP TRIGGER message_search_delete",
        ]
    } else {
        &["ALTER TABLE messages DROP COLUMN search"]
    };
    for statement in drops {
        sqlx::query(statement)
            .execute(&raw_b)
            .await
            .expect("drop index");
    }
    let without = generate(&b, &words, 0, sample, total, rooms).await;
    b.close().await;
    let a = Store::open(&backend.a).await.expect("open a");
    let with = generate(&a, &words, 0, sample, total, rooms).await;
    let per = |d: Duration| d.as_secs_f64() * 1e6 / sample as f64;
    println!(
        "{}: insert of {sample} messages in batches of {BATCH}: {:.1} µs/message without the index, {:.1} with ({:+.0}%)",
        backend.name,
        per(without),
        per(with),
        (per(with) / per(without) - 1.0) * 100.0
    );
    let rest = generate(&a, &words, sample, total, total, rooms).await;
    println!(
        "{}: generated {total} messages in {rooms} rooms ({:.0} messages/s for the rest)",
        backend.name,
        (total - sample) as f64 / rest.as_secs_f64()
    );

    // The searcher: a member of every room.
    let raw_a = sqlx::AnyPool::connect(&backend.raw_a).await.expect("raw a");
    // What autovacuum (PostgreSQL) or the optimizer's own sampling would know of a store that
    // grew over time: the planner's statistics, taken now after the bulk load.
    sqlx::query("ANALYZE")
        .execute(&raw_a)
        .await
        .expect("analyze");
    let person = 1i64;
    for r in 0..rooms {
        sqlx::query(&format!(
            "INSERT INTO memberships (person_id, room, joined_at) VALUES ({person}, 'room-{r}', '2025-12-01T00:00:00.000Z')"
        ))
        .execute(&raw_a)
        .await
        .expect("membership");
    }
    let size = if backend.name == "SQLite" {
        let row = sqlx::query(
            "SELECT SUM(CASE WHEN name LIKE 'message_search%' THEN pgsize ELSE 0 END) AS index_bytes, \
             SUM(pgsize) AS all_bytes FROM dbstat",
        )
        .fetch_one(&raw_a)
        .await
        .expect("dbstat");
        (
            row.try_get::<i64, _>("index_bytes").unwrap_or(0),
            row.try_get::<i64, _>("all_bytes").unwrap_or(0),
        )
    } else {
        let row = sqlx::query(
            "SELECT (pg_relation_size('messages_search') + \
             (SELECT COALESCE(SUM(pg_column_size(search)), 0) FROM messages))::BIGINT AS index_bytes, \
             pg_database_size(current_database())::BIGINT AS all_bytes",
        )
        .fetch_one(&raw_a)
        .await
        .expect("sizes");
        (
            row.try_get::<i64, _>("index_bytes").unwrap_or(0),
            row.try_get::<i64, _>("all_bytes").unwrap_or(0),
        )
    };
    println!(
        "{}: the index takes {:.0} MiB of {:.0} MiB ({:.0}%)",
        backend.name,
        size.0 as f64 / 1_048_576.0,
        size.1 as f64 / 1_048_576.0,
        size.0 as f64 * 100.0 / size.1.max(1) as f64
    );

    let queries = [
        ("a common word", "deploy "),
        ("two words", "staging database "),
        ("a rare word", "flamingo "),
        ("a prefix", "depl"),
        ("a phrase", "\"staging database\""),
        ("in one room", "deploy in:#room-7 "),
        ("a date range", "deploy after:2025-12-10 before:2025-12-20 "),
    ];
    let searcher = Searcher {
        person,
        from: None,
        with: None,
    };
    let mut all = Vec::new();
    for (name, q) in queries {
        let query = Query::parse(q).expect("query");
        let mut times = Vec::new();
        for _ in 0..30 {
            let started = Instant::now();
            let hits = a
                .search()
                .find(searcher, &query, None, 20)
                .await
                .expect("search");
            times.push(started.elapsed());
            assert!(!hits.hits.is_empty(), "{name} finds something");
        }
        times.sort();
        println!(
            "{}: {name:<14} p50 {:6.2} ms  p95 {:6.2} ms",
            backend.name,
            percentile(&times, 0.5),
            percentile(&times, 0.95)
        );
        all.extend(times);
    }
    all.sort();
    println!(
        "{}: all {} searches: p50 {:.2} ms, p95 {:.2} ms",
        backend.name,
        all.len(),
        percentile(&all, 0.5),
        percentile(&all, 0.95)
    );
    a.close().await;
    raw_a.close().await;
    raw_b.close().await;
    // KEEP=1 leaves PostgreSQL's databases, to read query plans in them (drop them by hand).
    let keep = std::env::var_os("KEEP").is_some();
    if let Some((admin, names)) = backend.cleanup.filter(|_| !keep) {
        let admin = sqlx::AnyPool::connect(&admin).await.expect("admin");
        for name in names {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&admin)
                .await;
        }
    }
    if let Some(dir) = backend._dir {
        let _ = std::fs::remove_dir_all(dir);
    }
}
