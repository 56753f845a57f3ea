//! What a hostile client can make the server do, and what it is told: every reply path is
//! throttled, every refusal is cheap and named, and everyone else is served as before.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

use crate::common::{cookie_token, http, test_config, Client, DataDir, TestServer, FORM};
use chinwag::server::config::ServerConfig;
use chinwag::server::limits::Rate;

async fn start(configure: impl FnOnce(&mut ServerConfig)) -> TestServer {
    let data = DataDir::new();
    let mut config = test_config(&data);
    configure(&mut config);
    TestServer::start_on(data, config).await
}

#[tokio::test]
async fn a_form_posted_from_another_site_is_refused_with_403() {
    let server = TestServer::start().await;
    let host = server.addr.to_string();
    let evil = [FORM, ("origin", "https://evil.example")];
    for (path, body) in [
        ("/join", "nick=victim"),
        ("/say", "text=hi&room=general"),
        ("/rooms/join", "room=trap"),
        ("/rooms/leave", "room=trap"),
    ] {
        let answer = http(&server, "POST", path, &evil, body).await;
        assert!(answer.starts_with("HTTP/1.1 403"), "{path}: {answer}");
        assert_eq!(cookie_token(&answer), None, "{path}: no session set");
    }
    // A browser without Origin that says cross-site is refused too.
    let fetch = [FORM, ("sec-fetch-site", "cross-site")];
    let answer = http(&server, "POST", "/join", &fetch, "nick=victim").await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    // The server's own page posts fine.
    let own_origin = format!("http://{host}");
    let own = [FORM, ("origin", own_origin.as_str())];
    let answer = http(&server, "POST", "/join", &own, "nick=visitor").await;
    assert!(cookie_token(&answer).is_some(), "{answer}");
}

#[tokio::test]
async fn new_sessions_are_limited_per_address() {
    let server = start(|config| config.limits.sessions_per_addr = Rate::per_minute(1.0, 5.0)).await;
    for i in 0..5 {
        let answer = http(&server, "POST", "/join", &[FORM], &format!("nick=n{i}")).await;
        assert!(cookie_token(&answer).is_some(), "{i}: {answer}");
    }
    let refused = http(&server, "POST", "/join", &[FORM], "nick=n5").await;
    assert!(refused.contains("error=rate_limited"), "{refused}");
    assert_eq!(cookie_token(&refused), None);
    let mut bot = Client::connect(&server).await;
    let answer = bot.hello("n6").await;
    assert_eq!(answer["code"], "rate_limited");
    assert!(answer["retry_after_ms"]
        .as_u64()
        .is_some_and(|ms| ms > 1000));
    // Another address is not affected.
    let mut elsewhere = Client::connect_from(&server, [127, 0, 0, 2]).await;
    assert_eq!(elsewhere.hello("n7").await["type"], "welcome");
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_is_limited_by_its_own_address() {
    let server = start(|config| {
        config.limits.sessions_per_addr = Rate::per_minute(1.0, 2.0);
        config.http.trusted_proxies = vec![[127, 0, 0, 1].into()];
    })
    .await;
    let proxy = [127, 0, 0, 1];
    let hello = |from: [u8; 4], forwarded: &'static str, nick: String| {
        let server = &server;
        async move {
            let mut client =
                Client::connect_with_headers(server, from, &[("x-forwarded-for", forwarded)]).await;
            client.hello(&nick).await
        }
    };
    // Two clients behind the proxy: each has its own allowance.
    for client in ["198.51.100.1", "10.9.8.7, 198.51.100.2"] {
        for i in 0..2 {
            let answer = hello(proxy, client, format!("p{}{i}", client.len())).await;
            assert_eq!(answer["type"], "welcome", "{client} {i}: {answer}");
        }
    }
    let answer = hello(proxy, "198.51.100.1", "p-third".into()).await;
    assert_eq!(answer["code"], "rate_limited", "{answer}");
    // A peer that is not a trusted proxy cannot choose its address: its header is ignored.
    for (i, claimed) in ["203.0.113.1", "203.0.113.2"].into_iter().enumerate() {
        let answer = hello([127, 0, 0, 2], claimed, format!("liar{i}")).await;
        assert_eq!(answer["type"], "welcome", "{answer}");
    }
    let answer = hello([127, 0, 0, 2], "203.0.113.3", "liar2".into()).await;
    assert_eq!(answer["code"], "rate_limited", "{answer}");
}

#[tokio::test]
async fn new_rooms_are_limited_per_address_and_capped_per_server() {
    let server = start(|config| {
        config.limits.rooms_per_addr = Rate::per_minute(1.0, 3.0);
        config.limits.max_rooms_total = 4;
    })
    .await;
    let mut alice = Client::join(&server, "alice").await;
    for i in 0..3 {
        alice
            .send(json!({"type":"join","room":format!("r{i}"),"id":format!("j{i}")}))
            .await;
        assert_eq!(
            alice.expect_frame("joined").await["reply_to"],
            format!("j{i}")
        );
    }
    alice
        .send(json!({"type":"join","room":"r3","id":"j3"}))
        .await;
    let refused = alice.expect_frame("error").await;
    assert_eq!(
        (refused["code"].as_str(), refused["reply_to"].as_str()),
        (Some("rate_limited"), Some("j3"))
    );
    // Joining rooms that exist is not creating them.
    let mut bob = Client::join(&server, "bob").await;
    bob.send(json!({"type":"join","room":"r1"})).await;
    assert_eq!(bob.expect_frame("joined").await["room"], "r1");
    // The server's cap: three rooms exist; one more may be made, then no more.
    let mut carol = Client::connect_from(&server, [127, 0, 0, 3]).await;
    assert_eq!(carol.hello("carol").await["type"], "welcome");
    carol.send(json!({"type":"join","room":"r4"})).await;
    assert_eq!(carol.expect_frame("joined").await["room"], "r4");
    carol.send(json!({"type":"join","room":"r5"})).await;
    assert_eq!(carol.expect_frame("error").await["code"], "room_limit");
    // By form too.
    let answer = http(&server, "POST", "/join", &[FORM], "nick=dora").await;
    let cookie = crate::common::session_cookie(&cookie_token(&answer).expect("cookie"));
    let answer = http(
        &server,
        "POST",
        "/rooms/join",
        &[FORM, ("cookie", cookie.as_str())],
        "room=r6",
    )
    .await;
    assert!(
        answer.contains("error=room_limit") || answer.contains("error=rate_limited"),
        "{answer}"
    );
}

#[tokio::test]
async fn form_posts_are_limited_per_address() {
    let server = start(|config| config.limits.forms_per_addr = Rate::per_minute(1.0, 3.0)).await;
    let answer = http(&server, "POST", "/join", &[FORM], "nick=poster").await;
    let cookie = crate::common::session_cookie(&cookie_token(&answer).expect("cookie"));
    let headers = [FORM, ("cookie", cookie.as_str())];
    for i in 0..3 {
        let answer = http(&server, "POST", "/say", &headers, &format!("text=m{i}")).await;
        assert!(answer.contains("location: /\r\n"), "{i}: {answer}");
    }
    let refused = http(&server, "POST", "/say", &headers, "text=m3").await;
    assert!(refused.contains("error=rate_limited"), "{refused}");
    let refused = http(&server, "POST", "/rooms/join", &headers, "room=x").await;
    assert!(refused.contains("error=rate_limited"), "{refused}");
}

#[tokio::test]
async fn a_flood_of_bad_frames_is_answered_a_bounded_number_of_times_then_closed() {
    let server = start(|config| config.limits.frames = Rate::new(50.0, 200.0)).await;
    let mut bob = Client::join(&server, "bob").await;
    for before_hello in [true, false] {
        let mut mallory = Client::connect(&server).await;
        if !before_hello {
            assert_eq!(mallory.hello("mallory").await["type"], "welcome");
        }
        let started = Instant::now();
        for _ in 0..5000 {
            mallory.send_text("this is not json").await;
        }
        let mut errors = 0;
        let close = loop {
            match tokio::time::timeout(Duration::from_secs(5), mallory.next_raw()).await {
                Ok(Some(Message::Text(text))) if text.contains("\"error\"") => errors += 1,
                Ok(Some(Message::Close(frame))) => break frame,
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => break None,
            }
        };
        let close = close.expect("closed with a reason");
        // The frame budget is a burst of 200 that refills at 50 a second while the flood is read,
        // which takes longer on a loaded machine.
        let refill = (50.0 * started.elapsed().as_secs_f64()).ceil() as usize;
        let (reason, most) = if before_hello {
            ("too many refused hellos", 5)
        } else {
            ("too many frames", 200 + refill)
        };
        assert_eq!(
            (close.code, close.reason.as_str()),
            (CloseCode::Policy, reason)
        );
        assert!(
            errors <= most,
            "{errors} errors answered (before hello: {before_hello})"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    bob.say("still here", "b-1").await;
    assert_eq!(bob.expect_frame("ack").await["client_id"], "b-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_hellos_with_a_taken_name_costs_a_bystander_nothing() {
    let server = start(|_| {}).await;
    let (_owner, _) = Client::join_session(&server, "taken").await;
    let mut bystander = Client::join(&server, "bystander").await;
    async fn ack_ms(client: &mut Client, n: usize, tag: &str) -> f64 {
        let mut times = Vec::new();
        for i in 0..n {
            let started = Instant::now();
            client.say("ping", &format!("{tag}-{i}")).await;
            while client.recv().await["type"] != "ack" {}
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        times[n / 2]
    }
    let quiet = ack_ms(&mut bystander, 30, "q").await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let floods: Vec<_> = (0..4)
        .map(|_| {
            let (url, stop) = (server.ws_url(), stop.clone());
            tokio::spawn(async move {
                let mut refusals = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let Ok((mut ws, _)) = tokio_tungstenite::connect_async(&url).await else {
                        continue;
                    };
                    for _ in 0..10 {
                        let hello = json!({"type":"hello","nick":"TAKEN"}).to_string();
                        if ws.send(Message::text(hello)).await.is_err() {
                            break;
                        }
                    }
                    while let Some(Ok(message)) = ws.next().await {
                        if message.is_text() {
                            refusals += 1;
                        }
                    }
                }
                refusals
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let flooded = ack_ms(&mut bystander, 30, "f").await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut refusals = 0;
    for flood in floods {
        refusals += flood.await.expect("flood");
    }
    assert!(refusals > 20, "the flood was refused {refusals} times");
    assert!(
        flooded < quiet + 50.0,
        "a bystander's median ack: {quiet:.1} ms quiet, {flooded:.1} ms during the flood"
    );
}

#[tokio::test]
async fn oversize_messages_close_with_1009_however_they_are_sent() {
    let server = TestServer::start().await;
    let mut bob = Client::join(&server, "bob").await;
    // In fragments, none of them large.
    let mut mallory = Client::join(&server, "mallory").await;
    let chunk = vec![b'x'; 1024];
    mallory
        .send_raw(Message::Frame(Frame::message(
            chunk.clone(),
            OpCode::Data(Data::Text),
            false,
        )))
        .await;
    for _ in 0..70 {
        let fragment = Frame::message(chunk.clone(), OpCode::Data(Data::Continue), false);
        if mallory
            .try_send_raw(Message::Frame(fragment))
            .await
            .is_err()
        {
            break;
        }
    }
    let (code, reason) = mallory.closed_with_reason().await.expect("a close frame");
    assert_eq!(
        (code, reason.as_str()),
        (CloseCode::Size, "frame larger than 65536 bytes")
    );
    // In one binary frame.
    let mut mallory = Client::join(&server, "mallory2").await;
    mallory.send_raw(Message::binary(vec![0u8; 70_000])).await;
    let (code, _) = mallory.closed_with_reason().await.expect("a close frame");
    assert_eq!(code, CloseCode::Size);
    // Far beyond any buffer.
    let mut mallory = Client::join(&server, "mallory3").await;
    let _ = mallory
        .try_send_raw(Message::text("y".repeat(2 * 1024 * 1024)))
        .await;
    let (code, _) = mallory
        .closed_with_reason()
        .await
        .expect("a close frame, not a dropped socket");
    assert_eq!(code, CloseCode::Size);
    bob.say("unaffected", "b-1").await;
    assert_eq!(bob.expect_frame("ack").await["client_id"], "b-1");
}

#[tokio::test]
async fn half_sent_requests_are_closed_and_connections_are_capped_per_address() {
    let server = start(|config| {
        config.limits.header_read_timeout = Duration::from_millis(500);
        config.limits.max_http_connections_per_ip = 20;
    })
    .await;
    let mut half_sent = Vec::new();
    for _ in 0..30 {
        let mut stream = tokio::net::TcpStream::connect(server.addr)
            .await
            .expect("connect");
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .expect("write");
        half_sent.push(stream);
    }
    // Ten were over the cap and closed at once; the others when their headers ran late.
    let started = Instant::now();
    for (i, stream) in half_sent.iter_mut().enumerate() {
        let mut buf = [0u8; 1024];
        let read = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf)).await;
        match read {
            Ok(Ok(_)) | Ok(Err(_)) => {}
            Err(_) => panic!("connection {i} still open after {:?}", started.elapsed()),
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "closed within the timeout"
    );
    // And the server serves as before.
    let health = http(&server, "GET", "/healthz", &[], "").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
}

#[tokio::test]
async fn names_that_look_like_someone_elses_are_refused() {
    let server = TestServer::start().await;
    let _alice = Client::join(&server, "alice").await;
    for (twin, code) in [
        ("аlice", "nick_taken"),                   // Cyrillic а
        ("ａｌｉｃｅ", "nick_taken"),              // fullwidth
        ("ALİCE", "nick_taken"),                   // dotted capital I
        ("alicé", "nick_taken"),                   // an accent
        ("ali\u{301}ce", "nick_taken"),            // a combining accent
        ("alice\u{200B}", "nick_invalid"),         // zero-width space
        ("al\u{200D}ice", "nick_invalid"),         // zero-width joiner
        ("ali\u{AD}ce", "nick_invalid"),           // soft hyphen
        ("\u{202E}ecila", "nick_invalid"),         // bidi override
        ("\u{2067}alice\u{2069}", "nick_invalid"), // bidi isolate
    ] {
        let mut client = Client::connect(&server).await;
        let answer = client.hello(twin).await;
        assert_eq!(answer["code"], code, "{twin:?}: {answer}");
    }
    // The same rules for a rename and the form.
    let mut bob = Client::join(&server, "bob").await;
    bob.send(json!({"type":"nick","nick":"аlice","id":"n"}))
        .await;
    assert_eq!(bob.expect_frame("error").await["code"], "nick_taken");
    let answer = http(&server, "POST", "/join", &[FORM], "nick=%D0%B0lice").await;
    assert!(answer.contains("error=nick_taken"), "{answer}");
}

#[tokio::test]
async fn metrics_can_be_served_on_a_private_address_only() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let metrics_addr = free.local_addr().expect("addr");
    drop(free);
    let server = start(|config| config.http.metrics_addr = Some(metrics_addr)).await;
    let public = http(&server, "GET", "/metrics", &[], "").await;
    assert!(!public.contains("chinwag_connections"), "{public}");
    let mut stream = tokio::net::TcpStream::connect(metrics_addr)
        .await
        .expect("connect");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut private = String::new();
    stream.read_to_string(&mut private).await.expect("read");
    assert!(private.contains("chinwag_connections"), "{private}");
}
