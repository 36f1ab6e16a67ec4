//! The web UI's files, compiled into the binary from `web/`.
//!
//! The UI is plain ES modules, canvas and CSS with no build step, so the files in the
//! repository are the files served; compiling them in makes the binary the whole
//! product (no asset directory to ship, no request to another host).

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `(name, content type, body)` of every file under `web/` (`selftest.*` runs the UI's
/// own unit tests in a browser: `/selftest.html`).
const FILES: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../../web/index.html"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../../web/style.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/app.js"),
    ),
    (
        "stream.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/stream.js"),
    ),
    (
        "heatmap.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/heatmap.js"),
    ),
    (
        "profile.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/profile.js"),
    ),
    (
        "timeline.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/timeline.js"),
    ),
    (
        "format.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/format.js"),
    ),
    (
        "flow.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/flow.js"),
    ),
    (
        "levels.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/levels.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/api.js"),
    ),
    (
        "selftest.html",
        "text/html; charset=utf-8",
        include_str!("../../../web/selftest.html"),
    ),
    (
        "selftest.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../web/selftest.js"),
    ),
];

fn respond(name: &str) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => {
            let mut response = (*body).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            // The files change with the binary: let a browser revalidate each load.
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// `GET /`.
pub(crate) async fn index() -> Response {
    respond("index.html")
}

/// `GET /{file}`: one of the UI's files.
pub(crate) async fn file(Path(name): Path<String>) -> Response {
    respond(&name)
}
