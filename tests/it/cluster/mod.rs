//! Several servers as one: three real chinwag processes sharing a fresh PostgreSQL database and
//! the test's own Redis, clients spread over them. Every scenario ends by checking what each
//! client has of each room: exactly `1..last_seq`, in order, once each (its own messages counted
//! by their acks), where `last_seq` is the store's.
//!
//! The scenarios run one at a time (a process-wide lock): each starts several servers, and the
//! machine running the suite may have two cores.

pub(crate) mod harness;

use std::time::Duration;

use serde_json::json;

use harness::{metric_sum, start_nodes, wait_for_metric, Database, Node, Peer, Redis};

/// One scenario at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How long clients may take to agree with the store once the traffic stopped (with Redis up,
/// a moment; after an outage, a position check or two).
const CONVERGE: Duration = Duration::from_secs(20);

/// Waits until every peer has exactly `1..=last` of `room`, `last` the store's last seq.
async fn all_complete(db: &Database, room: &str, peers: &[&Peer]) -> u64 {
    let last = db.last_seq(room).await;
    for (i, peer) in peers.iter().enumerate() {
        peer.wait_until(
            CONVERGE,
            &format!("peer {i} has 1..={last} of {room}"),
            |s| s.complete(room, last),
        )
        .await;
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn senders_on_every_node_at_once_are_seen_by_everyone_in_one_order() {
    let _serial = SERIAL.lock().await;
    let (db, redis) = (Database::create().await, Redis::start());
    let nodes = start_nodes(3, &db, &redis).await;
    let mut peers = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        for j in 0..3 {
            peers.push(Peer::join(&node.ws_url(), &format!("p{i}x{j}")).await);
        }
    }
    // Two senders per node, 200 messages each, all at once.
    let sends = peers
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 2)
        .map(|(i, p)| p.say_many("general", format!("s{i}"), 200, 16));
    let sent: Vec<Vec<String>> = futures_util::future::join_all(sends).await;
    assert_eq!(sent.iter().map(Vec::len).sum::<usize>(), 1200);
    let senders: Vec<&Peer> = peers
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 2)
        .map(|(_, p)| p)
        .collect();
    for (peer, ids) in senders.iter().zip(&sent) {
        peer.wait_acked(ids, CONVERGE).await;
    }
    let all: Vec<&Peer> = peers.iter().collect();
    let last = all_complete(&db, "general", &all).await;
    assert_eq!(last, 1200, "every message stored once");
    for peer in &peers {
        peer.with(|s| assert!(s.doubled.is_empty(), "nothing twice: {:?}", s.doubled));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_stream_loses_nothing_acked() {
    let _serial = SERIAL.lock().await;
    let (db, redis) = (Database::create().await, Redis::start());
    let mut nodes = start_nodes(3, &db, &redis).await;
    let urls: Vec<String> = nodes.iter().map(Node::ws_url).collect();
    let mut peers = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        for j in 0..2 {
            peers.push(Peer::join(url, &format!("k{i}x{j}")).await);
        }
    }
    // Everyone sends 150 messages; node 1 is killed while they do.
    let sending = {
        let sends: Vec<_> = peers
            .iter()
            .enumerate()
            .map(|(i, p)| p.say_many("general", format!("k{i}"), 150, 8))
            .collect();
        futures_util::future::join_all(sends)
    };
    // Killed once its clients are well under way, so they die with messages in flight.
    let victim = &peers[2];
    let kill = async {
        victim
            .wait_until(Duration::from_secs(10), "under way", |s| {
                s.acked.len() >= 30
            })
            .await;
        nodes[1].process.kill();
    };
    let (mut sent, ()) = tokio::join!(sending, kill);
    assert!(
        sent[2].len() < 150 || sent[3].len() < 150,
        "the node died mid-stream"
    );
    // Node 1's clients come back on node 2 with what they have, resend what was not acked (same
    // client ids: stored at most once) and send the rest.
    for i in [2, 3] {
        let (since, unacked) = peers[i].with(|s| {
            let since = s
                .seqs
                .get("general")
                .and_then(|v| v.last().copied())
                .unwrap_or(0);
            let unacked: Vec<String> = sent[i]
                .iter()
                .filter(|id| !s.acked.contains(*id))
                .cloned()
                .collect();
            (since, unacked)
        });
        let token = peers[i].token.clone();
        let old = std::mem::replace(
            &mut peers[i],
            Peer::connect(
                &urls[2],
                json!({"type":"hello","session":token,"since":{"general":since}}),
            )
            .await,
        );
        // The new connection continues what the old one saw.
        let earlier = std::mem::take(&mut *old.seen.lock().expect("seen"));
        old.close();
        {
            let mut seen = peers[i].seen.lock().expect("seen");
            let later = std::mem::take(&mut *seen);
            *seen = earlier;
            for (room, seqs) in later.seqs {
                for seq in seqs {
                    let list = seen.seqs.entry(room.clone()).or_default();
                    if list.contains(&seq) {
                        seen.doubled.push((room.clone(), seq));
                    } else {
                        list.push(seq);
                    }
                }
            }
            seen.doubled.extend(later.doubled);
            seen.acked.extend(later.acked);
        }
        for id in unacked {
            peers[i].say("general", &id, &id);
        }
        for n in sent[i].len()..150 {
            let id = format!("k{i}-{n}");
            peers[i].say("general", &id, &id);
            sent[i].push(id);
        }
    }
    for (peer, ids) in peers.iter().zip(&sent) {
        peer.wait_acked(ids, CONVERGE).await;
    }
    let all: Vec<&Peer> = peers.iter().collect();
    let last = all_complete(&db, "general", &all).await;
    // Every message acked anywhere is in the store, once.
    let acked: usize = peers.iter().map(|p| p.with(|s| s.acked.len())).sum();
    assert_eq!(acked, 900, "every message was acked in the end");
    assert_eq!(last, 900, "and stored once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_and_back_loses_nothing_and_nobody_flaps() {
    let _serial = SERIAL.lock().await;
    let (db, mut redis) = (Database::create().await, Redis::start());
    let nodes = start_nodes(2, &db, &redis).await;
    let a = [
        Peer::join(&nodes[0].ws_url(), "ra1").await,
        Peer::join(&nodes[0].ws_url(), "ra2").await,
    ];
    let b = [
        Peer::join(&nodes[1].ws_url(), "rb1").await,
        Peer::join(&nodes[1].ws_url(), "rb2").await,
    ];
    // Everyone knows everyone before the outage.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while a.iter().chain(&b).any(|p| p.online().len() < 4) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "all four online everywhere"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (a_sends, b_sends) = (
        a[0].say_many("general", "ra".into(), 100, 4),
        b[0].say_many("general", "rb".into(), 100, 4),
    );
    redis.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Same-node delivery goes on during the outage.
    let (sent_a, sent_b) = tokio::join!(a_sends, b_sends);
    assert_eq!((sent_a.len(), sent_b.len()), (100, 100));
    a[0].wait_acked(&sent_a, CONVERGE).await;
    b[0].wait_acked(&sent_b, CONVERGE).await;
    a[1].wait_until(
        Duration::from_secs(5),
        "same-node messages during the outage",
        |s| s.seqs.get("general").is_some_and(|v| v.len() >= 100),
    )
    .await;
    // Cross-node messages catch up even while Redis is down (position checks), and completely
    // once it is back.
    tokio::time::sleep(Duration::from_secs(3)).await;
    redis.restart();
    let all: Vec<&Peer> = a.iter().chain(&b).collect();
    let last = all_complete(&db, "general", &all).await;
    assert_eq!(last, 200);
    for node in &nodes {
        wait_for_metric(node.addr(), "chinwag_bus_up", 1.0).await;
    }
    // Nobody was announced offline.
    for peer in &all {
        peer.with(|s| {
            let offline: Vec<_> = s
                .of("presence")
                .into_iter()
                .filter(|f| f["online"] == false)
                .collect();
            assert!(offline.is_empty(), "no flapping: {offline:?}");
        });
    }
    // What crossed during the outage came from the store.
    let mut repaired = 0.0;
    for node in &nodes {
        repaired += metric_sum(node.addr(), "chinwag_repaired_total").await;
    }
    assert!(repaired > 0.0, "the outage was repaired from the store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_on_two_nodes_is_online_once_and_a_crash_takes_its_people_offline_once() {
    let _serial = SERIAL.lock().await;
    let (db, redis) = (Database::create().await, Redis::start());
    let mut nodes = start_nodes(3, &db, &redis).await;
    let bob = Peer::join(&nodes[0].ws_url(), "bob").await;
    let alice = Peer::join(&nodes[1].ws_url(), "alice").await;
    let alice2 = Peer::tab(&nodes[2].ws_url(), &alice.token.clone()).await;
    assert!(
        alice2.welcome["online"]
            .as_array()
            .is_some_and(|o| o.iter().any(|n| n == "bob")),
        "bob, on another node, is in alice's list: {}",
        alice2.welcome
    );
    let carol = Peer::join(&nodes[2].ws_url(), "carol").await;
    // Bob hears alice and carol come online, once each.
    bob.wait_until(Duration::from_secs(5), "alice and carol online", |s| {
        s.of("presence").len() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    bob.with(|s| {
        let alice_online = s
            .of("presence")
            .into_iter()
            .filter(|f| f["nick"] == "alice" && f["online"] == true)
            .count();
        assert_eq!(alice_online, 1, "two tabs on two nodes: online once");
    });
    // Node 2 crashes: carol (only there) goes offline once; alice (also on node 1) stays.
    let crashed = tokio::time::Instant::now();
    nodes[2].process.kill();
    drop(alice2);
    drop(carol);
    bob.wait_until(Duration::from_secs(8), "carol offline within 8 s", |s| {
        s.of("presence")
            .iter()
            .any(|f| f["nick"] == "carol" && f["online"] == false)
    })
    .await;
    let took = crashed.elapsed();
    assert!(
        took < Duration::from_secs(8),
        "the README's bound: {took:?}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    for who in [&bob, &alice] {
        who.with(|s| {
            let carol_offline = s
                .of("presence")
                .into_iter()
                .filter(|f| f["nick"] == "carol" && f["online"] == false)
                .count();
            assert!(carol_offline <= 1, "carol offline once");
            assert!(
                !s.of("presence")
                    .iter()
                    .any(|f| f["nick"] == "alice" && f["online"] == false),
                "alice is still online on node 1"
            );
        });
    }
    alice.with(|s| {
        assert_eq!(
            s.of("presence")
                .iter()
                .filter(|f| f["nick"] == "carol" && f["online"] == false)
                .count(),
            1,
            "alice too hears carol leave once"
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_messages_across_nodes_arrive_complete_and_in_order_with_redis_up_and_down() {
    let _serial = SERIAL.lock().await;
    let (db, mut redis) = (Database::create().await, Redis::start());
    let nodes = start_nodes(3, &db, &redis).await;
    let bob = Peer::join(&nodes[1].ws_url(), "bob").await;
    let bob2 = Peer::tab(&nodes[2].ws_url(), &bob.token.clone()).await;
    let alice = Peer::join(&nodes[0].ws_url(), "alice").await;
    let dave = Peer::join(&nodes[2].ws_url(), "dave").await;
    let carol = Peer::join(&nodes[0].ws_url(), "carol").await;
    for peer in [&alice, &dave] {
        peer.wait_until(Duration::from_secs(5), "bob is online", |s| {
            !s.of("presence").is_empty()
        })
        .await;
    }
    let dm = |from: &Peer, tag: &str, n: usize| {
        for i in 0..n {
            let id = format!("{tag}-{i}");
            from.send(json!({"type":"dm","to":"bob","text":id,"client_id":id}));
        }
    };
    dm(&alice, "a1", 50);
    dm(&dave, "d1", 50);
    both_tabs_have(&bob, &bob2, 100).await;
    // Again with Redis down.
    redis.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    dm(&alice, "a2", 50);
    dm(&dave, "d2", 50);
    both_tabs_have(&bob, &bob2, 200).await;
    carol.with(|s| assert!(s.dms.is_empty(), "carol sees none of them"));
    redis.restart();
    let nobody = Peer::join(&nodes[0].ws_url(), "nosy").await;
    nobody.send(json!({"type":"dm","to":"ghost","text":"hi","client_id":"g-1"}));
    nobody
        .wait_until(
            Duration::from_secs(5),
            "unknown_user for someone offline",
            |s| s.of("error").iter().any(|f| f["code"] == "unknown_user"),
        )
        .await;
}

/// Both of bob's tabs have `want` private messages, in id order, once each, and the same ones.
async fn both_tabs_have(bob: &Peer, bob2: &Peer, want: usize) {
    for (who, tab) in [("bob", bob), ("bob's other tab", bob2)] {
        tab.wait_until(
            Duration::from_secs(15),
            &format!("{who} has all {want} private messages"),
            |s| s.dms.len() >= want,
        )
        .await;
        tab.with(|s| {
            assert!(s.doubled_dms.is_empty(), "none twice: {:?}", s.doubled_dms);
            assert!(
                s.dms.windows(2).all(|w| w[0] < w[1]),
                "{who}: ids in order: {:?}",
                s.dms
            );
        });
    }
    assert_eq!(bob.with(|s| s.dms.clone()), bob2.with(|s| s.dms.clone()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_racing_claims_of_one_name_across_nodes_make_one_winner() {
    let _serial = SERIAL.lock().await;
    let (db, redis) = (Database::create().await, Redis::start());
    let nodes = start_nodes(3, &db, &redis).await;
    let spellings = ["Zed", "zed", "ZED", "zEd"];
    let attempts = (0..20).map(|i| {
        let url = nodes[i % 3].ws_url();
        let nick = spellings[i % spellings.len()];
        async move {
            use futures_util::{SinkExt, StreamExt};
            let (mut ws, _) = tokio_tungstenite::connect_async(url)
                .await
                .expect("connect");
            ws.send(tokio_tungstenite::tungstenite::Message::text(
                json!({"type":"hello","nick":nick}).to_string(),
            ))
            .await
            .expect("hello");
            loop {
                match ws.next().await {
                    Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) => {
                        let frame: serde_json::Value = serde_json::from_str(&text).expect("JSON");
                        return (
                            frame["type"].as_str().unwrap_or_default().to_owned(),
                            frame["code"].as_str().unwrap_or_default().to_owned(),
                            ws,
                        );
                    }
                    Some(Ok(_)) => continue,
                    other => panic!("no answer: {other:?}"),
                }
            }
        }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let welcomed = answers.iter().filter(|(t, _, _)| t == "welcome").count();
    let taken = answers
        .iter()
        .filter(|(t, c, _)| t == "error" && c == "nick_taken")
        .count();
    assert_eq!((welcomed, taken), (1, 19), "exactly one winner");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_joined_on_one_node_follows_to_the_tab_on_another_and_typing_crosses() {
    let _serial = SERIAL.lock().await;
    let (db, redis) = (Database::create().await, Redis::start());
    let nodes = start_nodes(2, &db, &redis).await;
    let a = Peer::join(&nodes[0].ws_url(), "ann").await;
    let b = Peer::tab(&nodes[1].ws_url(), &a.token.clone()).await;
    let other = Peer::join(&nodes[1].ws_url(), "otto").await;
    b.send(json!({"type":"join","room":"r2","id":"j1"}));
    a.wait_until(
        Duration::from_secs(5),
        "the tab on node 0 joins r2 too",
        |s| s.of("joined").iter().any(|f| f["room"] == "r2"),
    )
    .await;
    // A message in r2 from node 1 reaches the tab on node 0.
    other.send(json!({"type":"join","room":"r2","id":"j2"}));
    other
        .wait_until(Duration::from_secs(5), "otto in r2", |s| {
            s.of("joined").iter().any(|f| f["room"] == "r2")
        })
        .await;
    other.say("r2", "hello r2", "o-1");
    a.wait_until(Duration::from_secs(5), "r2's message on node 0", |s| {
        s.complete("r2", 1)
    })
    .await;
    // Typing on node 0 reaches otto on node 1.
    a.send(json!({"type":"typing","room":"general","active":true}));
    other
        .wait_until(Duration::from_secs(5), "ann is typing", |s| {
            s.of("typing")
                .iter()
                .any(|f| f["nick"] == "ann" && f["active"] == true)
        })
        .await;
    // Renamed on node 1: node 0's people hear it, and a DM to the new name is routed.
    b.send(json!({"type":"nick","nick":"anna","id":"n1"}));
    other
        .wait_until(Duration::from_secs(5), "the rename", |s| {
            s.of("renamed").iter().any(|f| f["to"] == "anna")
        })
        .await;
    other.send(json!({"type":"dm","to":"anna","text":"found you","client_id":"o-dm"}));
    for tab in [&a, &b] {
        tab.wait_until(Duration::from_secs(5), "the DM to the new name", |s| {
            s.of("dm")
                .iter()
                .any(|f| f["text"] == "found you" && f["to"] == "anna")
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_and_deletes_take_their_place_in_the_log_on_every_node() {
    let _serial = SERIAL.lock().await;
    let (db, redis) = (Database::create().await, Redis::start());
    let nodes = start_nodes(3, &db, &redis).await;
    let ann = Peer::join(&nodes[0].ws_url(), "ann").await;
    let bo = Peer::join(&nodes[1].ws_url(), "bo").await;
    let cy = Peer::join(&nodes[2].ws_url(), "cy").await;
    // One after the other, so their seqs are 1, 2, 3.
    for (peer, text, id) in [
        (&ann, "one", "a-1"),
        (&ann, "two", "a-2"),
        (&bo, "three", "b-1"),
    ] {
        peer.say("general", text, id);
        peer.wait_acked(&[id.into()], Duration::from_secs(10)).await;
    }
    assert_eq!(all_complete(&db, "general", &[&ann, &bo, &cy]).await, 3);
    // Changes from two nodes while a third posts.
    ann.send(
        json!({"type":"edit","room":"general","seq":1,"text":"one, edited","client_id":"e-1"}),
    );
    ann.send(json!({"type":"delete","room":"general","seq":2,"client_id":"d-1"}));
    cy.say("general", "four", "c-1");
    bo.send(
        json!({"type":"edit","room":"general","seq":3,"text":"three, edited","client_id":"e-2"}),
    );
    ann.wait_acked(&["e-1".into(), "d-1".into()], Duration::from_secs(10))
        .await;
    bo.wait_acked(&["e-2".into()], Duration::from_secs(10))
        .await;
    let last = all_complete(&db, "general", &[&ann, &bo, &cy]).await;
    assert_eq!(
        last, 7,
        "three messages, three changes and one more message"
    );
    for peer in [&ann, &bo, &cy] {
        let seen = peer.seen.lock().expect("seen");
        let edited: Vec<(u64, String)> = seen
            .of("edited")
            .iter()
            .map(|f| (f["seq"].as_u64().unwrap_or_default(), f["text"].to_string()))
            .collect();
        assert_eq!(edited.len(), 2, "{edited:?}");
        assert!(edited.contains(&(1, "\"one, edited\"".into())));
        assert!(edited.contains(&(3, "\"three, edited\"".into())));
        let deleted: Vec<u64> = seen
            .of("deleted")
            .iter()
            .filter_map(|f| f["seq"].as_u64())
            .collect();
        assert_eq!(deleted, [2]);
    }
    // A tab that comes in later catches up from before the changes: it gets them, in place.
    let late = Peer::connect(
        &nodes[2].ws_url(),
        json!({"type":"hello","session":bo.token,"since":{"general":3}}),
    )
    .await;
    late.wait_until(CONVERGE, "the late tab has exactly 4..=7, in order", |s| {
        s.doubled.is_empty() && s.seqs.get("general").map(Vec::as_slice) == Some(&[4, 5, 6, 7][..])
    })
    .await;
    let seen = late.seen.lock().expect("seen");
    assert_eq!((seen.of("edited").len(), seen.of("deleted").len()), (2, 1));
}

/// Makes the session `token` a moderator as an operator would: `chinwag admin moderator-link` on
/// the cluster's store, then the link's form posted to `node` with the browser's cookie.
async fn make_moderator(db: &Database, node: &Node, token: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_chinwag"))
        .args(["admin", "moderator-link"])
        .env("DATABASE_URL", &db.url)
        .env("CHINWAG_PUBLIC_URL", format!("http://{}", node.addr()))
        .output()
        .expect("run chinwag admin");
    assert!(output.status.success(), "{output:?}");
    let link = String::from_utf8(output.stdout).expect("utf-8");
    let secret = link
        .lines()
        .next()
        .and_then(|l| l.rsplit_once("/moderator/"))
        .map(|(_, s)| s.to_owned())
        .expect("a link");
    let body = format!("token={secret}");
    let request = format!(
        "POST /moderator HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\n\
         Cookie: chinwag_session={token}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len(),
        addr = node.addr()
    );
    let mut stream = tokio::net::TcpStream::connect(node.addr())
        .await
        .expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_on_one_node_closes_the_persons_connections_on_every_node() {
    let _serial = SERIAL.lock().await;
    let (db, redis) = (Database::create().await, Redis::start());
    let nodes = start_nodes(2, &db, &redis).await;
    let first = Peer::join(&nodes[0].ws_url(), "mod").await;
    make_moderator(&db, &nodes[0], &first.token).await;
    // The moderator's tab on the other node learns it from the store, through the bus.
    let moderator = Peer::tab(&nodes[1].ws_url(), &first.token).await;
    assert_eq!(
        moderator.welcome["moderator"], true,
        "{}",
        moderator.welcome
    );
    let troll = Peer::join(&nodes[0].ws_url(), "troll").await;
    let troll_elsewhere = Peer::tab(&nodes[1].ws_url(), &troll.token).await;
    let watcher = Peer::join(&nodes[0].ws_url(), "watcher").await;

    // A mute on node 1 holds on node 0 at once.
    moderator.send(json!({"type":"mute","nick":"troll","seconds":600}));
    watcher
        .wait_until(CONVERGE, "the mute is told on the other node", |s| {
            s.of("moderated").iter().any(|f| f["action"] == "muted")
        })
        .await;
    troll.say("general", "spam", "t-1");
    troll
        .wait_until(CONVERGE, "muted on the other node", |s| {
            s.of("error").iter().any(|f| f["code"] == "muted")
        })
        .await;

    // A ban on node 1 closes both of the person's connections, on both nodes.
    moderator.send(json!({"type":"ban","nick":"troll","seconds":600}));
    for peer in [&troll, &troll_elsewhere] {
        peer.wait_until(CONVERGE, "told it is banned", |s| {
            s.of("error").iter().any(|f| f["code"] == "banned")
        })
        .await;
    }
    let deadline = tokio::time::Instant::now() + CONVERGE;
    while troll.is_open() || troll_elsewhere.is_open() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "closed on both nodes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    watcher
        .wait_until(CONVERGE, "the ban is told on the other node", |s| {
            s.of("moderated").iter().any(|f| f["action"] == "banned")
        })
        .await;
}

/// `POST path` with a form `body` to `node`, as the browser holding session `token` (if any).
async fn post_form(node: &Node, path: &str, token: Option<&str>, body: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let cookie = token
        .map(|t| format!("Cookie: chinwag_session={t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\n{cookie}\
         Content-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len(),
        addr = node.addr()
    );
    let mut stream = tokio::net::TcpStream::connect(node.addr())
        .await
        .expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_positions_and_sign_outs_cross_nodes() {
    let _serial = SERIAL.lock().await;
    let (db, redis) = (Database::create().await, Redis::start());
    let nodes = start_nodes(2, &db, &redis).await;
    let laptop = Peer::join(&nodes[0].ws_url(), "olga").await;
    let set = post_form(
        &nodes[0],
        "/account/password",
        Some(&laptop.token),
        "password=correct+horse+battery",
    )
    .await;
    assert!(set.starts_with("HTTP/1.1 303"), "{set}");
    // Signed in on the other node: the same person there.
    let signed = post_form(
        &nodes[1],
        "/login",
        None,
        "nick=olga&password=correct+horse+battery",
    )
    .await;
    assert!(signed.starts_with("HTTP/1.1 303"), "{signed}");
    let phone_token = signed
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: chinwag_session="))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let phone = Peer::tab(&nodes[1].ws_url(), &phone_token).await;
    assert_eq!(phone.welcome["nick"], "olga");
    assert_eq!(phone.welcome["secured"], true);

    // Reading on node 0 is told on node 1.
    let talker = Peer::join(&nodes[1].ws_url(), "pavel").await;
    talker.say("general", "news", "n-1");
    laptop
        .wait_until(CONVERGE, "the laptop has the news", |s| {
            s.complete("general", 1)
        })
        .await;
    laptop.send(json!({"type": "read", "room": "general", "seq": 1}));
    phone
        .wait_until(CONVERGE, "the phone hears of the read", |s| {
            s.of("read")
                .iter()
                .any(|f| f["room"] == "general" && f["seq"] == 1)
        })
        .await;

    // Signing out every other device on node 0 closes the phone's tab on node 1.
    let out = post_form(
        &nodes[0],
        "/account/signout-others",
        Some(&laptop.token),
        "",
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 303"), "{out}");
    phone
        .wait_until(CONVERGE, "the phone is told", |s| {
            s.of("error").iter().any(|f| f["code"] == "signed_out")
        })
        .await;
    let deadline = tokio::time::Instant::now() + CONVERGE;
    while phone.is_open() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "closed on the other node"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(laptop.is_open(), "this device stays");
}

/// One busy room holds up only its own messages: while ann's message waits for its commit (another
/// writer holds the room's row in the store), her other tab still joins, leaves and sends a
/// private message, each answered at once. (The person's order lock used to be held across the
/// commit, so all of these waited for it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_waiting_on_a_busy_room_holds_up_nothing_else_of_its_person() {
    let (db, redis) = (Database::create().await, Redis::start());
    let nodes = start_nodes(1, &db, &redis).await;
    let url = nodes[0].ws_url();
    let a = Peer::join(&url, "ann").await;
    let b = Peer::tab(&url, &a.token.clone()).await;
    let bob = Peer::join(&url, "bob").await;
    a.send(json!({"type":"join","room":"busy","id":"j0"}));
    a.wait_until(Duration::from_secs(5), "ann in busy", |s| {
        s.of("joined").iter().any(|f| f["reply_to"] == "j0")
    })
    .await;
    a.say("busy", "first", "a-0");
    a.wait_acked(&["a-0".to_owned()], Duration::from_secs(5))
        .await;

    let pool = db.pool().await;
    let mut writer = pool.begin().await.expect("begin");
    sqlx::query("SELECT last_seq FROM rooms WHERE name = 'busy' FOR UPDATE")
        .execute(&mut *writer)
        .await
        .expect("lock the room's row");
    a.say("busy", "stuck", "a-1");
    // Wait until the commit is really waiting on the row.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (waiting,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&pool)
        .await
        .expect("activity");
        if waiting > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the commit waits on the row"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    b.send(json!({"type":"join","room":"other","id":"j1"}));
    b.wait_until(Duration::from_secs(3), "a join meanwhile", |s| {
        s.of("joined").iter().any(|f| f["reply_to"] == "j1")
    })
    .await;
    b.send(json!({"type":"leave","room":"other","id":"l1"}));
    b.wait_until(Duration::from_secs(3), "a leave meanwhile", |s| {
        s.of("left").iter().any(|f| f["reply_to"] == "l1")
    })
    .await;
    b.send(json!({"type":"dm","to":"bob","text":"meanwhile","client_id":"b-dm"}));
    b.wait_acked(&["b-dm".to_owned()], Duration::from_secs(3))
        .await;
    bob.wait_until(Duration::from_secs(3), "the private message", |s| {
        s.of("dm").iter().any(|f| f["text"] == "meanwhile")
    })
    .await;
    assert!(
        !a.with(|s| s.acked.contains("a-1")),
        "the message in the busy room was still waiting"
    );

    writer.rollback().await.expect("release the row");
    a.wait_acked(&["a-1".to_owned()], Duration::from_secs(5))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_replies_and_search_agree_across_servers() {
    let _serial = SERIAL.lock().await;
    let (db, redis) = (Database::create().await, Redis::start());
    let nodes = start_nodes(2, &db, &redis).await;
    let alice = Peer::join(&nodes[0].ws_url(), "alice").await;
    let bob = Peer::join(&nodes[1].ws_url(), "bob").await;
    alice.say("general", "the deploy window is tonight", "a-1");
    alice.wait_acked(&["a-1".to_owned()], CONVERGE).await;
    let seq = db.last_seq("general").await;
    bob.wait_until(CONVERGE, "bob has alice's message", |s| {
        s.complete("general", seq)
    })
    .await;
    bob.send(
        json!({"type":"react","room":"general","seq":seq,"emoji":"👍","on":true,"client_id":"b-1"}),
    );
    bob.send(
        json!({"type":"say","room":"general","text":"agreed","client_id":"b-2","reply_to":seq}),
    );
    bob.wait_acked(&["b-1".to_owned(), "b-2".to_owned()], CONVERGE)
        .await;

    // Alice, on the other server, gets both in the room's one order, the reply with its quote.
    let peers = [&alice, &bob];
    let last = all_complete(&db, "general", &peers).await;
    assert_eq!(
        last,
        seq + 2,
        "the reaction and the reply each took a place in the log"
    );
    alice.with(|s| {
        let reacted = s.of("reacted");
        assert_eq!(reacted.len(), 1, "{reacted:?}");
        assert_eq!(
            (&reacted[0]["by"], &reacted[0]["emoji"]),
            (&json!("bob"), &json!("👍"))
        );
        let replies = s.of("message");
        assert_eq!(replies.len(), 1, "{replies:?}");
        assert_eq!(
            replies[0]["reply_to"],
            json!({"seq": seq, "from": "alice", "text": "the deploy window is tonight"})
        );
    });

    // A reaction to a private message, through the other server: delivered once, to the author.
    alice.send(json!({"type":"dm","to":"bob","text":"lunch?","client_id":"a-dm"}));
    bob.wait_until(CONVERGE, "bob has alice's private message", |s| {
        !s.of("dm").is_empty()
    })
    .await;
    let id = bob.with(|s| s.of("dm")[0]["id"].clone());
    bob.send(json!({"type":"react","dm":"alice","id":id,"emoji":"🎉","on":true,"client_id":"b-3"}));
    bob.wait_acked(&["b-3".to_owned()], CONVERGE).await;
    alice
        .wait_until(CONVERGE, "alice has bob's reaction", |s| {
            !s.of("dm_reacted").is_empty()
        })
        .await;
    // A later private message arrives after anything sent before it: then count the copies.
    bob.send(json!({"type":"dm","to":"alice","text":"after","client_id":"b-4"}));
    alice
        .wait_until(CONVERGE, "alice has bob's later message", |s| {
            s.of("dm").iter().any(|dm| dm["text"] == "after")
        })
        .await;
    alice.with(|s| {
        let reacted = s.of("dm_reacted");
        assert_eq!(reacted.len(), 1, "{reacted:?}");
        assert_eq!(
            (&reacted[0]["id"], &reacted[0]["by"], &reacted[0]["emoji"]),
            (&id, &json!("bob"), &json!("🎉"))
        );
    });

    // Each finds, through its own server, what the other wrote through theirs.
    alice.send(json!({"type":"search","q":"agreed","id":"s-a"}));
    bob.send(json!({"type":"search","q":"depl","id":"s-b"}));
    for (peer, id, text) in [
        (&alice, "s-a", "agreed"),
        (&bob, "s-b", "the deploy window is tonight"),
    ] {
        peer.wait_until(CONVERGE, "search results", |s| {
            s.of("results").iter().any(|r| {
                r["reply_to"] == id
                    && r["hits"]
                        .as_array()
                        .is_some_and(|hits| hits.iter().any(|h| h["text"] == text))
            })
        })
        .await;
    }
}
