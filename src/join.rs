//! `POST /join`: the nickname form. It works without JavaScript: a plain form post creates a session,
//! sets its cookie and redirects back to the chat; a refused name redirects back to the form with the
//! error code and the name typed, so the page can say what was wrong.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use crate::session::COOKIE;
use crate::state::AppState;

/// How long the browser keeps the session cookie. The server may forget an idle name sooner; the
/// cookie then leads back to the form.
const COOKIE_DAYS: i64 = 365;

#[derive(Debug, Deserialize)]
pub struct JoinForm {
    #[serde(default)]
    nick: String,
}

pub async fn join(
    State(state): State<AppState>,
    jar: CookieJar,
    Form(form): Form<JoinForm>,
) -> Response {
    match state.sessions.create(&form.nick) {
        Ok(session) => {
            let cookie = Cookie::build((COOKIE, session.token))
                .path("/")
                .http_only(true)
                .same_site(SameSite::Lax)
                .max_age(time::Duration::days(COOKIE_DAYS))
                .build();
            (jar.add(cookie), Redirect::to("/")).into_response()
        }
        Err(err) => {
            let code = serde_json::to_value(err.code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let query = serde_urlencoded::to_string([("error", code), ("nick", form.nick)])
                .unwrap_or_default();
            Redirect::to(&format!("/?{query}")).into_response()
        }
    }
}
