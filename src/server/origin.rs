//! Cross-site requests: which page origins may open a websocket or post a form.
//!
//! A browser always says where a request comes from (`Origin`, and `Sec-Fetch-Site`). The server's
//! own origin (an `Origin` whose host is the `Host` the request was sent to) and the configured
//! extra origins are allowed; anything else is refused with 403, so a cross-site page can neither
//! open a websocket with a visitor's cookie nor post a form as the visitor (for instance `POST
//! /join`, replacing the visitor's session with one the attacker named: login CSRF). Clients that
//! are not browsers send neither header and are let in: they cannot carry someone else's cookie.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::server::state::AppState;

/// Whether a request from the page at `Origin` is allowed.
pub fn allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes().eq_ignore_ascii_case(b"cross-site"))
        && headers.get(header::ORIGIN).is_none()
    {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim_end_matches('/');
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .split_once("://")
        .map(|(_, host)| host)
        .filter(|host| !host.contains('/'));
    matches!((host, origin_host), (Some(host), Some(origin_host)) if host.eq_ignore_ascii_case(origin_host))
}

/// Middleware for the form routes: a `POST` from another site's page gets 403.
pub async fn same_origin_posts(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::POST && !allowed(request.headers(), &state.http.allowed_origins)
    {
        state.metrics.refused("origin");
        return (
            StatusCode::FORBIDDEN,
            "this page's origin may not post to chinwag\n",
        )
            .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn the_servers_own_origin_and_configured_ones_pass() {
        let own = headers(&[
            ("host", "chat.example.com"),
            ("origin", "https://chat.example.com"),
        ]);
        assert!(allowed(&own, &[]));
        let other = headers(&[
            ("host", "chat.example.com"),
            ("origin", "https://evil.example"),
        ]);
        assert!(!allowed(&other, &[]));
        assert!(allowed(&other, &["https://evil.example".to_owned()]));
        assert!(
            allowed(&headers(&[("host", "x")]), &[]),
            "no Origin: not a browser"
        );
        let null = headers(&[("host", "x"), ("origin", "null")]);
        assert!(!allowed(&null, &[]), "an opaque origin");
        let cross = headers(&[("host", "x"), ("sec-fetch-site", "cross-site")]);
        assert!(
            !allowed(&cross, &[]),
            "a browser says cross-site without an Origin"
        );
    }
}
