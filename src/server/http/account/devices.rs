//! `GET /account` and its forms: the person's name and credentials, the devices signed in as
//! them, and what they can do about each.
//!
//! - `POST /account/password`: sets the password (the current one is asked for if there is one).
//! - `POST /account/passkey/start` and `/finish` (JSON, from `/passkeys.js`): adds a passkey;
//!   `POST /account/passkey/remove` removes one.
//! - `POST /account/signout`: signs out one device (this one included: then back to `/login`);
//!   `POST /account/signout-others`: every device but this one. Their open tabs are told at once
//!   (`signed_out`) on every server, and closed.
//! - `POST /account/link`: a one-time link (and its QR code) that signs another device in.
//! - `POST /account/invite` (moderators): an invitation link, for an invite-only chat.
//! - `POST /account/delete`: deletes the person, keeping or deleting their room messages.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use axum_extra::extract::cookie::Cookie;
use axum_extra::extract::CookieJar;
use serde::Deserialize;
use webauthn_rs::prelude::RegisterPublicKeyCredential;

use super::super::html::{escape, page};
use super::login::json_error;
use super::{form_allowed, sign_out, sign_out_where, signed_in, slow_down, unavailable};
use crate::server::accounts::password;
use crate::server::clock::{now_rfc3339, rfc3339_in};
use crate::server::session::{token, Found, COOKIE};
use crate::server::state::AppState;
use crate::server::store::accounts::PasskeyInfo;
use crate::server::store::{DeviceSession, SignOut};

/// How long a device link works.
pub const LINK_TTL: Duration = Duration::from_secs(10 * 60);

#[derive(Debug, Default, Deserialize)]
pub struct AccountQuery {
    #[serde(default)]
    done: String,
    #[serde(default)]
    error: String,
}

/// `GET /account`.
pub async fn show(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(query): Query<AccountQuery>,
) -> Response {
    let Some(me) = signed_in(&state, &jar).await else {
        return Redirect::to("/login").into_response();
    };
    let id = me.person.id.get();
    let store = &state.store;
    let read = tokio::try_join!(
        store.people().sessions_of(id),
        store.accounts().passkey_list(id),
        store.accounts().password_of(id),
        store.moderation().is_moderator(id),
    );
    let (devices, passkeys, phc, moderator) = match read {
        Ok(read) => read,
        Err(err) => {
            tracing::error!(%err, "reading an account failed");
            return unavailable();
        }
    };
    let nick = me.person.nick();
    let has_password = phc.is_some();
    let secured = has_password || !passkeys.is_empty();
    let mut body = notice(&query);
    body.push_str(&greeting(&nick, secured));
    body.push_str(&avatar_part(&nick));
    body.push_str(&password_form(&nick, has_password));
    body.push_str(&passkeys_part(&passkeys, state.passkeys.enabled()));
    body.push_str(&devices_part(&devices, me.session.get(), secured));
    body.push_str(&link_part());
    if moderator {
        body.push_str(INVITE_FORM);
    }
    body.push_str(&delete_form(has_password));
    page(StatusCode::OK, "Your account", &body)
}

/// What the form just posted did (or why it did not), from the redirect's query.
fn notice(query: &AccountQuery) -> String {
    let notice = match (query.done.as_str(), query.error.as_str()) {
        ("password", _) => "Your password is saved.",
        ("passkey", _) => "Your passkey is added.",
        ("passkey_removed", _) => "The passkey is removed.",
        ("signed_out", _) => "Signed out.",
        ("avatar", _) => "Your picture is saved.",
        (_, "avatar_not_a_picture" | "avatar_unreadable_image") => {
            "That file is not a picture chinwag can read (PNG, JPEG, GIF or WebP)."
        }
        (_, "avatar_too_many_pixels") => "That picture is too large (too many pixels).",
        (_, "avatar_too_large") => "That file is too large.",
        (_, "avatar_rate_limited") => "Too many uploads; wait a moment.",
        (_, "avatar_muted" | "avatar_banned") => "You cannot change your picture while muted.",
        (_, "wrong_password") => "That is not your current password.",
        (_, "password_mismatch") => "The two new passwords differ.",
        (_, "password_length") => "A password has 8 to 256 characters.",
        (_, "confirm") => "Type your name exactly to confirm.",
        _ => "",
    };
    if notice.is_empty() {
        return String::new();
    }
    format!("<p class=\"notice\" role=\"status\">{}</p>", escape(notice))
}

/// Who is signed in, and whether their name is theirs for good.
fn greeting(nick: &str, secured: bool) -> String {
    let mut html = format!(
        "<p>Signed in as <b id=\"me\">{}</b>. <a href=\"/\">Back to the chat</a></p>",
        escape(nick)
    );
    if secured {
        html.push_str(
            "<p id=\"secured\">Your name is yours for good: sign in with it on any device.</p>",
        );
    } else {
        html.push_str(
            "<p id=\"guest\">You are a guest: your name is kept while you use it. Set a password \
             or add a passkey to keep it for good and sign in on your other devices.</p>",
        );
    }
    html
}

/// My picture, a form to change it (a file) and one to remove it.
fn avatar_part(nick: &str) -> String {
    format!(
        "<h2>Picture</h2><div class=\"card avatar-card\">\
         <img class=\"avatar avatar-large\" id=\"my-avatar\" src=\"{src}\" alt=\"Your picture\" \
         width=\"64\" height=\"64\">\
         <form method=\"post\" action=\"/account/avatar\" enctype=\"multipart/form-data\">\
         <label for=\"avatar-file\">A new picture (PNG, JPEG, GIF or WebP; its centre is kept)</label>\
         <input id=\"avatar-file\" name=\"file\" type=\"file\" required \
         accept=\"image/png,image/jpeg,image/gif,image/webp\">\
         <button type=\"submit\">Set picture</button></form>\
         <form method=\"post\" action=\"/account/avatar\" enctype=\"multipart/form-data\">\
         <button type=\"submit\" name=\"remove\" value=\"1\" class=\"secondary\">\
         Use my initials</button></form></div>",
        src = escape(&crate::protocol::avatar_path(nick)),
    )
}

/// Sets or changes the password; the current one is asked for when there is one.
fn password_form(nick: &str, has_password: bool) -> String {
    let mut html = String::from(
        "<h2>Password</h2><form method=\"post\" action=\"/account/password\" class=\"card\">",
    );
    // For password managers: the name the password belongs to.
    html.push_str(&format!(
        "<input type=\"text\" name=\"username\" value=\"{}\" autocomplete=\"username\" hidden>",
        escape(nick)
    ));
    if has_password {
        html.push_str(
            "<label for=\"current_password\">Current password</label>\
             <input id=\"current_password\" name=\"current_password\" type=\"password\" required \
             autocomplete=\"current-password\">",
        );
    }
    html.push_str(&format!(
        "<label for=\"password\">New password</label><input id=\"password\" name=\"password\" \
         type=\"password\" required minlength=\"{min}\" maxlength=\"{max}\" \
         autocomplete=\"new-password\">\
         <label for=\"again\">New password again</label><input id=\"again\" name=\"again\" \
         type=\"password\" required minlength=\"{min}\" maxlength=\"{max}\" \
         autocomplete=\"new-password\">\
         <button type=\"submit\">{}</button></form>",
        if has_password {
            "Change password"
        } else {
            "Set password"
        },
        min = password::MIN_CHARS,
        max = password::MAX_CHARS,
    ));
    html
}

/// The person's passkeys, each with its remove button, and the add button when this server can
/// check passkeys at all.
fn passkeys_part(passkeys: &[PasskeyInfo], enabled: bool) -> String {
    let mut html = String::from("<h2>Passkeys</h2>");
    if passkeys.is_empty() {
        html.push_str("<p>No passkeys yet.</p>");
    } else {
        html.push_str("<ul id=\"passkeys\">");
        for key in passkeys {
            let used = key.last_used.as_deref().map_or_else(
                || "never used".to_owned(),
                |at| format!("last used {}", readable(at)),
            );
            html.push_str(&format!(
                "<li>Added {}, {used} <form method=\"post\" action=\"/account/passkey/remove\" \
                 class=\"inline\"><input type=\"hidden\" name=\"id\" value=\"{}\">\
                 <button type=\"submit\">Remove</button></form></li>",
                readable(&key.created_at),
                key.id
            ));
        }
        html.push_str("</ul>");
    }
    if enabled {
        html.push_str(
            "<p><button type=\"button\" id=\"passkey-add\" hidden>Add a passkey</button></p>\
             <p id=\"passkey-error\" class=\"form-error\" role=\"alert\" hidden></p>\
             <script src=\"/passkeys.js\" defer></script>",
        );
    }
    html
}

/// The devices signed in as the person, each but `this_session` with its sign-out button, then
/// the sign-out buttons for the others and for this one.
fn devices_part(devices: &[DeviceSession], this_session: i64, secured: bool) -> String {
    let mut html = String::from(
        "<h2>Devices</h2><table id=\"devices\"><tr><th>Device</th><th>Last seen</th>\
         <th>Address</th><th></th></tr>",
    );
    for device in devices {
        let this = device.id == this_session;
        let action = if this {
            "<b>This device</b>".to_owned()
        } else {
            format!(
                "<form method=\"post\" action=\"/account/signout\" class=\"inline\">\
                 <input type=\"hidden\" name=\"session\" value=\"{}\">\
                 <button type=\"submit\">Sign out</button></form>",
                device.id
            )
        };
        html.push_str(&format!(
            "<tr data-session=\"{}\"{}><td>{}</td><td>{}</td><td>{}</td><td>{action}</td></tr>",
            device.id,
            if this { " class=\"this\"" } else { "" },
            escape(&device_name(device.user_agent.as_deref())),
            readable(&device.last_seen),
            escape(device.address.as_deref().unwrap_or("")),
        ));
    }
    html.push_str("</table>");
    if devices.len() > 1 {
        html.push_str(
            "<form method=\"post\" action=\"/account/signout-others\">\
             <button type=\"submit\" id=\"signout-others\">Sign out everywhere else</button></form>",
        );
    }
    html.push_str(&format!(
        "<form method=\"post\" action=\"/account/signout\"><input type=\"hidden\" name=\"session\" \
         value=\"{}\"><button type=\"submit\" id=\"signout\">Sign out of this device</button>{}</form>",
        this_session,
        if secured {
            ""
        } else {
            " <small>(as a guest, signing out of your only device gives up your name)</small>"
        }
    ));
    html
}

fn link_part() -> String {
    format!(
        "<h2>Link a device</h2><p>A one-time link that signs another device in as you, for {} \
         minutes, without a password: open it there, or scan its QR code.</p>\
         <form method=\"post\" action=\"/account/link\"><button type=\"submit\" id=\"link\">\
         Make a sign-in link</button></form>",
        LINK_TTL.as_secs() / 60
    )
}

/// Shown to moderators only: they are who may invite people into an invite-only chat.
const INVITE_FORM: &str =
    "<h2>Invitations</h2><form method=\"post\" action=\"/account/invite\" class=\"card\">\
     <label for=\"uses\">Uses</label><input id=\"uses\" name=\"uses\" type=\"number\" \
     min=\"1\" max=\"1000\" value=\"1\">\
     <label for=\"days\">Valid for (days)</label><input id=\"days\" name=\"days\" \
     type=\"number\" min=\"1\" max=\"90\" value=\"7\">\
     <button type=\"submit\">Make an invitation</button></form>";

/// Deletes the account; the password is asked for when there is one.
fn delete_form(has_password: bool) -> String {
    format!(
        "<h2>Delete my account</h2><form method=\"post\" action=\"/account/delete\" class=\"card\">\
         <p>Deleting gives up your name and deletes your private messages, rooms and devices. \
         Your messages in rooms:</p>\
         <label><input type=\"radio\" name=\"messages\" value=\"keep\" checked> stay, under your \
         name as it was</label>\
         <label><input type=\"radio\" name=\"messages\" value=\"delete\"> are deleted too</label>\
         <label for=\"confirm\">Type your name to confirm</label>\
         <input id=\"confirm\" name=\"confirm\" type=\"text\" required autocomplete=\"off\">{}\
         <button type=\"submit\" class=\"danger\">Delete my account</button></form>",
        if has_password {
            "<label for=\"delete-current\">Your password</label><input id=\"delete-current\" \
             name=\"current_password\" type=\"password\" required \
             autocomplete=\"current-password\">"
        } else {
            ""
        }
    )
}

/// A device as people name it, from its browser's `User-Agent`: "Firefox on Linux".
pub fn device_name(agent: Option<&str>) -> String {
    let Some(agent) = agent.filter(|a| !a.is_empty()) else {
        return "Unknown device".to_owned();
    };
    let has = |needle: &str| agent.contains(needle);
    // Order matters: Edge and Opera say "Chrome" too, Chrome says "Safari".
    let browser = if has("Firefox/") {
        "Firefox"
    } else if has("Edg/") {
        "Edge"
    } else if has("OPR/") {
        "Opera"
    } else if has("HeadlessChrome/") || has("Chrome/") || has("Chromium/") || has("CriOS/") {
        "Chrome"
    } else if has("Safari/") {
        "Safari"
    } else if has("curl/") || has("python") || has("node") || has("chinwag") {
        "A program"
    } else {
        "A browser"
    };
    let system = if has("Android") {
        "Android"
    } else if has("iPhone") || has("iPad") {
        "iOS"
    } else if has("Windows") {
        "Windows"
    } else if has("Mac OS X") || has("Macintosh") {
        "macOS"
    } else if has("CrOS") {
        "ChromeOS"
    } else if has("Linux") || has("X11") {
        "Linux"
    } else {
        return browser.to_owned();
    };
    format!("{browser} on {system}")
}

/// An RFC 3339 time as people read it: `2026-12-07 10:00 UTC`.
fn readable(at: &str) -> String {
    format!("{} UTC", at.get(..16).unwrap_or(at).replace('T', " "))
}

/// The signed-in person for a form, after counting it against the address; or the answer.
async fn poster(state: &AppState, jar: &CookieJar, peer: SocketAddr) -> Result<Found, Response> {
    if !form_allowed(state, peer) {
        return Err(slow_down());
    }
    signed_in(state, jar)
        .await
        .ok_or_else(|| Redirect::to("/login").into_response())
}

/// Whether `given` is person `id`'s current password (true if they have none).
async fn current_password(state: &AppState, id: i64, given: &str) -> Result<bool, Response> {
    let phc = state
        .store
        .accounts()
        .password_of(id)
        .await
        .map_err(|err| {
            tracing::error!(%err, "reading a password failed");
            unavailable()
        })?;
    let Some(phc) = phc else {
        return Ok(true);
    };
    let given = given.to_owned();
    Ok(
        tokio::task::spawn_blocking(move || password::verify(&given, Some(&phc)))
            .await
            .unwrap_or(false),
    )
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    /// Asked for once a password is set.
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    password: String,
    /// The new password typed again, if the form asked for it.
    #[serde(default)]
    again: Option<String>,
}

/// `POST /account/password`.
pub async fn set_password(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    Form(form): Form<PasswordForm>,
) -> Response {
    let me = match poster(&state, &jar, peer).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let id = me.person.id.get();
    if password::check_new(&form.password).is_err() {
        return Redirect::to("/account?error=password_length").into_response();
    }
    if form
        .again
        .as_ref()
        .is_some_and(|again| *again != form.password)
    {
        return Redirect::to("/account?error=password_mismatch").into_response();
    }
    match current_password(&state, id, &form.current_password).await {
        Ok(true) => {}
        Ok(false) => return Redirect::to("/account?error=wrong_password").into_response(),
        Err(response) => return response,
    }
    let new = form.password;
    let Ok(Some(phc)) = tokio::task::spawn_blocking(move || password::hash(&new)).await else {
        return unavailable();
    };
    if let Err(err) = state.store.accounts().set_password(id, &phc).await {
        tracing::error!(%err, "storing a password failed");
        return unavailable();
    }
    secured(&state, &me);
    Redirect::to("/account?done=password").into_response()
}

/// The person now has a credential: their standing says so here, and other servers reload it.
fn secured(state: &AppState, me: &Found) {
    me.person.update_standing(|s| s.secured = true);
    state.hub.session_changed(me.person.id);
}

/// `POST /account/passkey/start`: the options for `navigator.credentials.create`.
pub async fn passkey_start(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
) -> Response {
    let me = match poster(&state, &jar, peer).await {
        Ok(me) => me,
        Err(_) => return json_error(StatusCode::FORBIDDEN, "sign in first"),
    };
    let nick = me.person.nick();
    match state
        .passkeys
        .start_registration(&state.store, me.person.id.get(), &nick)
        .await
    {
        Ok((ceremony, options)) => {
            Json(serde_json::json!({ "ceremony": ceremony, "options": options })).into_response()
        }
        Err(err) => json_error(StatusCode::BAD_REQUEST, &err.to_string()),
    }
}

#[derive(Debug, Deserialize)]
pub struct NewPasskey {
    ceremony: String,
    credential: RegisterPublicKeyCredential,
}

/// `POST /account/passkey/finish`: stores the new passkey.
pub async fn passkey_finish(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    Json(new): Json<NewPasskey>,
) -> Response {
    let me = match poster(&state, &jar, peer).await {
        Ok(me) => me,
        Err(_) => return json_error(StatusCode::FORBIDDEN, "sign in first"),
    };
    let added = state
        .passkeys
        .finish_registration(
            &state.store,
            me.person.id.get(),
            &new.ceremony,
            &new.credential,
        )
        .await;
    match added {
        Ok(()) => {
            secured(&state, &me);
            Json(serde_json::json!({ "to": "/account?done=passkey" })).into_response()
        }
        Err(err) => json_error(StatusCode::BAD_REQUEST, &err.to_string()),
    }
}

#[derive(Debug, Deserialize)]
pub struct RemovePasskey {
    #[serde(default)]
    id: i64,
}

/// `POST /account/passkey/remove`.
pub async fn passkey_remove(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    Form(form): Form<RemovePasskey>,
) -> Response {
    let me = match poster(&state, &jar, peer).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    match state
        .store
        .accounts()
        .remove_passkey(me.person.id.get(), form.id)
        .await
    {
        Ok(_) => Redirect::to("/account?done=passkey_removed").into_response(),
        Err(err) => {
            tracing::error!(%err, "removing a passkey failed");
            unavailable()
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    #[serde(default)]
    session: i64,
}

/// `POST /account/signout`: one device; this one leaves the browser signed out.
pub async fn sign_out_device(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    Form(form): Form<SignOutForm>,
) -> Response {
    let me = match poster(&state, &jar, peer).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    if !sign_out(&state, me.person.id, &[form.session]).await {
        return unavailable();
    }
    if form.session == me.session.get() {
        let jar = jar.remove(Cookie::build(COOKIE).path("/"));
        return (jar, Redirect::to("/login?error=signed_out")).into_response();
    }
    Redirect::to("/account?done=signed_out").into_response()
}

/// `POST /account/signout-others`: every device but this one.
pub async fn sign_out_others(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
) -> Response {
    let me = match poster(&state, &jar, peer).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    if !sign_out_where(&state, me.person.id, SignOut::AllBut(me.session.get())).await {
        return unavailable();
    }
    Redirect::to("/account?done=signed_out").into_response()
}

/// `POST /account/link`: a one-time link that signs another device in as this person.
pub async fn link(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let me = match poster(&state, &jar, peer).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let (secret, digest) = token::generate();
    let now = now_rfc3339();
    let made = state
        .store
        .accounts()
        .create_device_link(
            &token::hex(&digest),
            me.person.id.get(),
            (&now, &rfc3339_in(LINK_TTL)),
        )
        .await;
    if let Err(err) = made {
        tracing::error!(%err, "storing a device link failed");
        return unavailable();
    }
    let url = format!("{}/link/{secret}", origin(&state, &headers));
    let qr = qr_svg(&url);
    let body = format!(
        "<p>Open this link on the device to sign in (once, within {} minutes):</p>\
         <p><a id=\"device-link\" href=\"{url}\">{url}</a></p><div class=\"qr\">{qr}</div>\
         <p><a href=\"/account\">Back to your account</a></p>",
        LINK_TTL.as_secs() / 60,
        url = escape(&url),
    );
    page(StatusCode::OK, "Link a device", &body)
}

/// The chat's address as people open it: the configured public one, else this request's host.
pub fn origin(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.http.public_url {
        return url.as_str().trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost");
    let https = headers
        .get("x-forwarded-proto")
        .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"));
    format!("{}://{host}", if https { "https" } else { "http" })
}

/// `text` as a QR code, an inline SVG.
fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

#[derive(Debug, Deserialize)]
pub struct InviteForm {
    #[serde(default = "one")]
    uses: u32,
    #[serde(default = "week")]
    days: u32,
}

fn one() -> u32 {
    1
}

fn week() -> u32 {
    7
}

/// `POST /account/invite` (moderators): an invitation link.
pub async fn invite(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<InviteForm>,
) -> Response {
    let me = match poster(&state, &jar, peer).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    // The store's word: a moderator revoked by `chinwag admin` makes no invitations.
    if !state
        .store
        .moderation()
        .is_moderator(me.person.id.get())
        .await
        .unwrap_or(false)
    {
        return page(
            StatusCode::FORBIDDEN,
            "Moderators only",
            "<p>Only moderators make invitations. <a href=\"/account\">Back</a></p>",
        );
    }
    let uses = form.uses.clamp(1, 1000);
    let days = form.days.clamp(1, 90);
    let (secret, digest) = token::generate();
    let now = now_rfc3339();
    let until = rfc3339_in(Duration::from_secs(u64::from(days) * 86_400));
    let made = state
        .store
        .accounts()
        .create_invite(
            &token::hex(&digest),
            &me.person.nick(),
            uses,
            (&now, &until),
        )
        .await;
    if let Err(err) = made {
        tracing::error!(%err, "storing an invitation failed");
        return unavailable();
    }
    let url = format!("{}/invite/{secret}", origin(&state, &headers));
    let body = format!(
        "<p>This link lets {uses} new {} join, until {}:</p>\
         <p><a id=\"invite-link\" href=\"{url}\">{url}</a></p>\
         <p><a href=\"/account\">Back to your account</a></p>",
        if uses == 1 { "person" } else { "people" },
        readable(&until),
        url = escape(&url),
    );
    page(StatusCode::OK, "Invitation", &body)
}

#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    messages: String,
    #[serde(default)]
    current_password: String,
}

/// `POST /account/delete`: deletes the person, and signs every device of theirs out.
pub async fn delete(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    Form(form): Form<DeleteForm>,
) -> Response {
    let me = match poster(&state, &jar, peer).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let id = me.person.id;
    let typed = crate::server::session::nick::normalize(&form.confirm).map(|n| n.key);
    if typed.as_deref() != Ok(me.person.nick_key().as_str()) {
        return Redirect::to("/account?error=confirm").into_response();
    }
    match current_password(&state, id.get(), &form.current_password).await {
        Ok(true) => {}
        Ok(false) => return Redirect::to("/account?error=wrong_password").into_response(),
        Err(response) => return response,
    }
    let keep = form.messages != "delete";
    let now = now_rfc3339();
    let deleted = match state
        .store
        .accounts()
        .delete_person(id.get(), keep, &now)
        .await
    {
        Ok(deleted) => deleted,
        Err(err) => {
            tracing::error!(%err, "deleting a person failed");
            return unavailable();
        }
    };
    let origin = state.hub.connection_id();
    for change in &deleted.changes {
        if let crate::protocol::Stored::Deleted(c) = change {
            state.hub.deliver_change(&c.room, origin, change);
        }
    }
    // Every server ends their connections (this one at once; the others by the store's event).
    let noted = state
        .store
        .moderation()
        .admin_event(
            "person_deleted",
            &id.get().to_string(),
            "",
            &now,
            &crate::server::clock::rfc3339_ago(crate::server::admin::EVENTS_KEPT),
        )
        .await;
    if let Err(err) = noted {
        tracing::warn!(%err, "telling the other servers of a deletion failed");
    }
    state.sessions.cache().forget_person(id);
    state.hub.presence().end_sessions(
        id,
        None,
        crate::protocol::ErrorCode::SignedOut,
        ("this person was deleted", "signed out"),
    );
    tracing::info!(person = id.get(), keep, "a person deleted themselves");
    let jar = jar.remove(Cookie::build(COOKIE).path("/"));
    (
        jar,
        page(
            StatusCode::OK,
            "Deleted",
            "<p>You are deleted from this chat. <a href=\"/\">Start again</a></p>",
        ),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::device_name;

    #[test]
    fn devices_are_named_by_browser_and_system() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(device_name(Some(firefox)), "Firefox on Linux");
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like \
                    Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";
        assert_eq!(device_name(Some(edge)), "Edge on Windows");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
        assert_eq!(device_name(Some(iphone)), "Safari on iOS");
        let android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like \
                       Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";
        assert_eq!(device_name(Some(android)), "Chrome on Android");
        assert_eq!(device_name(Some("curl/8.5.0")), "A program");
        assert_eq!(device_name(None), "Unknown device");
    }
}
