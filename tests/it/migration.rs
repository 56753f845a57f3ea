//! A store written by the previous release (schema 0001–0007: a session was a person) opens in
//! this one with nothing lost: every session becomes a person with the same name, rooms, private
//! messages, authored messages, name claim and sanctions, and still signs in with its token. On
//! both backends: SQLite in a temporary directory, PostgreSQL in a schema of its own.

use std::borrow::Cow;
use std::path::Path;

use chinwag::server::store::{SanctionKind, Store, StoreConfig};
use sqlx::migrate::Migrator;

use crate::common::TempDir;

const PREVIOUS_RELEASE: i64 = 7;
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// What the previous release left: alice (in #rust, wrote there, wrote bob privately) and bob
/// (muted), each with a session and a name claim.
const OLD_ROWS: &[&str] = &[
    "INSERT INTO sessions (token_hash, nick, nick_key, created_at, last_seen, address) \
     VALUES ('hash-alice', 'Alice', 'alice', '2026-11-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z', '10.0.0.1')",
    "INSERT INTO sessions (token_hash, nick, nick_key, created_at, last_seen, address) \
     VALUES ('hash-bob', 'bob', 'bob', '2026-11-02T00:00:00.000Z', '2026-12-01T00:00:00.000Z', '10.0.0.2')",
    "INSERT INTO nick_claims (nick_key, session_id, held_until) \
     SELECT 'alice', id, '2099-01-01T00:00:00.000Z' FROM sessions WHERE token_hash = 'hash-alice'",
    "INSERT INTO nick_claims (nick_key, session_id, held_until) \
     SELECT 'bob', id, '2099-01-01T00:00:00.000Z' FROM sessions WHERE token_hash = 'hash-bob'",
    "INSERT INTO rooms (name, last_seq, created_at) VALUES ('rust', 1, '2026-11-01T00:00:00.000Z')",
    "INSERT INTO memberships (session_hash, room, joined_at) \
     VALUES ('hash-alice', 'rust', '2026-11-01T00:00:00.000Z')",
    "INSERT INTO messages (room, seq, sender, text, at, client_id, action, session_hash) \
     VALUES ('rust', 1, 'Alice', 'hello rust', '2026-11-01T00:00:01.000Z', 'c-1', 0, 'hash-alice')",
    "INSERT INTO direct_messages (from_session, to_session, sender, recipient, text, at, client_id) \
     VALUES ('hash-alice', 'hash-bob', 'Alice', 'bob', 'psst', '2026-11-01T00:00:02.000Z', 'd-1')",
    "UPDATE counters SET value = 1 WHERE name = 'direct_messages'",
    "INSERT INTO sanctions (kind, session_id, nick, nick_key, address, reason, by_nick, at, until) \
     SELECT 'mute', id, 'bob', 'bob', '10.0.0.2', 'spam', 'mod', '2026-11-03T00:00:00.000Z', \
     '2099-01-01T00:00:00.000Z' FROM sessions WHERE token_hash = 'hash-bob'",
];

/// Brings the database at `url` to the previous release's schema and fills it.
async fn previous_release(url: &str, migrations: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.expect("connect");
    let mut migrator = Migrator::new(Path::new(migrations))
        .await
        .expect("the migrations");
    let old: Vec<_> = migrator
        .migrations
        .iter()
        .filter(|m| m.version <= PREVIOUS_RELEASE)
        .cloned()
        .collect();
    migrator.migrations = Cow::Owned(old);
    migrator
        .run(&pool)
        .await
        .expect("the previous release's schema");
    for statement in OLD_ROWS {
        sqlx::query(statement)
            .execute(&pool)
            .await
            .unwrap_or_else(|err| panic!("{statement}: {err}"));
    }
    pool.close().await;
}

/// Opens the store (this release's migrations run) and checks that nothing was lost.
async fn check(config: StoreConfig) {
    let store = Store::open(&config).await.expect("migrated");
    let alice = store
        .people()
        .session_by_hash("hash-alice", "2000-01-01T00:00:00.000Z")
        .await
        .expect("read")
        .expect("alice's session still signs her in");
    let bob = store
        .people()
        .session_by_hash("hash-bob", "2000-01-01T00:00:00.000Z")
        .await
        .expect("read")
        .expect("bob's too");
    let (a, b) = (alice.person.id, bob.person.id);
    assert_ne!(a, b);
    assert_eq!(alice.person.nick, "Alice");
    assert_eq!(alice.person.rooms, vec!["rust".to_owned()]);
    assert_eq!(
        alice.person.claim.map(|c| c.person_id),
        Some(a),
        "her name is hers"
    );
    assert_eq!(alice.person.address.as_deref(), Some("10.0.0.1"));

    // Her message is hers (a retry of it is recognized; she may edit it).
    let mine = store
        .messages()
        .sent_before("rust", a, "c-1")
        .await
        .expect("read")
        .expect("her message, by her");
    assert_eq!(mine.text, "hello rust");
    // Their private message is both of theirs.
    for person in [a, b] {
        let dms = store
            .directs()
            .of_person(person, None, 10)
            .await
            .expect("read");
        assert_eq!(dms.len(), 1, "person {person}");
        assert!(
            matches!(&dms[0], chinwag::server::store::DirectEntry::Message(dm) if dm.text == "psst"),
            "{dms:?}"
        );
    }
    assert_eq!(
        store.directs().direct_peer(a, 1).await.expect("read"),
        Some(b),
        "the conversation's parties"
    );
    // Bob is still muted, as a person.
    let mutes = store
        .moderation()
        .sanctions_in_force(SanctionKind::Mute, "2026-12-07T00:00:00.000Z")
        .await
        .expect("read");
    assert_eq!(
        mutes.iter().map(|m| m.person_id).collect::<Vec<_>>(),
        vec![b]
    );
    // New people get new numbers.
    let carol = store
        .people()
        .create_person(
            &"cc".repeat(32),
            ("carol", "carol"),
            chinwag::server::store::Device::default(),
            "2026-12-07T00:00:00.000Z",
            "2026-12-07T00:15:00.000Z",
        )
        .await
        .expect("create")
        .expect("a free name");
    assert!(carol.1 != a && carol.1 != b);
    assert_eq!(store.people().person_count().await.expect("count"), 3);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_store_of_the_previous_release_keeps_everyone() {
    let dir = TempDir::new("migration");
    std::fs::create_dir_all(&dir.0).expect("the directory");
    let path = dir.0.join("chinwag.db");
    previous_release(
        &format!("sqlite://{}?mode=rwc", path.display()),
        "migrations/sqlite",
    )
    .await;
    check(StoreConfig::Sqlite(path)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_store_of_the_previous_release_keeps_everyone() {
    let base =
        std::env::var("CHINWAG_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned());
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(&base).await.expect("PostgreSQL");
    let schema = format!(
        "chinwag_migration_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .expect("create schema");
    let url = format!("{base}?options=-c%20search_path%3D{schema}");
    previous_release(&url, "migrations/postgres").await;
    check(StoreConfig::Postgres(url)).await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin)
        .await
        .expect("drop schema");
    admin.close().await;
}
