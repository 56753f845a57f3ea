//! The store against both real backends: embedded SQLite in a temporary directory, and the
//! PostgreSQL server at `CHINWAG_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/test`),
//! each test in a schema of its own that is dropped afterwards.

use std::collections::HashSet;

use chinwag::protocol::{ChatMessage, Stored};
use chinwag::server::store::{
    ChangeDraft, ChangeOutcome, Committed, Device, DirectDraft, DirectEntry, JoinOutcome,
    NewMessage, Store, StoreConfig, StoreError,
};

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A store on a fresh database, and what to clean up.
struct TestStore {
    store: Store,
    _dir: Option<TempDir>,
    schema: Option<(String, String)>,
}

/// A temporary directory removed on drop.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn sqlite() -> TestStore {
    let dir = std::env::temp_dir().join(format!(
        "chinwag-store-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    let store = Store::open(&StoreConfig::Sqlite(dir.join("data").join("chinwag.db")))
        .await
        .expect("open sqlite");
    TestStore {
        store,
        _dir: Some(TempDir(dir)),
        schema: None,
    }
}

async fn postgres() -> TestStore {
    let base =
        std::env::var("CHINWAG_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned());
    let schema = format!("chinwag_test_{}_{}", std::process::id(), rand_suffix());
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(&base)
        .await
        .expect("PostgreSQL must be running for the store tests (see README)");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .expect("create schema");
    admin.close().await;
    let url = format!("{base}?options=-c%20search_path%3D{schema}");
    let store = Store::open(&StoreConfig::Postgres(url))
        .await
        .expect("open postgres");
    TestStore {
        store,
        _dir: None,
        schema: Some((base, schema)),
    }
}

impl TestStore {
    async fn finish(self) {
        self.store.close().await;
        if let Some((base, schema)) = self.schema {
            let admin = sqlx::AnyPool::connect(&base).await.expect("connect");
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&admin)
                .await
                .expect("drop schema");
            admin.close().await;
        }
    }
}

/// Room caps for a store test: `total` rooms, none per address.
fn caps(total: usize) -> chinwag::server::store::RoomCaps<'static> {
    chinwag::server::store::RoomCaps {
        total,
        per_address: usize::MAX,
        address: "127.0.0.1",
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .elapsed()
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    h.finish() % 1_000_000_000
}

/// Commits one message (a batch of one).
#[allow(clippy::too_many_arguments)]
async fn append(
    store: &Store,
    room: &str,
    from: &str,
    text: &str,
    at: &str,
    client_id: Option<&str>,
    action: bool,
    person_id: Option<i64>,
) -> Result<ChatMessage, StoreError> {
    let draft = NewMessage {
        mentions: Vec::new(),
        from: from.to_owned(),
        text: text.to_owned(),
        at: at.to_owned(),
        client_id: client_id.map(str::to_owned),
        action,
        person_id,
        files: Vec::new(),
        answering: None,
    };
    let mut stored = store.messages().append_batch(room, vec![draft]).await?;
    Ok(stored.remove(0).into_message())
}

/// Where a test person connects from.
fn device(address: &str) -> Device<'_> {
    Device {
        address: Some(address),
        user_agent: None,
    }
}

/// Creates a guest person `nick` (its own name key) with a session of token hash `hash`, held
/// until `t9`: the person's id.
async fn person(store: &Store, hash: &str, nick: &str) -> i64 {
    store
        .people()
        .create_person(hash, (nick, nick), device("127.0.0.1"), "t", "t9")
        .await
        .expect("create")
        .expect("the name is free")
        .1
}

/// Runs `check` against a fresh store of each backend.
macro_rules! both_backends {
    ($name:ident, $check:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let t = super::sqlite().await;
                super::$check(&t.store).await;
                t.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let t = super::postgres().await;
                super::$check(&t.store).await;
                t.finish().await;
            }
        }
    };
}

async fn appends_number_each_room_from_one(store: &Store) {
    let at = "2026-11-25T22:00:00.000Z";
    let a = append(
        store,
        "general",
        "alice",
        "hi",
        at,
        Some("c-1"),
        false,
        None,
    )
    .await
    .expect("append");
    let b = append(store, "general", "bob", "yo", at, None, true, None)
        .await
        .expect("append");
    let c = append(store, "rust", "bob", "x", at, None, false, None)
        .await
        .expect("append");
    assert_eq!((a.seq, b.seq, c.seq), (1, 2, 1));
    let page = store
        .messages()
        .history("general", None, 50)
        .await
        .expect("history");
    assert!(page.complete);
    assert_eq!(page.messages().cloned().collect::<Vec<_>>(), vec![a, b]);
}
both_backends!(numbering, appends_number_each_room_from_one);

async fn concurrent_writers_get_gap_free_seqs(store: &Store) {
    const WRITERS: usize = 8;
    const EACH: usize = 40;
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..EACH {
                    let m = append(
                        &store,
                        "general",
                        &format!("w{w}"),
                        &format!("{w}-{i}"),
                        "t",
                        None,
                        false,
                        None,
                    )
                    .await
                    .expect("append under contention");
                    seqs.push(m.seq);
                }
                seqs
            })
        })
        .collect();
    let mut all = HashSet::new();
    for task in tasks {
        let seqs = task.await.expect("writer");
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "each writer sees its seqs grow"
        );
        all.extend(seqs);
    }
    let expected: HashSet<u64> = (1..=(WRITERS * EACH) as u64).collect();
    assert_eq!(all, expected, "gap-free, no duplicates");
    let stored = store
        .messages()
        .since("general", 0, 10_000)
        .await
        .expect("since");
    let seqs: Vec<u64> = stored.iter().map(Stored::position).collect();
    assert_eq!(seqs, (1..=(WRITERS * EACH) as u64).collect::<Vec<_>>());
}
both_backends!(contention, concurrent_writers_get_gap_free_seqs);

async fn history_pages_backwards_and_since_reads_forwards(store: &Store) {
    for i in 1..=120 {
        append(
            store,
            "general",
            "a",
            &format!("m{i}"),
            "t",
            None,
            false,
            None,
        )
        .await
        .expect("append");
    }
    let latest = store
        .messages()
        .history("general", None, 50)
        .await
        .expect("history");
    assert!(!latest.complete);
    assert_eq!(latest.messages().next().map(|m| m.seq), Some(71));
    assert_eq!(latest.messages().last().map(|m| m.seq), Some(120));
    let older = store
        .messages()
        .history("general", Some(71), 50)
        .await
        .expect("history");
    assert_eq!(older.messages().next().map(|m| m.seq), Some(21));
    let oldest = store
        .messages()
        .history("general", Some(21), 50)
        .await
        .expect("history");
    assert!(oldest.complete);
    assert_eq!(oldest.messages().count(), 20);

    let missed = store
        .messages()
        .since("general", 115, 100)
        .await
        .expect("since");
    assert_eq!(
        missed.iter().map(Stored::position).collect::<Vec<_>>(),
        [116, 117, 118, 119, 120]
    );
    assert!(store
        .messages()
        .since("general", 120, 100)
        .await
        .expect("since")
        .is_empty());
    assert!(store
        .messages()
        .since("nowhere", 0, 100)
        .await
        .expect("since")
        .is_empty());
    store.ping().await.expect("ping");
}
both_backends!(paging, history_pages_backwards_and_since_reads_forwards);

#[tokio::test]
async fn sqlite_data_survives_reopening() {
    let t = sqlite().await;
    let path = match t._dir.as_ref() {
        Some(dir) => dir.0.join("data").join("chinwag.db"),
        None => unreachable!(),
    };
    append(&t.store, "general", "a", "kept", "t", None, false, None)
        .await
        .expect("append");
    t.store.close().await;
    let reopened = Store::open(&StoreConfig::Sqlite(path))
        .await
        .expect("reopen");
    let page = reopened
        .messages()
        .history("general", None, 10)
        .await
        .expect("history");
    assert_eq!(page.messages().count(), 1);
    let next = append(&reopened, "general", "a", "next", "t", None, false, None)
        .await
        .expect("append");
    assert_eq!(next.seq, 2);
    reopened.close().await;
}

async fn people_claim_names_and_own_their_rooms(store: &Store) {
    const NOW: &str = "2026-11-26T12:00:00.000Z";
    const LATER: &str = "2026-11-26T12:15:00.000Z";
    const MUCH_LATER: &str = "2026-11-26T13:00:00.000Z";
    let (alice_hash, bob_hash) = ("ab".repeat(32), "cd".repeat(32));
    let (alice_session, alice) = store
        .people()
        .create_person(
            &alice_hash,
            ("alice", "alice"),
            device("127.0.0.1"),
            NOW,
            LATER,
        )
        .await
        .expect("create")
        .expect("the name is free");
    assert_eq!(
        store
            .people()
            .create_person(
                &bob_hash,
                ("Alice", "alice"),
                device("127.0.0.1"),
                NOW,
                LATER
            )
            .await
            .expect("create"),
        None,
        "a held name is refused, and nothing is stored"
    );
    assert_eq!(
        store
            .people()
            .session_by_hash(&bob_hash, "2000-01-01T00:00:00.000Z")
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        (
            store.people().person_count().await.expect("count"),
            store.people().session_count().await.expect("count")
        ),
        (1, 1),
        "no person and no session for the refused name"
    );
    let (bob_session, bob) = store
        .people()
        .create_person(&bob_hash, ("bob", "bob"), device("127.0.0.1"), NOW, LATER)
        .await
        .expect("create")
        .expect("free");
    assert_ne!(alice, bob);
    assert_ne!(alice_session, bob_session);
    let saved = store
        .people()
        .session_by_hash(&alice_hash, "2000-01-01T00:00:00.000Z")
        .await
        .expect("read")
        .expect("alice");
    assert_eq!(
        (saved.id, saved.person.id),
        (alice_session, alice),
        "the token finds its session and its person"
    );
    // A hold that ran out lets someone else take the name; the first person cannot take it back.
    assert!(!store
        .people()
        .claim_nick("alice", bob, NOW, LATER)
        .await
        .expect("claim"));
    assert!(store
        .people()
        .claim_nick("alice", bob, MUCH_LATER, "2026-11-26T13:15:00.000Z")
        .await
        .expect("claim"));
    assert!(!store
        .people()
        .claim_nick("alice", alice, MUCH_LATER, "2026-11-26T13:15:00.000Z")
        .await
        .expect("claim"));
    let saved = store
        .people()
        .session_by_hash(&alice_hash, "2000-01-01T00:00:00.000Z")
        .await
        .expect("read")
        .expect("alice");
    assert_eq!(
        saved.person.claim.map(|c| c.person_id),
        Some(bob),
        "the claim, not the row, says who holds it"
    );
    // Renaming claims the new name and gives up the old one.
    assert!(store
        .people()
        .rename_person(
            alice,
            ("alice", "Alicia", "alicia"),
            MUCH_LATER,
            "2026-11-26T13:15:00.000Z"
        )
        .await
        .expect("rename"));
    assert!(
        !store
            .people()
            .rename_person(alice, ("alicia", "Bob", "bob"), NOW, LATER)
            .await
            .expect("rename"),
        "a held name cannot be renamed to"
    );
    // Memberships: joining creates the room, twice is fine, leaving an empty unused room deletes it.
    assert_eq!(
        store
            .rooms()
            .join(alice, "rust", NOW, caps(10))
            .await
            .expect("join"),
        JoinOutcome::Joined { created: true }
    );
    assert_eq!(
        store
            .rooms()
            .join(alice, "rust", NOW, caps(10))
            .await
            .expect("join"),
        JoinOutcome::Joined { created: false }
    );
    assert_eq!(
        store
            .rooms()
            .join(bob, "go", NOW, caps(10))
            .await
            .expect("join"),
        JoinOutcome::Joined { created: true }
    );
    assert!(store.rooms().leave(bob, "go").await.expect("leave"));
    assert!(
        !store.rooms().room_exists("go").await.expect("exists"),
        "nobody in it, nothing said: gone"
    );
    assert!(!store.rooms().leave(bob, "go").await.expect("leave"));
    let saved = store
        .people()
        .session_by_hash(&alice_hash, "2000-01-01T00:00:00.000Z")
        .await
        .expect("read")
        .expect("alice");
    assert_eq!(
        (saved.person.nick.as_str(), saved.person.rooms.as_slice()),
        ("Alicia", &["rust".to_owned()][..])
    );
    // The room cap counts rooms, general's included once it has messages.
    let rooms_now = store.rooms().room_count().await.expect("count");
    let cap = usize::try_from(rooms_now).expect("small");
    assert_eq!(
        store
            .rooms()
            .join(bob, "new-one", NOW, caps(cap))
            .await
            .expect("join"),
        JoinOutcome::RoomLimit
    );
    assert_eq!(
        store
            .rooms()
            .join(bob, "rust", NOW, caps(cap))
            .await
            .expect("join"),
        JoinOutcome::Joined { created: false },
        "an existing room is joined at the cap"
    );
    // Joining created the room: messages can be posted to it.
    let first = append(store, "rust", "alicia", "hi", "t", None, false, None)
        .await
        .expect("append");
    assert_eq!(first.seq, 1);
    assert!(store.rooms().leave(alice, "rust").await.expect("leave"));
    assert!(store.rooms().leave(bob, "rust").await.expect("leave"));
    assert!(
        store.rooms().room_exists("rust").await.expect("exists"),
        "a room with history stays"
    );
    // Refreshing moves last-seen and holds; the sweep deletes what expired, with its rooms and claim.
    store
        .people()
        .refresh_people(
            &[bob_session],
            &[bob],
            "2026-11-27T00:00:00.000Z",
            "2026-11-27T00:15:00.000Z",
        )
        .await
        .expect("refresh");
    store
        .rooms()
        .join(alice, "rust", NOW, caps(10))
        .await
        .expect("join");
    let deleted = store
        .people()
        .sweep_people("2026-11-26T23:00:00.000Z", "2026-11-27T00:00:00.000Z")
        .await
        .expect("sweep");
    assert_eq!(deleted, 1, "alice, unseen since her rename at 13:00");
    assert_eq!(
        store
            .people()
            .session_by_hash(&alice_hash, "2000-01-01T00:00:00.000Z")
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        store.people().person_by_id(alice).await.expect("read"),
        None,
        "the person went with their last session"
    );
    assert!(
        store
            .rooms()
            .rooms_of(alice)
            .await
            .expect("rooms")
            .is_empty(),
        "with their rooms"
    );
    assert!(store
        .people()
        .session_by_hash(&bob_hash, "2026-11-26T23:00:00.000Z")
        .await
        .expect("read")
        .is_some());
    assert_eq!(
        store
            .people()
            .session_by_hash(&bob_hash, "2026-11-27T01:00:00.000Z")
            .await
            .expect("read"),
        None,
        "expired sessions are not found even before the sweep"
    );
    assert_eq!(store.people().session_count().await.expect("count"), 1);
    assert_eq!(store.people().person_count().await.expect("count"), 1);
}
both_backends!(sessions, people_claim_names_and_own_their_rooms);

async fn private_messages_are_read_only_by_their_parties(store: &Store) {
    let alice = person(store, &"aa".repeat(32), "alice").await;
    let bob = person(store, &"bb".repeat(32), "bob").await;
    let carol = person(store, &"cc".repeat(32), "carol").await;
    let dave = person(store, &"dd".repeat(32), "dave").await;
    let send = |from: &'static str, to: &'static str, text: &'static str, id: &'static str| {
        let people = |who: &str| match who {
            "alice" => alice,
            "bob" => bob,
            _ => carol,
        };
        let (from_person, to_person) = (people(from), people(to));
        async move {
            let draft = DirectDraft {
                from_person,
                to_person,
                from: from.to_owned(),
                to: to.to_owned(),
                text: text.to_owned(),
                at: "t".to_owned(),
                client_id: Some(id.to_owned()),
                action: false,
                files: Vec::new(),
                answering: None,
                reacting: None,
            };
            store
                .directs()
                .append_directs(vec![draft])
                .await
                .map(|mut stored| match stored.remove(0).entry {
                    DirectEntry::Message(message) => message,
                    DirectEntry::Reacted(reaction) => panic!("a reaction: {reaction:?}"),
                })
        }
    };
    let one = send("alice", "bob", "psst", "a-1").await.expect("store");
    let two = send("bob", "alice", "yes?", "b-1").await.expect("store");
    let other = send("carol", "bob", "hi bob", "c-1").await.expect("store");
    assert!(one.id < two.id && two.id < other.id, "ids grow");
    assert!(
        send("alice", "bob", "psst", "a-1").await.is_err(),
        "a client_id is stored once per sender"
    );
    let texts = |dms: Vec<DirectEntry>| -> Vec<String> {
        dms.into_iter()
            .map(|entry| match entry {
                DirectEntry::Message(dm) => dm.text,
                DirectEntry::Reacted(reaction) => panic!("a reaction: {reaction:?}"),
            })
            .collect()
    };
    assert_eq!(
        texts(
            store
                .directs()
                .of_person(alice, None, 10)
                .await
                .expect("read")
        ),
        ["psst", "yes?"],
        "never carol's"
    );
    assert_eq!(
        texts(
            store
                .directs()
                .of_person(bob, None, 10)
                .await
                .expect("read")
        ),
        ["psst", "yes?", "hi bob"]
    );
    assert_eq!(
        texts(store.directs().of_person(bob, None, 2).await.expect("read")),
        ["yes?", "hi bob"],
        "the latest, oldest first"
    );
    assert_eq!(
        texts(
            store
                .directs()
                .of_person(bob, Some(one.id), 10)
                .await
                .expect("read")
        ),
        ["yes?", "hi bob"],
        "exactly what came after"
    );
    assert!(store
        .directs()
        .of_person(dave, None, 10)
        .await
        .expect("read")
        .is_empty());
    assert_eq!(
        store
            .directs()
            .direct_sent_before(alice, "a-1")
            .await
            .expect("lookup"),
        Some(one)
    );
    assert_eq!(
        store
            .directs()
            .direct_sent_before(bob, "a-1")
            .await
            .expect("lookup"),
        None
    );
}
both_backends!(directs, private_messages_are_read_only_by_their_parties);

async fn a_client_id_is_stored_once_per_person_and_room(store: &Store) {
    let alice = person(store, &"aa".repeat(32), "alice").await;
    let bob = person(store, &"bb".repeat(32), "bob").await;
    let first = append(
        store,
        "general",
        "alice",
        "hi",
        "t",
        Some("c-1"),
        false,
        Some(alice),
    )
    .await
    .expect("append");
    let found = store
        .messages()
        .sent_before("general", alice, "c-1")
        .await
        .expect("lookup");
    assert_eq!(found.as_ref(), Some(&first));
    assert_eq!(
        store
            .messages()
            .sent_before("general", bob, "c-1")
            .await
            .expect("lookup"),
        None
    );
    // A second copy is answered with the first and uses no seq (the next message is seq 2).
    let again = store
        .messages()
        .append_batch(
            "general",
            vec![NewMessage {
                from: "alice".into(),
                text: "hi again".into(),
                at: "t2".into(),
                client_id: Some("c-1".into()),
                action: false,
                person_id: Some(alice),
                mentions: Vec::new(),
                files: Vec::new(),
                answering: None,
            }],
        )
        .await
        .expect("a retry");
    assert_eq!(again, [Committed::Earlier(first.clone())]);
    let bobs = append(
        store,
        "general",
        "bob",
        "hi",
        "t",
        Some("c-1"),
        false,
        Some(bob),
    )
    .await
    .expect("another person may reuse the id");
    assert_eq!(bobs.seq, 2);
    // Without a client_id (the form) nothing collides.
    for _ in 0..2 {
        append(store, "general", "dana", "x", "t", None, false, Some(bob))
            .await
            .expect("append");
    }
}
both_backends!(once, a_client_id_is_stored_once_per_person_and_room);

async fn a_batch_is_committed_whole_with_consecutive_seqs(store: &Store) {
    let author = person(store, &"aa".repeat(32), "a").await;
    let draft = |text: &str, client_id: Option<&str>| NewMessage {
        from: "a".into(),
        text: text.into(),
        at: "t".into(),
        client_id: client_id.map(str::to_owned),
        action: false,
        person_id: Some(author),
        mentions: Vec::new(),
        files: Vec::new(),
        answering: None,
    };
    append(store, "general", "a", "first", "t", None, false, None)
        .await
        .expect("append");
    let batch = store
        .messages()
        .append_batch(
            "general",
            vec![
                draft("x", Some("b-1")),
                draft("y", None),
                draft("z", Some("b-2")),
            ],
        )
        .await
        .expect("batch");
    let seqs: Vec<u64> = batch.iter().map(|m| m.message().seq).collect();
    assert_eq!(seqs, [2, 3, 4]);
    assert!(batch.iter().all(|c| matches!(c, Committed::New(_))));
    // Retries in a batch, of a message stored before and of one earlier in the same batch, are
    // answered with those messages; only the new ones take seqs, consecutive ones.
    let mixed = store
        .messages()
        .append_batch(
            "general",
            vec![
                draft("new", Some("b-3")),
                draft("again", Some("b-1")),
                draft("newer", None),
                draft("new again", Some("b-3")),
            ],
        )
        .await
        .expect("batch");
    let shown: Vec<(bool, u64, &str)> = mixed
        .iter()
        .map(|c| {
            let m = c.message();
            (matches!(c, Committed::New(_)), m.seq, m.text.as_str())
        })
        .collect();
    assert_eq!(
        shown,
        [
            (true, 5, "new"),
            (false, 2, "x"),
            (true, 6, "newer"),
            (false, 5, "new")
        ]
    );
    let page = store
        .messages()
        .history("general", None, 10)
        .await
        .expect("history");
    let texts: Vec<&str> = page.messages().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["first", "x", "y", "z", "new", "newer"]);
    let next = append(store, "general", "a", "after", "t", None, false, None)
        .await
        .expect("append");
    assert_eq!(next.seq, 7, "no seq was used by a retry");
    // A batch of retries only stores nothing and uses no seq.
    let retries = store
        .messages()
        .append_batch("general", vec![draft("z again", Some("b-2"))])
        .await
        .expect("batch");
    assert_eq!(retries.len(), 1);
    assert_eq!(retries[0].message().seq, 4);
    let next = append(store, "general", "a", "last", "t", None, false, None)
        .await
        .expect("append");
    assert_eq!(next.seq, 8);
}
both_backends!(batch, a_batch_is_committed_whole_with_consecutive_seqs);

async fn edits_and_deletes_are_entries_of_the_log(store: &Store) {
    let alice = person(store, &"aa".repeat(32), "alice").await;
    let bob = person(store, &"bb".repeat(32), "bob").await;
    let change = |person: i64, text: Option<&str>, moderator: bool| ChangeDraft {
        by: "someone".to_owned(),
        person_id: Some(person),
        at: "t2".to_owned(),
        text: text.map(str::to_owned),
        moderator,
        max_edits: 25,
        mentions: Vec::new(),
    };
    let first = append(
        store,
        "general",
        "alice",
        "helo",
        "t",
        Some("c-1"),
        false,
        Some(alice),
    )
    .await
    .expect("append");
    append(store, "general", "bob", "yo", "t", None, false, Some(bob))
        .await
        .expect("append");

    // Only the author edits; the change takes the next position.
    assert_eq!(
        store
            .messages()
            .change("general", first.seq, change(bob, Some("hacked"), false))
            .await
            .expect("change"),
        ChangeOutcome::Forbidden
    );
    assert_eq!(
        store
            .messages()
            .change("general", first.seq, change(bob, Some("hacked"), true))
            .await
            .expect("change"),
        ChangeOutcome::Forbidden,
        "a moderator deletes, never edits, someone else's message"
    );
    for missing in [99, 0] {
        assert_eq!(
            store
                .messages()
                .change("general", missing, change(alice, None, false))
                .await
                .expect("change"),
            ChangeOutcome::NotFound
        );
    }
    assert_eq!(
        store
            .messages()
            .change("nowhere", 1, change(alice, None, false))
            .await
            .expect("change"),
        ChangeOutcome::NotFound
    );
    let ChangeOutcome::Stored(edit) = store
        .messages()
        .change("general", first.seq, change(alice, Some("hello"), false))
        .await
        .expect("edit")
    else {
        panic!("the author's edit is stored");
    };
    assert_eq!(edit.position(), 3, "refusals took no position");
    assert!(
        matches!(&edit, Stored::Edited(c) if c.seq == first.seq && c.text.as_deref() == Some("hello"))
    );
    assert_eq!(
        store.messages().room_head("general").await.expect("head"),
        3
    );
    // The message's row is its current version.
    let page = store
        .messages()
        .history("general", None, 50)
        .await
        .expect("history");
    let shown = page.messages().next().expect("a message").clone();
    assert_eq!(
        (shown.text.as_str(), shown.edited, shown.deleted),
        ("hello", true, false)
    );
    assert_eq!(
        page.entries.len(),
        3,
        "the latest page ends at the last position"
    );
    // The log after a position has exactly the changes since.
    let since = store
        .messages()
        .since("general", 2, 50)
        .await
        .expect("since");
    assert_eq!(since, vec![edit.clone()]);

    // Asking as a moderator is not enough: the store says who is one.
    assert_eq!(
        store
            .messages()
            .change("general", first.seq, change(bob, None, true))
            .await
            .expect("change"),
        ChangeOutcome::Forbidden,
        "bob is no moderator yet"
    );
    store
        .moderation()
        .create_moderator_link("link-hash", "t", "t9")
        .await
        .expect("link");
    assert!(store
        .moderation()
        .use_moderator_link("link-hash", bob, "bob", "t")
        .await
        .expect("use"));
    assert!(
        !store
            .moderation()
            .use_moderator_link("link-hash", bob, "bob", "t")
            .await
            .expect("use"),
        "a link works once"
    );

    // A moderator deletes it; the old words are gone from every entry.
    let ChangeOutcome::Stored(delete) = store
        .messages()
        .change("general", first.seq, change(bob, None, true))
        .await
        .expect("delete")
    else {
        panic!("a moderator's delete is stored");
    };
    assert!(matches!(&delete, Stored::Deleted(c) if c.log_seq == 4 && c.text.is_none()));
    let all = store
        .messages()
        .since("general", 0, 50)
        .await
        .expect("since");
    assert_eq!(
        all.iter().map(Stored::position).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    let texts: Vec<String> = all
        .iter()
        .map(|entry| match entry {
            Stored::Message(m) => m.text.clone(),
            Stored::Edited(c) | Stored::Deleted(c) => c.text.clone().unwrap_or_default(),
            Stored::Reacted(r) => r.emoji.clone(),
            Stored::Unknown => String::new(),
        })
        .collect();
    assert_eq!(texts, ["", "yo", "", ""]);
    assert!(matches!(&all[0], Stored::Message(m) if m.deleted));
    // Deleting again is done already; editing a deleted message finds nothing.
    assert_eq!(
        store
            .messages()
            .change("general", first.seq, change(alice, None, false))
            .await
            .expect("change"),
        ChangeOutcome::AlreadyDeleted
    );
    assert_eq!(
        store
            .messages()
            .change("general", first.seq, change(alice, Some("back"), false))
            .await
            .expect("change"),
        ChangeOutcome::NotFound
    );
    // Scrolling up gets messages only.
    let older = store
        .messages()
        .history("general", Some(4), 50)
        .await
        .expect("older");
    assert_eq!(
        older
            .entries
            .iter()
            .map(Stored::position)
            .collect::<Vec<_>>(),
        [1, 2]
    );
    // New messages go on after the changes' positions.
    let next = append(store, "general", "bob", "next", "t", None, false, Some(bob))
        .await
        .expect("append");
    assert_eq!(next.seq, 5);
}
both_backends!(edits, edits_and_deletes_are_entries_of_the_log);

async fn a_private_message_finds_the_names_holder_online_or_not(store: &Store) {
    const NOW: &str = "2026-11-26T12:00:00.000Z";
    const LATER: &str = "2026-11-26T12:15:00.000Z";
    const MUCH_LATER: &str = "2026-11-26T13:00:00.000Z";
    let (first, second) = ("ef".repeat(32), "01".repeat(32));
    assert_eq!(
        store.people().person_named("dana").await.expect("lookup"),
        None
    );
    let (_, dana) = store
        .people()
        .create_person(&first, ("Dana", "dana"), device("127.0.0.1"), NOW, LATER)
        .await
        .expect("create")
        .expect("free");
    // Holding the name, online or not.
    assert_eq!(
        store.people().person_named("dana").await.expect("lookup"),
        Some((dana, "Dana".to_owned()))
    );
    // Her claim ran out and was swept: she still goes by that name until someone takes it.
    store
        .people()
        .sweep_people("2026-01-01T00:00:00.000Z", MUCH_LATER)
        .await
        .expect("sweep");
    assert_eq!(
        store
            .people()
            .person_named("dana")
            .await
            .map(|r| r.map(|r| r.0))
            .expect("lookup"),
        Some(dana)
    );
    // Someone else takes the name: messages go to its holder.
    let (_, other) = store
        .people()
        .create_person(
            &second,
            ("dana", "dana"),
            device("127.0.0.1"),
            MUCH_LATER,
            "2026-11-26T13:15:00.000Z",
        )
        .await
        .expect("create")
        .expect("the claim ran out");
    assert_ne!(other, dana);
    assert_eq!(
        store
            .people()
            .person_named("dana")
            .await
            .map(|r| r.map(|r| r.0))
            .expect("lookup"),
        Some(other)
    );
}
both_backends!(
    direct_recipients,
    a_private_message_finds_the_names_holder_online_or_not
);

async fn moderation_is_decided_and_recorded_by_the_store(store: &Store) {
    use chinwag::server::store::people::FOREVER;
    use chinwag::server::store::{BotOutcome, SanctionDraft, SanctionKind, SanctionOutcome};
    const NOW: &str = "2026-11-26T12:00:00.000Z";
    const HOLD: &str = "2026-11-26T12:15:00.000Z";
    const HOUR: &str = "2026-11-26T13:00:00.000Z";
    let create = |hash: &'static str, nick: &'static str, address: &'static str| async move {
        store
            .people()
            .create_person(hash, (nick, nick), device(address), NOW, HOLD)
            .await
            .expect("create")
            .expect("free")
            .1
    };
    let moderator = create("m", "mod", "10.0.0.1").await;
    let troll = create("t", "troll", "10.0.0.66").await;
    let draft = |actor: i64, kind, target: &str| SanctionDraft {
        kind,
        actor,
        actor_nick: "mod".to_owned(),
        target_key: target.to_owned(),
        reason: "spam".to_owned(),
        at: NOW.to_owned(),
        until: HOUR.to_owned(),
        recent_since: String::new(),
    };
    // Not a moderator yet: refused, nothing recorded.
    assert_eq!(
        store
            .moderation()
            .sanction(draft(moderator, SanctionKind::Ban, "troll"))
            .await
            .expect("sanction"),
        SanctionOutcome::NotModerator
    );
    assert!(store
        .moderation()
        .audit_log(None, 50)
        .await
        .expect("audit")
        .is_empty());
    store
        .moderation()
        .create_moderator_link("h1", NOW, HOUR)
        .await
        .expect("link");
    assert!(!store
        .moderation()
        .use_moderator_link("h1", moderator, "mod", "2026-11-26T14:00:00.000Z")
        .await
        .expect("late"));
    assert!(store
        .moderation()
        .use_moderator_link("h1", moderator, "mod", NOW)
        .await
        .expect("use"));
    assert!(store
        .moderation()
        .is_moderator(moderator)
        .await
        .expect("is"));
    assert_eq!(
        store
            .moderation()
            .sanction(draft(moderator, SanctionKind::Ban, "nobody"))
            .await
            .expect("sanction"),
        SanctionOutcome::NoSuchPerson
    );
    assert_eq!(
        store
            .moderation()
            .sanction(draft(troll, SanctionKind::Ban, "mod"))
            .await
            .expect("sanction"),
        SanctionOutcome::NotModerator
    );
    let SanctionOutcome::Stored(ban) = store
        .moderation()
        .sanction(draft(moderator, SanctionKind::Ban, "troll"))
        .await
        .expect("ban")
    else {
        panic!("a moderator's ban is stored");
    };
    assert_eq!(
        (ban.person_id, ban.address.as_deref()),
        (troll, Some("10.0.0.66"))
    );
    assert!(ban.covered.is_empty(), "nobody else was made from there");
    // The ban reaches the person and their address, until it ends or is lifted.
    let saved = store
        .people()
        .person_by_id(troll)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(saved.banned_until.as_deref(), Some(HOUR));
    assert_eq!(
        store
            .moderation()
            .address_banned_until("10.0.0.66", NOW)
            .await
            .expect("address"),
        Some(HOUR.to_owned())
    );
    assert_eq!(
        store
            .moderation()
            .address_banned_until("10.0.0.66", "2026-11-26T13:00:00.001Z")
            .await
            .expect("address"),
        None,
        "a ban ends"
    );
    assert_eq!(
        store
            .moderation()
            .address_banned_until("10.0.0.1", NOW)
            .await
            .expect("address"),
        None
    );
    let in_force = store
        .moderation()
        .sanctions_in_force(SanctionKind::Ban, NOW)
        .await
        .expect("bans");
    assert_eq!(in_force.len(), 1);
    assert_eq!(
        store
            .moderation()
            .lift_sanctions(SanctionKind::Ban, "troll", None, "chinwag admin", NOW)
            .await
            .expect("lift")
            .into_iter()
            .map(|lifted| lifted.person_id)
            .collect::<Vec<_>>(),
        vec![troll]
    );
    assert_eq!(
        store
            .moderation()
            .address_banned_until("10.0.0.66", NOW)
            .await
            .expect("address"),
        None
    );
    // A moderator is not muted or banned by another.
    assert_eq!(
        store
            .moderation()
            .sanction(draft(moderator, SanctionKind::Mute, "mod"))
            .await
            .expect("sanction"),
        SanctionOutcome::TargetIsModerator
    );
    // Revoked: the next action is refused by the store itself.
    assert_eq!(
        store
            .moderation()
            .revoke_moderator("mod", "chinwag admin", NOW)
            .await
            .expect("revoke"),
        vec![moderator]
    );
    assert_eq!(
        store
            .moderation()
            .sanction(draft(moderator, SanctionKind::Mute, "troll"))
            .await
            .expect("sanction"),
        SanctionOutcome::NotModerator
    );
    // Every action, in order, newest first.
    let actions: Vec<String> = store
        .moderation()
        .audit_log(None, 50)
        .await
        .expect("audit")
        .into_iter()
        .map(|e| format!("{} {} {}", e.by, e.action, e.target))
        .collect();
    assert_eq!(
        actions,
        [
            "chinwag admin moderator_removed mod",
            "chinwag admin ban_lifted troll",
            "mod ban troll",
            "mod moderator_added mod",
            "chinwag admin moderator_link ",
        ]
    );
    let older = store
        .moderation()
        .audit_log(Some(2), 50)
        .await
        .expect("page");
    assert_eq!(older.len(), 1);

    // A bot's name is its own for good: refreshing never shortens its claim, sweeps keep it.
    let BotOutcome::Created(bot) = store
        .moderation()
        .create_bot("b", "helper", "helper", NOW)
        .await
        .expect("bot")
    else {
        panic!("a free name makes a bot");
    };
    assert_eq!(
        store
            .moderation()
            .create_bot("b2", "troll", "troll", NOW)
            .await
            .expect("bot"),
        BotOutcome::NameTaken
    );
    let bot_sessions: Vec<i64> = store
        .people()
        .sessions_of(bot)
        .await
        .expect("sessions")
        .into_iter()
        .map(|session| session.id)
        .collect();
    assert_eq!(bot_sessions.len(), 1, "a bot has one session");
    store
        .people()
        .refresh_people(&bot_sessions, &[bot], NOW, HOLD)
        .await
        .expect("refresh");
    assert!(store
        .people()
        .claim_nick("helper", bot, NOW, HOLD)
        .await
        .expect("claim"));
    let far = "2027-06-01T00:00:00.000Z";
    store.people().sweep_people(far, far).await.expect("sweep");
    let saved = store
        .people()
        .person_by_id(bot)
        .await
        .expect("read")
        .expect("a bot is never swept");
    assert!(saved.bot);
    assert_eq!(saved.claim.map(|c| c.held_until).as_deref(), Some(FOREVER));
    assert!(
        !store
            .people()
            .claim_nick("helper", troll, far, far)
            .await
            .expect("claim"),
        "nobody else takes a bot's name"
    );
    assert!(
        store
            .people()
            .person_by_id(troll)
            .await
            .expect("read")
            .is_none(),
        "people unseen for long are swept"
    );
}

both_backends!(moderation, moderation_is_decided_and_recorded_by_the_store);
