//! People, not cookies: a person signs in on several devices (password, device link), is one
//! person there (rooms, private messages, read positions, one name online), signs devices out
//! (their tabs close at once), is throttled on failed sign-ins, deletes themselves; an
//! invite-only chat lets in only who has an invitation. Over real HTTP and websockets.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{
    admin, cookie_token, get_as, http, session_cookie, test_config, Client, DataDir, TestServer,
    FORM, WAIT,
};

const PASSWORD: &str = "correct horse battery";

/// `POST path` with a form `body`, as the browser holding `token` (if any); the whole response.
async fn post(server: &TestServer, path: &str, token: Option<&str>, body: &str) -> String {
    let cookie = token.map(session_cookie);
    let mut headers = vec![FORM];
    if let Some(cookie) = &cookie {
        headers.push(("cookie", cookie.as_str()));
    }
    http(server, "POST", path, &headers, body).await
}

fn status(response: &str) -> u16 {
    response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next()?;
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

fn form_encode(value: &str) -> String {
    serde_urlencoded::to_string([("v", value)])
        .unwrap_or_default()
        .trim_start_matches("v=")
        .to_owned()
}

/// Sets the password of the person signed in with `token`.
async fn set_password(server: &TestServer, token: &str, password: &str) {
    let body = format!("password={}", form_encode(password));
    let set = post(server, "/account/password", Some(token), &body).await;
    assert_eq!(status(&set), 303, "{set}");
    assert_eq!(
        header(&set, "location"),
        Some("/account?done=password"),
        "{set}"
    );
}

/// `POST /login`; the whole response.
async fn login(server: &TestServer, nick: &str, password: &str) -> String {
    let body = format!(
        "nick={}&password={}",
        form_encode(nick),
        form_encode(password)
    );
    post(server, "/login", None, &body).await
}

/// Signs `nick` in with `password` on a new device: that device's session token.
async fn sign_in(server: &TestServer, nick: &str, password: &str) -> String {
    let signed = login(server, nick, password).await;
    assert_eq!(status(&signed), 303, "{signed}");
    cookie_token(&signed).expect("a new session cookie")
}

/// A welcomed connection of session `token`, its catch-up read.
async fn device(server: &TestServer, token: &str) -> (Client, Value) {
    let (mut client, welcome) = Client::resume(server, token).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    client.expect_frame("dm_history").await;
    (client, welcome)
}

/// The next frame of `kind`, skipping others; `None` if none came within `wait`.
async fn next_of(client: &mut Client, kind: &str, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let frame = client.recv_until(deadline).await?;
        if frame["type"] == kind {
            return Some(frame);
        }
    }
}

/// The session ids the devices table of `/account` lists, and which is this device's.
fn devices(page: &str) -> (Vec<i64>, Option<i64>) {
    let mut all = Vec::new();
    let mut this = None;
    for row in page.split("<tr data-session=\"").skip(1) {
        let Some((id, rest)) = row.split_once('"') else {
            continue;
        };
        let Ok(id) = id.parse() else { continue };
        if rest.starts_with(" class=\"this\"") {
            this = Some(id);
        }
        all.push(id);
    }
    (all, this)
}

#[tokio::test]
async fn a_password_signs_the_same_person_in_on_another_device() {
    let server = TestServer::start().await;
    let (mut laptop, laptop_token) = Client::join_session(&server, "alice").await;
    laptop
        .send(json!({"type": "join", "room": "rust", "id": "j-1"}))
        .await;
    laptop.expect_frame("joined").await;
    set_password(&server, &laptop_token, PASSWORD).await;

    // A wrong password signs nobody in, and says no more than a name nobody holds.
    let wrong = login(&server, "alice", "not the password").await;
    assert_eq!(status(&wrong), 401, "{wrong}");
    assert!(cookie_token(&wrong).is_none());
    assert!(wrong.contains("That name and password do not match."));
    let nobody = login(&server, "nobody-here", "not the password").await;
    assert_eq!(status(&nobody), 401);
    assert!(nobody.contains("That name and password do not match."));

    // Once set, changing it takes the current one.
    let unchanged = post(
        &server,
        "/account/password",
        Some(&laptop_token),
        "password=a+new+password",
    )
    .await;
    assert_eq!(
        header(&unchanged, "location"),
        Some("/account?error=wrong_password")
    );
    let changed = post(
        &server,
        "/account/password",
        Some(&laptop_token),
        &format!(
            "password=a+new+password&current_password={}",
            form_encode(PASSWORD)
        ),
    )
    .await;
    assert_eq!(header(&changed, "location"), Some("/account?done=password"));
    assert_eq!(
        status(&login(&server, "alice", PASSWORD).await),
        401,
        "the old one is gone"
    );
    let phone_token = sign_in(&server, "Alice", "a new password").await;
    assert_ne!(phone_token, laptop_token, "a sign-in is a new session");
    let (mut phone, welcome) = device(&server, &phone_token).await;
    assert_eq!(welcome["nick"], "alice");
    assert_eq!(welcome["secured"], true, "{welcome}");
    let rooms: Vec<&str> = welcome["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(rooms.contains(&"rust"), "the person's rooms: {rooms:?}");

    // One person online, however many devices.
    let (_bob, bob_welcome) = {
        let mut bob = Client::connect(&server).await;
        let welcome = bob.hello("bob").await;
        (bob, welcome)
    };
    let alices = bob_welcome["online"]
        .as_array()
        .expect("online")
        .iter()
        .filter(|n| *n == "alice")
        .count();
    assert_eq!(alices, 1, "{bob_welcome}");

    // What one device does, the other sees: a room joined on the phone appears on the laptop.
    phone
        .send(json!({"type": "join", "room": "go", "id": "j-2"}))
        .await;
    phone.expect_frame("joined").await;
    let joined = next_of(&mut laptop, "joined", WAIT)
        .await
        .expect("the laptop follows");
    assert_eq!(joined["room"], "go");
    // And the laptop's message reaches the phone (another connection of the same person).
    laptop.say("from the laptop", "c-1").await;
    let message = next_of(&mut phone, "message", WAIT)
        .await
        .expect("the phone gets it");
    assert_eq!(message["text"], "from the laptop");
    server.shutdown().await;
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_name_and_per_address() {
    let server = TestServer::start().await;
    let token = crate::common::join_by_form(&server, "carol").await;
    set_password(&server, &token, PASSWORD).await;
    for attempt in 1..=5 {
        let refused = login(&server, "carol", &format!("guess {attempt}")).await;
        assert_eq!(status(&refused), 401, "attempt {attempt}: {refused}");
    }
    // The sixth, right or wrong, waits.
    let throttled = login(&server, "carol", PASSWORD).await;
    assert_eq!(status(&throttled), 429, "{throttled}");
    assert!(
        cookie_token(&throttled).is_none(),
        "no session while throttled"
    );
    let retry: u64 = header(&throttled, "retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=15 * 60).contains(&retry), "{retry}");
    // The address used up its failures too: another name from here waits as well.
    let other = login(&server, "dave", "whatever it is").await;
    assert_eq!(status(&other), 429, "{other}");
    // The person's own device is not signed out by someone guessing.
    let (_client, welcome) = device(&server, &token).await;
    assert_eq!(welcome["nick"], "carol");
    server.shutdown().await;
}

#[tokio::test]
async fn a_device_link_signs_one_device_in_once() {
    let server = TestServer::start().await;
    let (_laptop, token) = Client::join_session(&server, "erin").await;
    let made = post(&server, "/account/link", Some(&token), "").await;
    assert_eq!(status(&made), 200, "{made}");
    assert!(made.contains("<svg"), "a QR code: {made}");
    let start = made.find("/link/").expect("a link");
    let secret: String = made[start + "/link/".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let path = format!("/link/{secret}");

    // Opening it changes nothing (link previews open links too): it asks.
    let asked = http(&server, "GET", &path, &[], "").await;
    assert_eq!(status(&asked), 200);
    assert!(asked.contains("erin"), "{asked}");
    let used = post(&server, &path, None, "").await;
    assert_eq!(status(&used), 303, "{used}");
    let phone_token = cookie_token(&used).expect("the new device's cookie");
    let (_phone, welcome) = device(&server, &phone_token).await;
    assert_eq!(welcome["nick"], "erin");

    let again = post(&server, &path, None, "").await;
    assert_eq!(status(&again), 410, "once only: {again}");
    assert!(cookie_token(&again).is_none());
    let forged = post(&server, "/link/not-a-link", None, "").await;
    assert_eq!(status(&forged), 410);
    server.shutdown().await;
}

#[tokio::test]
async fn signing_out_other_devices_closes_their_tabs_at_once() {
    let server = TestServer::start().await;
    let (_tab, laptop) = Client::join_session(&server, "frank").await;
    set_password(&server, &laptop, PASSWORD).await;
    let phone = sign_in(&server, "frank", PASSWORD).await;
    let tablet = sign_in(&server, "frank", PASSWORD).await;
    let (mut phone_tab, _) = device(&server, &phone).await;
    let (mut tablet_tab, _) = device(&server, &tablet).await;

    let page = get_as(&server, "/account", &laptop).await;
    let (sessions, this) = devices(&page);
    assert_eq!(sessions.len(), 3, "{page}");
    let laptop_id = this.expect("this device is marked");

    // One device: the phone, from the tablet's account page.
    let tablet_page = get_as(&server, "/account", &tablet).await;
    let (_, tablet_id) = devices(&tablet_page);
    let phone_id = sessions
        .iter()
        .copied()
        .find(|id| Some(*id) != tablet_id && *id != laptop_id)
        .expect("the phone's session");
    let out = post(
        &server,
        "/account/signout",
        Some(&tablet),
        &format!("session={phone_id}"),
    )
    .await;
    assert_eq!(status(&out), 303, "{out}");
    let told = next_of(&mut phone_tab, "error", WAIT)
        .await
        .expect("the phone's tab is told");
    assert_eq!(told["code"], "signed_out", "{told}");
    let closed = phone_tab.closed_with_reason().await;
    assert_eq!(
        closed.map(|(code, reason)| (u16::from(code), reason)),
        Some((1008, "signed out".to_owned()))
    );
    let (_again, answer) = Client::resume(&server, &phone).await;
    assert_eq!(answer["code"], "bad_session", "{answer}");

    // Everyone else: the laptop signs out every other device.
    let out = post(&server, "/account/signout-others", Some(&laptop), "").await;
    assert_eq!(status(&out), 303, "{out}");
    let told = next_of(&mut tablet_tab, "error", WAIT)
        .await
        .expect("the tablet's tab is told");
    assert_eq!(told["code"], "signed_out");
    let page = get_as(&server, "/account", &laptop).await;
    assert_eq!(devices(&page).0, vec![laptop_id], "{page}");

    // This device: the cookie goes, and the session with it.
    let out = post(
        &server,
        "/account/signout",
        Some(&laptop),
        &format!("session={laptop_id}"),
    )
    .await;
    assert_eq!(header(&out, "location"), Some("/login?error=signed_out"));
    assert!(
        out.to_lowercase().contains("set-cookie: chinwag_session=;"),
        "{out}"
    );
    let (_, answer) = Client::resume(&server, &laptop).await;
    assert_eq!(answer["code"], "bad_session");
    server.shutdown().await;
}

#[tokio::test]
async fn read_positions_follow_the_person_across_devices() {
    let server = TestServer::start().await;
    let (_, laptop) = Client::join_session(&server, "gina").await;
    set_password(&server, &laptop, PASSWORD).await;
    let phone = sign_in(&server, "gina", PASSWORD).await;
    let (mut laptop_tab, _) = device(&server, &laptop).await;
    let (mut phone_tab, welcome) = device(&server, &phone).await;
    assert!(welcome.get("read").is_none(), "nothing read yet: {welcome}");
    let mut hank = Client::join(&server, "hank").await;
    for n in 1..=3 {
        hank.say(&format!("news {n}"), &format!("h-{n}")).await;
        hank.expect_frame("ack").await;
    }

    laptop_tab
        .send(json!({"type": "read", "room": "general", "seq": 2}))
        .await;
    let read = next_of(&mut phone_tab, "read", WAIT)
        .await
        .expect("the phone is told");
    assert_eq!(
        (read["room"].clone(), read["seq"].clone()),
        (json!("general"), json!(2))
    );
    // Never back: an older position changes nothing and tells nobody.
    laptop_tab
        .send(json!({"type": "read", "room": "general", "seq": 1}))
        .await;
    assert!(
        next_of(&mut phone_tab, "read", Duration::from_millis(500))
            .await
            .is_none(),
        "an older position is not news"
    );
    let (_tab, welcome) = device(&server, &phone).await;
    assert_eq!(welcome["read"]["general"], 2, "{welcome}");
    // Never past the room's latest message.
    laptop_tab
        .send(json!({"type": "read", "room": "general", "seq": 999}))
        .await;
    let read = next_of(&mut phone_tab, "read", WAIT).await.expect("told");
    assert_eq!(read["seq"], 3, "{read}");

    // A private conversation, by message id; only a message of that conversation.
    hank.send(json!({"type": "dm", "to": "gina", "text": "psst", "client_id": "d-1"}))
        .await;
    let dm = next_of(&mut laptop_tab, "dm", WAIT).await.expect("the dm");
    let id = dm["id"].as_u64().expect("an id");
    laptop_tab
        .send(json!({"type": "read", "dm": "hank", "id": id}))
        .await;
    let read = next_of(&mut phone_tab, "read", WAIT).await.expect("told");
    assert_eq!(
        (read["dm"].clone(), read["id"].clone()),
        (json!("hank"), json!(id))
    );
    laptop_tab
        .send(json!({"type": "read", "dm": "hank", "id": id + 1000}))
        .await;
    let refused = next_of(&mut laptop_tab, "error", WAIT)
        .await
        .expect("refused");
    assert_eq!(refused["code"], "bad_frame", "{refused}");
    let (_tab, welcome) = device(&server, &laptop).await;
    assert_eq!(welcome["dm_read"]["hank"], id, "{welcome}");
    server.shutdown().await;
}

#[tokio::test]
async fn an_invite_only_chat_lets_in_only_who_has_an_invitation() {
    let data = DataDir::new();
    let mut config = test_config(&data);
    config.http.signup = chinwag::server::accounts::Signup::Invite;
    let server = TestServer::start_on(data, config).await;

    let refused = post(&server, "/join", None, "nick=ivan").await;
    assert!(
        header(&refused, "location").is_some_and(|l| l.contains("error=invite_required")),
        "{refused}"
    );
    assert!(cookie_token(&refused).is_none());
    let mut client = Client::connect(&server).await;
    let answer = client.hello("ivan").await;
    assert_eq!(answer["code"], "invite_required", "{answer}");

    let printed = admin(&server, &["invite", "--uses", "1"]).await;
    let link = printed.lines().last().expect("the link, last");
    let secret = link
        .rsplit_once("/invite/")
        .map(|(_, s)| s.to_owned())
        .expect("an invitation link");
    let page = http(&server, "GET", &format!("/invite/{secret}"), &[], "").await;
    assert_eq!(status(&page), 200, "{page}");
    assert!(page.contains("name=\"invite\""), "{page}");
    let joined = post(
        &server,
        "/join",
        None,
        &format!("nick=ivan&invite={secret}"),
    )
    .await;
    let token = cookie_token(&joined).expect("let in");
    let (_ivan, welcome) = device(&server, &token).await;
    assert_eq!(welcome["nick"], "ivan");
    // Used up.
    let again = post(
        &server,
        "/join",
        None,
        &format!("nick=judy&invite={secret}"),
    )
    .await;
    assert!(cookie_token(&again).is_none(), "{again}");
    let page = http(&server, "GET", &format!("/invite/{secret}"), &[], "").await;
    assert_eq!(status(&page), 410);
    server.shutdown().await;

    let data = DataDir::new();
    let mut config = test_config(&data);
    config.http.signup = chinwag::server::accounts::Signup::Closed;
    let server = TestServer::start_on(data, config).await;
    let mut client = Client::connect(&server).await;
    let answer = client.hello("kim").await;
    assert_eq!(answer["code"], "signup_closed", "{answer}");
    server.shutdown().await;
}

#[tokio::test]
async fn deleting_yourself_keeps_or_deletes_your_messages() {
    let server = TestServer::start().await;
    let (mut leo, leo_token) = Client::join_session(&server, "leo").await;
    let (mut mia, mia_token) = Client::join_session(&server, "mia").await;
    let mut watcher = Client::join(&server, "nina").await;
    leo.say("leo was here", "l-1").await;
    let leo_seq = leo.expect_frame("ack").await["seq"].as_u64().expect("seq");
    mia.say("mia was here", "m-1").await;
    let mia_seq = next_of(&mut mia, "ack", WAIT).await.expect("acked")["seq"]
        .as_u64()
        .expect("seq");

    // The name must be typed to confirm.
    let unconfirmed = post(
        &server,
        "/account/delete",
        Some(&leo_token),
        "confirm=someone&messages=delete",
    )
    .await;
    assert_eq!(
        header(&unconfirmed, "location"),
        Some("/account?error=confirm")
    );

    let gone = post(
        &server,
        "/account/delete",
        Some(&leo_token),
        "confirm=leo&messages=delete",
    )
    .await;
    assert_eq!(status(&gone), 200, "{gone}");
    let deleted = next_of(&mut watcher, "deleted", WAIT)
        .await
        .expect("the room is told");
    assert_eq!(deleted["seq"], leo_seq);
    let told = next_of(&mut leo, "error", WAIT).await.expect("leo's tab");
    assert_eq!(told["code"], "signed_out");

    let kept = post(
        &server,
        "/account/delete",
        Some(&mia_token),
        "confirm=MIA&messages=keep",
    )
    .await;
    assert_eq!(status(&kept), 200, "{kept}");
    // Their names are free, their sessions gone; mia's message stays, leo's does not.
    let (_, answer) = Client::resume(&server, &leo_token).await;
    assert_eq!(answer["code"], "bad_session");
    let mut newcomer = Client::connect(&server).await;
    assert_eq!(newcomer.hello("leo").await["type"], "welcome");
    let history = newcomer.expect_frame("history").await;
    let texts: Vec<(u64, String)> = history["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["deleted"] != true)
        .filter_map(|m| Some((m["seq"].as_u64()?, m["text"].as_str()?.to_owned())))
        .collect();
    assert!(
        texts.contains(&(mia_seq, "mia was here".to_owned())),
        "{texts:?}"
    );
    assert!(!texts.iter().any(|(seq, _)| *seq == leo_seq), "{texts:?}");
    server.shutdown().await;
}
