//! People's pictures against a real server: set from any picture (made square and small, with
//! nothing of the original's metadata), announced to everyone online, served with a validator so a
//! later page revalidates, initials for everyone else, and only pictures accepted.

use std::io::Cursor;

use super::{fetch, jpeg_with_gps, multipart, request, Answer};
use crate::common::*;

/// `POST /avatar` with `content` as the file, for the session `token` (bearer, as a bot would).
async fn set_avatar(addr: std::net::SocketAddr, token: &str, content: &[u8]) -> Answer {
    let (kind, body) = multipart("me.png", content);
    let auth = format!("Bearer {token}");
    request(
        addr,
        "POST",
        "/avatar",
        &[("content-type", &kind), ("authorization", &auth)],
        &body,
    )
    .await
}

fn wide_png() -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::new_rgb8(300, 100)
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("encode");
    out.into_inner()
}

async fn expect_avatar_frame(client: &mut Client, nick: &str) -> String {
    let frame = client.expect_frame("avatar").await;
    assert_eq!(frame["nick"], nick, "{frame}");
    frame["url"].as_str().expect("url").to_owned()
}

#[tokio::test]
async fn a_picture_set_is_square_announced_and_served() {
    let server = TestServer::start().await;
    let (mut alice, alice_token) = Client::join_session(&server, "alice").await;
    let (mut bob, bob_token) = Client::join_session(&server, "bob").await;

    let answer = set_avatar(server.addr, &alice_token, &wide_png()).await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let url = answer.json()["url"].as_str().expect("url").to_owned();
    assert!(url.starts_with("/avatars/alice?v="), "{url}");
    // Everyone online is told, the one who set it too (their other tabs show it).
    assert_eq!(expect_avatar_frame(&mut bob, "alice").await, url);
    assert_eq!(expect_avatar_frame(&mut alice, "alice").await, url);

    for path in [url.as_str(), "/avatars/alice", "/avatars/ALICE"] {
        let served = fetch(server.addr, &bob_token, path).await;
        assert_eq!(served.status, 200, "{path}");
        assert!(
            matches!(
                served.header("content-type"),
                Some("image/png" | "image/jpeg")
            ),
            "{}",
            served.head
        );
        let picture = image::load_from_memory(&served.body).expect("a picture");
        assert_eq!(
            (picture.width(), picture.height()),
            (128, 128),
            "square, small"
        );
        assert_eq!(served.header("cache-control"), Some("private, no-cache"));
        let etag = served.header("etag").expect("an ETag").to_owned();
        let cookie = session_cookie(&bob_token);
        let again = request(
            server.addr,
            "GET",
            path,
            &[("cookie", &cookie), ("if-none-match", &etag)],
            b"",
        )
        .await;
        assert_eq!(again.status, 304, "revalidated, not sent again");
    }
}

#[tokio::test]
async fn without_a_picture_the_initials_show_and_removing_one_brings_them_back() {
    let server = TestServer::start().await;
    let (mut ana, token) = Client::join_session(&server, "ana maria").await;
    let initials = fetch(server.addr, &token, "/avatars/ana%20maria").await;
    assert_eq!(initials.status, 200);
    assert_eq!(initials.header("content-type"), Some("image/svg+xml"));
    let svg = String::from_utf8_lossy(&initials.body).into_owned();
    assert!(svg.contains(">AM</text>"), "{svg}");
    assert!(initials
        .header("content-security-policy")
        .is_some_and(|csp| csp.starts_with("sandbox")));
    // A name nobody holds (a deleted person's old messages) still gets initials.
    let nobody = fetch(server.addr, &token, "/avatars/zed").await;
    assert_eq!(nobody.status, 200);
    assert!(String::from_utf8_lossy(&nobody.body).contains(">Z</text>"));

    assert_eq!(
        set_avatar(server.addr, &token, &jpeg_with_gps())
            .await
            .status,
        200
    );
    expect_avatar_frame(&mut ana, "ana maria").await;
    let picture = fetch(server.addr, &token, "/avatars/ana%20maria").await;
    assert_eq!(picture.header("content-type"), Some("image/jpeg"));
    assert!(
        !picture.body.windows(10).any(|w| w == b"GPS-SECRET"),
        "made anew: nothing of the original's metadata"
    );

    let boundary = "chinwag-test-boundary-7d1f";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"remove\"\r\n\r\n1\r\n--{boundary}--\r\n"
    );
    let kind = format!("multipart/form-data; boundary={boundary}");
    let auth = format!("Bearer {token}");
    let removed = request(
        server.addr,
        "POST",
        "/avatar",
        &[("content-type", &kind), ("authorization", &auth)],
        body.as_bytes(),
    )
    .await;
    assert_eq!(
        removed.status,
        200,
        "{}",
        String::from_utf8_lossy(&removed.body)
    );
    let url = expect_avatar_frame(&mut ana, "ana maria").await;
    let back = fetch(server.addr, &token, &url).await;
    assert_eq!(back.header("content-type"), Some("image/svg+xml"));
}

#[tokio::test]
async fn only_pictures_and_only_for_people_signed_in() {
    let server = TestServer::start().await;
    let (_ana, token) = Client::join_session(&server, "ana").await;
    let refused = set_avatar(server.addr, &token, b"%PDF-1.7 not a picture").await;
    assert_eq!(refused.status, 415);
    assert_eq!(refused.json()["error"], "not_a_picture");
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>"#;
    assert_eq!(set_avatar(server.addr, &token, svg).await.status, 415);

    let anonymous = request(server.addr, "GET", "/avatars/ana", &[], b"").await;
    assert_eq!(anonymous.status, 404, "names are for people signed in");
    let (kind, body) = multipart("me.png", &wide_png());
    let unsigned = request(
        server.addr,
        "POST",
        "/avatar",
        &[("content-type", &kind)],
        &body,
    )
    .await;
    assert_eq!(unsigned.status, 401);
}
