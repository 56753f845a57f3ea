//! The moderators' pages, plain server-rendered HTML (no wasm: moderators are few, and the chat
//! page's weight is everyone's).
//!
//! - `GET /moderator/{token}`: what a one-time link from `chinwag admin moderator-link` opens: a
//!   button that makes this browser's session a moderator. A GET changes nothing (link previews
//!   and prefetchers open links too).
//! - `POST /moderator`: spends the link and makes the session a moderator (same-origin only, and
//!   counted against the address like every form).
//! - `GET /moderation`: for moderators, the audit log and the mutes and bans in force.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::html::{escape, page};
use crate::server::clock::now_rfc3339;
use crate::server::session::{token, Person, COOKIE};
use crate::server::state::AppState;
use crate::server::store::moderation::MAX_AUDIT_PAGE;
use crate::server::store::SanctionKind;

/// `GET /moderator/{token}`.
pub async fn link(jar: CookieJar, Path(token): Path<String>) -> Response {
    if jar.get(COOKIE).is_none() {
        return page(
            StatusCode::OK,
            "Become a moderator",
            "<p>Pick a nickname first (<a href=\"/\">open the chat</a>), then open this link again \
             in the same browser. The link is still unused.</p>",
        );
    }
    let body = format!(
        "<p>This one-time link makes the session of this browser a moderator of this chat: it \
         may then delete any message, mute and ban people, and read the moderation log.</p>\
         <form method=\"post\" action=\"/moderator\">\
         <input type=\"hidden\" name=\"token\" value=\"{}\">\
         <button type=\"submit\">Make me a moderator</button></form>",
        escape(&token)
    );
    page(StatusCode::OK, "Become a moderator", &body)
}

#[derive(Debug, Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    token: String,
}

/// `POST /moderator`.
pub async fn claim(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    Form(form): Form<LinkForm>,
) -> Response {
    if state.addresses.forms.check(peer.ip()).is_err() {
        state.metrics.refused("forms_per_address");
        return page(
            StatusCode::TOO_MANY_REQUESTS,
            "Slow down",
            "<p>Too many tries from here; wait a moment and try again.</p>",
        );
    }
    let Some(session) = session(&state, &jar).await else {
        return page(
            StatusCode::FORBIDDEN,
            "No session",
            "<p>Pick a nickname first (<a href=\"/\">open the chat</a>), then open the link again.</p>",
        );
    };
    let hash = token::hex(&token::digest(&form.token));
    let used = state
        .store
        .moderation()
        .use_moderator_link(&hash, session.id.get(), &session.nick(), &now_rfc3339())
        .await;
    match used {
        Ok(true) => {
            session.update_standing(|s| s.moderator = true);
            // Its tabs on other servers learn it from the store.
            state.hub.session_changed(session.id);
            tracing::info!(person = session.id.get(), "someone became a moderator");
            Redirect::to("/").into_response()
        }
        Ok(false) => page(
            StatusCode::GONE,
            "Link used or expired",
            "<p>This link was used already, or it has expired. Ask the server's operator for a \
             new one (<code>chinwag admin moderator-link</code>).</p>",
        ),
        Err(err) => {
            tracing::error!(%err, "using a moderator link failed");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "<p>The server cannot reach its store right now. Try again in a moment.</p>",
            )
        }
    }
}

/// `GET /moderation`.
pub async fn log(State(state): State<AppState>, jar: CookieJar) -> Response {
    let Some(session) = session(&state, &jar).await else {
        return forbidden();
    };
    let store = &state.store;
    // The store's word, not the cache's: a moderator revoked by `chinwag admin` sees nothing.
    if !store
        .moderation()
        .is_moderator(session.id.get())
        .await
        .unwrap_or(false)
    {
        return forbidden();
    }
    let now = now_rfc3339();
    let (entries, bans, mutes) = match tokio::try_join!(
        store.moderation().audit_log(None, MAX_AUDIT_PAGE),
        store
            .moderation()
            .sanctions_in_force(SanctionKind::Ban, &now),
        store
            .moderation()
            .sanctions_in_force(SanctionKind::Mute, &now),
    ) {
        Ok(read) => read,
        Err(err) => {
            tracing::error!(%err, "reading the moderation log failed");
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "<p>The server cannot reach its store right now.</p>",
            );
        }
    };
    let mut body = String::from("<p><a href=\"/\">Back to the chat</a></p>");
    for (title, list) in [("Bans in force", &bans), ("Mutes in force", &mutes)] {
        body.push_str(&format!("<h2>{title}</h2>"));
        if list.is_empty() {
            body.push_str("<p>None.</p>");
            continue;
        }
        body.push_str("<table><tr><th>Who</th><th>Until</th><th>By</th><th>Why</th></tr>");
        for s in list.iter() {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&s.nick),
                escape(&s.until),
                escape(&s.by),
                escape(&s.reason)
            ));
        }
        body.push_str("</table>");
    }
    body.push_str(&format!(
        "<h2>Audit log</h2><p>The latest {MAX_AUDIT_PAGE} actions, newest first.</p>\
         <table id=\"audit\"><tr><th>When</th><th>Who</th><th>What</th><th>On whom</th>\
         <th>Details</th></tr>"
    ));
    for e in &entries {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&e.at),
            escape(&e.by),
            escape(&e.action),
            escape(&e.target),
            escape(&e.detail)
        ));
    }
    body.push_str("</table>");
    page(StatusCode::OK, "Moderation", &body)
}

fn forbidden() -> Response {
    page(
        StatusCode::FORBIDDEN,
        "Moderators only",
        "<p>This page is for moderators. <a href=\"/\">Back to the chat</a></p>",
    )
}

/// The person the cookie names, if any.
async fn session(state: &AppState, jar: &CookieJar) -> Option<std::sync::Arc<Person>> {
    let token = jar.get(COOKIE)?.value().to_owned();
    let found = state.sessions.lookup(&token).await.ok().flatten()?;
    Some(found.person)
}
