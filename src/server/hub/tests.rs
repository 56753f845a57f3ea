//! The hub's rules, with an in-memory log and paused time where timing matters. (Longer than most
//! files: one test module for the hub's parts, which share the builders at the top.)

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use super::*;
use crate::protocol::{ChatMessage, ServerMsg, Stored, GENERAL};
use crate::server::bus::Bus;
use crate::server::clock::now_rfc3339;
use crate::server::session::PersonId;
use crate::server::store::{Committed, DirectDraft, NewMessage, StoreError, StoredDirect};
use testing::MemoryLog;

fn frame_of(received: Received) -> ChatMessage {
    match received {
        Received::Frame(d) => match ServerMsg::parse(d.frame.as_str()) {
            Ok(ServerMsg::Message(m)) => m,
            other => panic!("not a message frame: {other:?}"),
        },
        other => panic!("expected a frame, got {other:?}"),
    }
}

fn draft(from: &str, text: &str) -> NewMessage {
    NewMessage {
        from: from.into(),
        text: text.into(),
        at: now_rfc3339(),
        client_id: Some(format!("c-{text}")),
        action: false,
        person_id: None,
        mentions: Vec::new(),
        files: Vec::new(),
        answering: None,
    }
}

async fn post(hub: &Hub, origin: ConnId, from: &str, text: &str) -> u64 {
    match hub.publish(GENERAL, origin, draft(from, text)).await {
        Ok(message) => message.seq,
        Err(err) => panic!("in-memory commits do not fail: {err:?}"),
    }
}

fn hub() -> Hub {
    Hub::in_memory(HubConfig::default())
}

fn next_frame(sub: &mut Subscription) -> Option<ServerMsg> {
    let mut next = std::pin::pin!(sub.recv());
    let waker = std::task::Waker::noop();
    match next
        .as_mut()
        .poll(&mut std::task::Context::from_waker(waker))
    {
        std::task::Poll::Ready(Received::Frame(d)) => ServerMsg::parse(d.frame.as_str()).ok(),
        _ => None,
    }
}

fn presence(nick: &str, online: bool) -> Option<ServerMsg> {
    Some(ServerMsg::Presence {
        nick: nick.into(),
        online,
        rooms: vec![],
        bot: false,
    })
}

fn rooms(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

fn frame_text(private: Private) -> String {
    match private {
        Private::Dm { frame, .. } => frame.as_str().to_owned(),
        Private::RoomsChanged => "rooms changed".to_owned(),
        Private::Missed { id } => format!("missed {id}"),
        Private::Banned { until, .. } => format!("banned until {until}"),
        Private::Ended { close_reason, .. } => format!("ended: {close_reason}"),
        Private::Frame(frame) => frame.as_str().to_owned(),
    }
}

/// Registers a connection of session `n` called `nick` in `in_rooms`.
fn arrive(hub: &Hub, n: i64, nick: &str, in_rooms: &[&str], conn: ConnId) -> (Inbox, Presence) {
    let key = nick.to_lowercase();
    hub.presence().connect(
        Arrival {
            person: PersonId::from_raw(n),
            session: crate::server::session::SessionId::from_store(n),
            nick,
            key: &key,
            rooms: &rooms(in_rooms),
            bot: false,
        },
        conn,
    )
}

/// A person's number in these tests, from their name.
fn person_number(nick: &str) -> i64 {
    nick.bytes().fold(0, |n, b| n * 31 + i64::from(b))
}

fn dm_draft(from: &str, to: &str, text: &str) -> DirectDraft {
    DirectDraft {
        from_person: person_number(from),
        to_person: person_number(to),
        from: from.into(),
        to: to.into(),
        text: text.into(),
        at: now_rfc3339(),
        client_id: None,
        action: false,
        files: Vec::new(),
        answering: None,
        reacting: None,
    }
}

#[tokio::test]
async fn others_receive_the_sender_does_not() {
    let hub = hub();
    let (alice, bob) = (hub.connection_id(), hub.connection_id());
    let mut alice_sub = hub.subscribe(GENERAL, alice);
    let mut bob_sub = hub.subscribe(GENERAL, bob);

    assert_eq!(post(&hub, alice, "alice", "hi").await, 1);
    let got = frame_of(bob_sub.recv().await);
    assert_eq!((got.from.as_str(), got.text.as_str()), ("alice", "hi"));
    assert_eq!(got.client_id.as_deref(), Some("c-hi"));

    post(&hub, bob, "bob", "hello").await;
    let got = frame_of(alice_sub.recv().await);
    assert_eq!((got.seq, got.from.as_str()), (2, "bob"));
}

/// A log whose commits fail, or panic.
struct Broken {
    panic: bool,
    calls: AtomicU64,
}

impl Log for Broken {
    fn append_batch<'a>(
        &'a self,
        _room: &'a str,
        _drafts: Vec<NewMessage>,
    ) -> BoxFuture<'a, Result<Vec<Committed>, StoreError>> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let panic = self.panic;
        Box::pin(async move {
            if panic {
                panic!("the store's driver panicked");
            }
            Err(StoreError::Mismatch { sent: 1, got: 0 })
        })
    }

    fn append_directs(
        &self,
        _drafts: Vec<DirectDraft>,
    ) -> BoxFuture<'_, Result<Vec<StoredDirect>, StoreError>> {
        Box::pin(async { Err(StoreError::Mismatch { sent: 1, got: 0 }) })
    }

    fn since<'a>(
        &'a self,
        _room: &'a str,
        _after: u64,
        _limit: u32,
    ) -> BoxFuture<'a, Result<Vec<Stored>, StoreError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

#[tokio::test]
async fn a_failed_commit_delivers_nothing_and_tells_every_publisher() {
    let log = Arc::new(Broken {
        panic: false,
        calls: AtomicU64::new(0),
    });
    let hub = Hub::new(HubConfig::default(), log, Metrics::new(), Bus::local());
    let (writer, reader) = (hub.connection_id(), hub.connection_id());
    let mut sub = hub.subscribe(GENERAL, reader);
    let failed = hub.publish(GENERAL, writer, draft("w", "x")).await;
    assert_eq!(
        failed.map_err(|e| e.code),
        Err(crate::protocol::ErrorCode::Unavailable)
    );
    assert!(next_frame(&mut sub).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_commit_does_not_wedge_its_room() {
    let log = Arc::new(Broken {
        panic: true,
        calls: AtomicU64::new(0),
    });
    let hub = Hub::new(
        HubConfig::default(),
        Arc::clone(&log) as Arc<dyn Log>,
        Metrics::new(),
        Bus::local(),
    );
    let writer = hub.connection_id();
    for _ in 0..3 {
        let answer = tokio::time::timeout(
            Duration::from_secs(5),
            hub.publish(GENERAL, writer, draft("w", "x")),
        )
        .await
        .expect("every publisher is answered");
        assert!(answer.is_err());
    }
    assert_eq!(
        log.calls.load(Ordering::Relaxed),
        3,
        "each publish found a committer"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(hub.live_rooms(), 0, "and the room was freed after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_publishers_are_committed_in_batches_and_delivered_in_commit_order() {
    struct Counting {
        inner: MemoryLog,
        batches: AtomicU64,
    }
    impl Log for Counting {
        fn append_batch<'a>(
            &'a self,
            room: &'a str,
            drafts: Vec<NewMessage>,
        ) -> BoxFuture<'a, Result<Vec<Committed>, StoreError>> {
            self.batches.fetch_add(1, Ordering::Relaxed);
            self.inner.append_batch(room, drafts)
        }
        fn append_directs(
            &self,
            drafts: Vec<DirectDraft>,
        ) -> BoxFuture<'_, Result<Vec<StoredDirect>, StoreError>> {
            self.inner.append_directs(drafts)
        }
        fn since<'a>(
            &'a self,
            room: &'a str,
            after: u64,
            limit: u32,
        ) -> BoxFuture<'a, Result<Vec<Stored>, StoreError>> {
            self.inner.since(room, after, limit)
        }
    }
    let log = Arc::new(Counting {
        inner: MemoryLog::default(),
        batches: AtomicU64::new(0),
    });
    let config = HubConfig {
        room_capacity: 1024,
        ..HubConfig::default()
    };
    let hub = Hub::new(
        config,
        Arc::clone(&log) as Arc<dyn Log>,
        Metrics::new(),
        Bus::local(),
    );
    let reader = hub.connection_id();
    let mut sub = hub.subscribe(GENERAL, reader);
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let hub = hub.clone();
            tokio::spawn(async move {
                let me = hub.connection_id();
                let mut seqs = Vec::new();
                for i in 0..100 {
                    seqs.push(post(&hub, me, "w", &format!("{w}-{i}")).await);
                }
                seqs
            })
        })
        .collect();
    let mut acked = Vec::new();
    let mut received = Vec::new();
    for writer in writers {
        let seqs = writer.await.expect("writer task");
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "each writer's acks grow"
        );
        acked.extend(seqs);
    }
    acked.sort_unstable();
    assert_eq!(acked, (1..=800).collect::<Vec<_>>(), "gap-free, each once");
    for _ in 1..=800 {
        received.push(frame_of(sub.recv().await).seq);
    }
    assert_eq!(received, (1..=800).collect::<Vec<_>>(), "in commit order");
    let batches = log.batches.load(Ordering::Relaxed);
    assert!(
        batches < 800,
        "concurrent messages share commits ({batches} for 800)"
    );
}

#[tokio::test]
async fn an_answer_comes_after_every_earlier_message_is_on_the_ring() {
    let hub = hub();
    let (a, b) = (hub.connection_id(), hub.connection_id());
    let mut b_sub = hub.subscribe(GENERAL, b);
    // a's messages are published; when b's own publish is answered, a's are all on b's ring.
    let earlier: Vec<_> = (0..20)
        .map(|i| {
            let hub = hub.clone();
            tokio::spawn(async move { post(&hub, a, "a", &format!("a{i}")).await })
        })
        .collect();
    tokio::task::yield_now().await;
    let mine = post(&hub, b, "b", "mine").await;
    let mut before_mine = 0;
    while let Some(ServerMsg::Message(m)) = next_frame(&mut b_sub) {
        if m.seq < mine {
            before_mine += 1;
        }
    }
    assert_eq!(
        before_mine,
        mine - 1,
        "everything before my seq is already readable"
    );
    for task in earlier {
        task.await.expect("publisher");
    }
}

#[tokio::test]
async fn a_slow_subscriber_is_told_how_much_it_missed_and_others_are_not_held_back() {
    let hub = Hub::in_memory(HubConfig {
        room_capacity: 8,
        ..HubConfig::default()
    });
    let (writer, slow, fast) = (
        hub.connection_id(),
        hub.connection_id(),
        hub.connection_id(),
    );
    let mut slow_sub = hub.subscribe(GENERAL, slow);
    let mut fast_sub = hub.subscribe(GENERAL, fast);
    for i in 1..=20u64 {
        post(&hub, writer, "w", &i.to_string()).await;
        // The fast reader keeps up: every publish is read at once.
        assert_eq!(frame_of(fast_sub.recv().await).seq, i);
    }
    match slow_sub.recv().await {
        Received::Lagged { missed } => assert_eq!(missed, 12),
        other => panic!("expected lag, got {other:?}"),
    }
    // Then it goes on with what the ring still holds, in order.
    for seq in 13..=20 {
        assert_eq!(frame_of(slow_sub.recv().await).seq, seq);
    }
}

#[tokio::test]
async fn a_room_lives_while_someone_listens_and_is_freed_after() {
    let hub = hub();
    let (a, b) = (hub.connection_id(), hub.connection_id());
    assert_eq!(hub.live_rooms(), 0);
    let first = hub.subscribe("rust", a);
    let second = hub.subscribe("rust", b);
    assert_eq!(hub.live_rooms(), 1);
    drop(first);
    assert_eq!(hub.live_rooms(), 1, "still has a listener");
    drop(second);
    assert_eq!(hub.live_rooms(), 0, "freed with its last listener");

    // A frame for a room nobody listens to creates nothing.
    let typing = ServerMsg::Typing {
        room: "ghost".into(),
        nick: "x".into(),
        active: true,
    };
    hub.broadcast("ghost", a, &typing);
    assert_eq!(hub.live_rooms(), 0);

    // A message to a room nobody listens to is committed, then the room is freed.
    hub.publish("quiet", a, draft("a", "into the void"))
        .await
        .expect("stored");
    assert_eq!(hub.live_rooms(), 0);

    // A thousand rooms abandoned leave nothing behind.
    for i in 0..1000 {
        drop(hub.subscribe(&format!("room-{i}"), a));
    }
    assert_eq!(hub.live_rooms(), 0);
}

#[tokio::test]
async fn a_resubscription_sees_what_is_published_after_it() {
    let hub = hub();
    let (writer, reader) = (hub.connection_id(), hub.connection_id());
    let sub = hub.subscribe("rust", reader);
    drop(sub);
    let mut sub = hub.subscribe("rust", reader);
    let seq = hub
        .publish("rust", writer, draft("w", "after"))
        .await
        .expect("stored")
        .seq;
    assert_eq!(frame_of(sub.recv().await).seq, seq);
}

fn roster(room: &str, count: usize, members: Option<&[&str]>) -> Option<ServerMsg> {
    Some(ServerMsg::Roster {
        room: room.into(),
        count,
        members: members.map(rooms),
    })
}

#[tokio::test(start_paused = true)]
async fn a_crowd_is_summed_up_instead_of_announced_one_by_one() {
    let hub = Hub::in_memory(HubConfig {
        crowd: 2,
        ..HubConfig::default()
    });
    let watcher = hub.connection_id();
    let mut general = hub.subscribe(GENERAL, watcher);
    let mut rust = hub.subscribe("rust", watcher);
    let conns: Vec<ConnId> = (0..4).map(|_| hub.connection_id()).collect();

    let _p0 = arrive(&hub, 1, "p0", &["general"], conns[0]);
    let _p1 = arrive(&hub, 2, "p1", &["general"], conns[1]);
    assert_eq!(next_frame(&mut general), presence("p0", true));
    assert_eq!(next_frame(&mut general), presence("p1", true));

    // The third and fourth make general a crowd: no frame each, one summary later; the small
    // room p3 is in still hears of p3 in person.
    let p2 = arrive(&hub, 3, "p2", &["general"], conns[2]);
    let p3 = arrive(&hub, 4, "p3", &["general", "rust"], conns[3]);
    assert_eq!(
        next_frame(&mut general),
        None,
        "no presence frame in a crowd"
    );
    assert_eq!(
        next_frame(&mut rust),
        Some(ServerMsg::Presence {
            nick: "p3".into(),
            online: true,
            rooms: rooms(&["rust"]),
            bot: false,
        })
    );
    assert_eq!(
        hub.presence().online(),
        ["p0", "p1"],
        "a crowd's list is cut short"
    );
    assert_eq!(hub.presence().listing(GENERAL).1, Some(4));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(next_frame(&mut general), roster(GENERAL, 4, None));
    assert_eq!(next_frame(&mut general), None, "one summary for both");

    // Back under the crowd size: the summary carries the whole list again.
    drop(p2);
    drop(p3);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        next_frame(&mut general),
        roster(GENERAL, 2, Some(&["p0", "p1"]))
    );
    assert_eq!(next_frame(&mut general), None);

    // And small again, so one by one.
    drop(_p1);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(next_frame(&mut general), presence("p1", false));
}

#[tokio::test(start_paused = true)]
async fn a_person_joins_once_and_leaves_once_whatever_their_tabs() {
    let hub = hub();
    let watcher = hub.connection_id();
    let mut general = hub.subscribe(GENERAL, watcher);

    let mut tabs: Vec<(Inbox, Presence)> = (0..3)
        .map(|_| arrive(&hub, 1, "alice", &["general"], hub.connection_id()))
        .collect();
    assert_eq!(next_frame(&mut general), presence("alice", true));
    assert_eq!(next_frame(&mut general), None, "one join for three tabs");
    assert_eq!(hub.presence().online(), ["alice"]);

    tabs.truncate(1);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(next_frame(&mut general), None, "still has a tab");

    // A reload: the last tab closes and a new one opens within the grace.
    tabs.clear();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let reloaded = arrive(&hub, 1, "alice", &["general"], hub.connection_id());
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(next_frame(&mut general), None, "a reload does not flap");

    drop(reloaded);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        hub.presence().online(),
        ["alice"],
        "listed during the grace"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(next_frame(&mut general), presence("alice", false));
    assert!(hub.presence().online().is_empty());
    assert_eq!(hub.presence().people_online(), 0, "forgotten");
}

#[tokio::test(start_paused = true)]
async fn a_connection_task_that_panics_still_leaves() {
    let hub = hub();
    let watcher = hub.connection_id();
    let mut general = hub.subscribe(GENERAL, watcher);
    let conn = hub.connection_id();
    let hub2 = hub.clone();
    let task = tokio::spawn(async move {
        let _registered = arrive(&hub2, 7, "ghost", &["general"], conn);
        panic!("a bug in the connection task");
    });
    assert!(task.await.is_err(), "the task panicked");
    assert_eq!(next_frame(&mut general), presence("ghost", true));
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(next_frame(&mut general), presence("ghost", false));
    assert!(hub.presence().online().is_empty(), "no ghost stays online");
}

#[tokio::test]
async fn a_private_message_reaches_both_parties_and_nobody_else() {
    let hub = hub();
    let (a1, a2, b1, c1) = (
        hub.connection_id(),
        hub.connection_id(),
        hub.connection_id(),
        hub.connection_id(),
    );
    let (mut a1_inbox, _a1) = arrive(&hub, 1, "alice", &["general"], a1);
    let (mut a2_inbox, _a2) = arrive(&hub, 1, "alice", &["general"], a2);
    let (mut b1_inbox, _b1) = arrive(&hub, 2, "Bob", &["general"], b1);
    let (mut c1_inbox, _c1) = arrive(&hub, 3, "carol", &["general"], c1);

    let bob = hub.presence().find_online("bob").expect("bob is online");
    assert_eq!(
        (bob.person, bob.nick.as_str()),
        (PersonId::from_raw(2), "Bob")
    );
    let sent = hub
        .send_direct(
            dm_draft("alice", "Bob", "psst"),
            PersonId::from_raw(1),
            bob.person,
            a1,
        )
        .await
        .expect("stored");
    let dm = sent.entry.frame().to_json();
    assert_eq!(frame_text(b1_inbox.recv().await), dm);
    assert_eq!(frame_text(a2_inbox.recv().await), dm, "my other tab");
    assert!(a1_inbox.try_recv().is_none(), "not back to the sending tab");
    assert!(c1_inbox.try_recv().is_none(), "never to a third person");
    assert!(hub.presence().find_online("nobody").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn private_messages_from_many_senders_arrive_in_id_order() {
    let hub = hub();
    let reader = hub.connection_id();
    let (mut inbox, _presence) = arrive(&hub, 100, "reader", &["general"], reader);
    let senders: Vec<_> = (1..=4)
        .map(|s| {
            let hub = hub.clone();
            tokio::spawn(async move {
                let me = hub.connection_id();
                for i in 0..25 {
                    let text = format!("{s}-{i}");
                    hub.send_direct(
                        dm_draft(&format!("s{s}"), "reader", &text),
                        PersonId::from_raw(s),
                        PersonId::from_raw(100),
                        me,
                    )
                    .await
                    .expect("stored");
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.expect("sender");
    }
    let mut ids = Vec::new();
    while let Some(Private::Dm { id, .. }) = inbox.try_recv() {
        ids.push(id);
    }
    assert_eq!(ids, (1..=100).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_full_inbox_counts_what_it_missed() {
    let hub = Hub::in_memory(HubConfig {
        inbox_capacity: 2,
        ..HubConfig::default()
    });
    let (a, b) = (hub.connection_id(), hub.connection_id());
    let (_a_inbox, _a) = arrive(&hub, 1, "alice", &["general"], a);
    let (b_inbox, _b) = arrive(&hub, 2, "bob", &["general"], b);
    for _ in 1..=5 {
        hub.send_direct(
            dm_draft("alice", "bob", "x"),
            PersonId::from_raw(1),
            PersonId::from_raw(2),
            a,
        )
        .await
        .expect("stored");
    }
    assert_eq!(b_inbox.take_missed(), 3);
    assert_eq!(b_inbox.take_missed(), 0);
}

#[tokio::test]
async fn membership_tells_the_room_and_the_sessions_other_tabs() {
    let hub = hub();
    let (a1, a2, b1) = (
        hub.connection_id(),
        hub.connection_id(),
        hub.connection_id(),
    );
    let (mut a1_inbox, _a1) = arrive(&hub, 1, "alice", &["general"], a1);
    let (mut a2_inbox, _a2) = arrive(&hub, 1, "alice", &["general"], a2);
    let (_b1_inbox, _b1) = arrive(&hub, 2, "bob", &["general", "rust"], b1);
    let mut rust = hub.subscribe("rust", b1);
    assert_eq!(hub.presence().members("rust"), ["bob"]);

    hub.presence()
        .membership(PersonId::from_raw(1), "rust", true, a1);
    assert_eq!(hub.presence().members("rust"), ["alice", "bob"]);
    assert_eq!(hub.presence().members("general"), ["alice", "bob"]);
    assert_eq!(
        next_frame(&mut rust),
        Some(ServerMsg::Member {
            room: "rust".into(),
            nick: "alice".into(),
            joined: true
        })
    );
    assert_eq!(
        frame_text(a2_inbox.recv().await),
        "rooms changed",
        "the other tab follows"
    );
    assert!(a1_inbox.try_recv().is_none(), "the tab that joined knows");

    hub.presence()
        .membership(PersonId::from_raw(1), "rust", false, a2);
    assert_eq!(hub.presence().members("rust"), ["bob"]);
    assert_eq!(frame_text(a1_inbox.recv().await), "rooms changed");
}

#[tokio::test]
async fn a_rename_moves_the_name_in_every_list_and_index() {
    let hub = hub();
    let (a, b) = (hub.connection_id(), hub.connection_id());
    let (_ai, _ap) = arrive(&hub, 1, "alice", &["general", "rust"], a);
    let (_bi, _bp) = arrive(&hub, 2, "bob", &["general"], b);
    let mut general = hub.subscribe(GENERAL, b);
    hub.presence()
        .rename(PersonId::from_raw(1), "alice", "Alicia", "alicia", a);
    assert_eq!(hub.presence().members("rust"), ["Alicia"]);
    assert_eq!(hub.presence().online(), ["Alicia", "bob"]);
    assert!(hub.presence().find_online("alice").is_none());
    assert_eq!(
        hub.presence().find_online("alicia").map(|r| r.nick),
        Some("Alicia".into())
    );
    assert_eq!(
        next_frame(&mut general),
        Some(ServerMsg::Renamed {
            from: "alice".into(),
            to: "Alicia".into(),
            reply_to: None
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn private_messages_share_commits_instead_of_waiting_on_each_other() {
    struct SlowCounting {
        inner: MemoryLog,
        batches: AtomicU64,
    }
    impl Log for SlowCounting {
        fn append_batch<'a>(
            &'a self,
            room: &'a str,
            drafts: Vec<NewMessage>,
        ) -> BoxFuture<'a, Result<Vec<Committed>, StoreError>> {
            self.inner.append_batch(room, drafts)
        }
        fn append_directs(
            &self,
            drafts: Vec<DirectDraft>,
        ) -> BoxFuture<'_, Result<Vec<StoredDirect>, StoreError>> {
            self.batches.fetch_add(1, Ordering::Relaxed);
            Box::pin(async move {
                // A store round trip: senders arriving meanwhile share the next commit.
                tokio::time::sleep(Duration::from_millis(5)).await;
                self.inner.append_directs(drafts).await
            })
        }
        fn since<'a>(
            &'a self,
            room: &'a str,
            after: u64,
            limit: u32,
        ) -> BoxFuture<'a, Result<Vec<Stored>, StoreError>> {
            self.inner.since(room, after, limit)
        }
    }
    let log = Arc::new(SlowCounting {
        inner: MemoryLog::default(),
        batches: AtomicU64::new(0),
    });
    let hub = Hub::new(
        HubConfig::default(),
        Arc::clone(&log) as Arc<dyn Log>,
        Metrics::new(),
        Bus::local(),
    );
    let senders: Vec<_> = (1..=50)
        .map(|s| {
            let hub = hub.clone();
            tokio::spawn(async move {
                let me = hub.connection_id();
                hub.send_direct(
                    dm_draft(&format!("s{s}"), "r", "hi"),
                    PersonId::from_raw(s),
                    PersonId::from_raw(100),
                    me,
                )
                .await
                .expect("stored")
                .entry
                .id()
            })
        })
        .collect();
    let mut ids = Vec::new();
    for sender in senders {
        ids.push(sender.await.expect("sender"));
    }
    ids.sort_unstable();
    assert_eq!(ids, (1..=50).collect::<Vec<_>>());
    let batches = log.batches.load(Ordering::Relaxed);
    assert!(batches < 10, "50 private messages took {batches} commits");
}
