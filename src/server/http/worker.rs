//! The service worker, `/sw.js`: the site's root scope, so the page can be installed as an app
//! and a repeat visit loads the client's files from the browser's own cache. The script is
//! `sw.js` after two constants written here from the build's hash file: `BUILD` (this build's
//! name, which names its cache) and `ASSETS` (its hashed JavaScript, wasm and stylesheet). A new
//! build is a new script, so browsers install it and drop the old build's cache.
//!
//! Without hashed file names (`hash-files` off, as in some development setups) a file's name
//! does not say which build it is, so nothing is precached: only the offline page.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use leptos::config::LeptosOptions;

use crate::ui::chat_page::{client_files, ClientFiles};

/// The worker's body, after the constants.
const BODY: &str = include_str!("sw.js");

/// `GET /sw.js`.
pub async fn script(State(options): State<LeptosOptions>) -> Response {
    static SCRIPT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let script = SCRIPT.get_or_init(|| {
        let assets: Vec<&str> = if options.hash_files {
            let ClientFiles { js, wasm, css } = client_files(&options);
            vec![js, wasm, css]
        } else {
            Vec::new()
        };
        render(&assets)
    });
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            // Browsers check for a new worker on every visit; no cache in between may answer.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        script.clone(),
    )
        .into_response()
}

/// The script for a build whose hashed files are `assets`.
fn render(assets: &[&str]) -> String {
    // The build's name: a digest of its file names, which carry their contents' hashes.
    let mut build: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in assets.join("\n").bytes() {
        build = (build ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    let list = serde_json::to_string(assets).unwrap_or_else(|_| "[]".to_owned());
    format!("const BUILD = \"{build:016x}\";\nconst ASSETS = {list};\n{BODY}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_build_has_its_own_name_and_files() {
        let one = render(&["/pkg/chinwag.a1.js", "/pkg/chinwag.b2.wasm"]);
        let two = render(&["/pkg/chinwag.a1.js", "/pkg/chinwag.c3.wasm"]);
        assert!(one.contains(r#"const ASSETS = ["/pkg/chinwag.a1.js","/pkg/chinwag.b2.wasm"];"#));
        let name = |script: &str| script.lines().next().map(str::to_owned);
        assert_ne!(name(&one), name(&two));
        assert!(one.contains("self.addEventListener(\"fetch\""));
        assert!(render(&[]).contains("const ASSETS = [];"));
    }
}
