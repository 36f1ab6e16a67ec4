use std::net::SocketAddr;

use axum::http::{HeaderMap, HeaderValue, Uri, header};
use proptest::prelude::*;

use super::{Denied, check, same_secret};
use crate::config::Access;

const TOKEN: &str = "0123456789abcdef0123";

fn loopback() -> Access {
    let mut access = Access::default();
    access.listening_on(SocketAddr::from(([127, 0, 0, 1], 8080)));
    access
}

fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.insert(k.clone(), HeaderValue::from_str(v).expect("header"));
    }
    map
}

fn uri(s: &str) -> Uri {
    s.parse().expect("uri")
}

#[test]
fn the_bundled_ui_on_loopback_is_let_through() {
    let access = loopback();
    for host in [
        "127.0.0.1:8080",
        "localhost:8080",
        "[::1]:8080",
        "LOCALHOST:8080",
    ] {
        let origin = format!("http://{host}");
        let h = headers(&[(header::HOST, host), (header::ORIGIN, &origin)]);
        assert_eq!(
            check(&access, &uri("/api/v1/stream/SPX"), &h),
            Ok(()),
            "{host}"
        );
    }
    // A request without an Origin (curl, a same-origin GET) needs only the Host.
    let h = headers(&[(header::HOST, "127.0.0.1:8080")]);
    assert_eq!(check(&access, &uri("/metrics"), &h), Ok(()));
}

#[test]
fn another_site_and_a_rebinding_name_are_refused() {
    let access = loopback();
    let foreign = headers(&[
        (header::HOST, "127.0.0.1:8080"),
        (header::ORIGIN, "http://evil.example"),
    ]);
    assert_eq!(
        check(&access, &uri("/api/v1/stream/SPX"), &foreign),
        Err(Denied::Origin)
    );
    let rebound = headers(&[
        (header::HOST, "evil.example:8080"),
        (header::ORIGIN, "http://evil.example:8080"),
    ]);
    assert_eq!(
        check(&access, &uri("/api/v1/gex/SPX"), &rebound),
        Err(Denied::Host)
    );
    let null = headers(&[(header::HOST, "127.0.0.1:8080"), (header::ORIGIN, "null")]);
    assert_eq!(
        check(&access, &uri("/api/v1/gex/SPX"), &null),
        Err(Denied::Origin)
    );
    assert_eq!(
        check(&access, &uri("/"), &HeaderMap::new()),
        Err(Denied::Host)
    );
    // Another port on the same machine is another origin.
    let port = headers(&[
        (header::HOST, "127.0.0.1:8080"),
        (header::ORIGIN, "http://127.0.0.1:9999"),
    ]);
    assert_eq!(
        check(&access, &uri("/api/v1/gex/SPX"), &port),
        Err(Denied::Origin)
    );
}

#[test]
fn configured_origins_and_hosts_are_let_through() {
    let mut access = loopback();
    access
        .allow_origin("https://Board.Example")
        .expect("origin");
    access.allow_host("wall.example:8080").expect("host");
    let proxied = headers(&[
        (header::HOST, "board.example"),
        (header::ORIGIN, "https://board.example"),
    ]);
    assert_eq!(check(&access, &uri("/api/v1/gex/SPX"), &proxied), Ok(()));
    let cross = headers(&[
        (header::HOST, "127.0.0.1:8080"),
        (header::ORIGIN, "https://board.example"),
    ]);
    assert_eq!(check(&access, &uri("/api/v1/gex/SPX"), &cross), Ok(()));
    let wall = headers(&[(header::HOST, "wall.example:8080")]);
    assert_eq!(check(&access, &uri("/"), &wall), Ok(()));
    for bad in [
        "board.example",
        "ftp://x.example",
        "https://x.example/path",
        "https://u@x.example",
    ] {
        assert!(access.allow_origin(bad).is_err(), "{bad}");
    }
    for bad in ["", "a b", "x/y", "évil"] {
        assert!(access.allow_host(bad).is_err(), "{bad:?}");
    }
    access.allow_host("*").expect("any");
    let any = headers(&[(header::HOST, "anything.example")]);
    assert_eq!(check(&access, &uri("/api/v1/gex/SPX"), &any), Ok(()));
}

#[test]
fn a_token_is_required_where_market_data_is() {
    let mut access = loopback();
    assert!(access.require_token("short").is_err());
    access.require_token(TOKEN).expect("token");
    let host = (header::HOST, "127.0.0.1:8080");
    let bare = headers(std::slice::from_ref(&host));
    for open in ["/", "/app.js", "/healthz", "/readyz"] {
        assert_eq!(check(&access, &uri(open), &bare), Ok(()), "{open}");
    }
    for guarded in [
        "/api/v1/symbols",
        "/api/v1/gex/SPX",
        "/metrics",
        "/api/v1/stream/SPX",
    ] {
        assert_eq!(
            check(&access, &uri(guarded), &bare),
            Err(Denied::Token),
            "{guarded}"
        );
    }
    let bearer = format!("Bearer {TOKEN}");
    let good = headers(&[host.clone(), (header::AUTHORIZATION, &bearer)]);
    assert_eq!(check(&access, &uri("/metrics"), &good), Ok(()));
    let wrong = headers(&[
        host.clone(),
        (header::AUTHORIZATION, "Bearer 0123456789abcdef0124"),
    ]);
    assert_eq!(check(&access, &uri("/metrics"), &wrong), Err(Denied::Token));
    // The query form is for the stream only.
    let streamed = uri(&format!("/api/v1/stream/SPX?token={TOKEN}"));
    assert_eq!(check(&access, &streamed, &bare), Ok(()));
    let queried = uri(&format!("/api/v1/gex/SPX?token={TOKEN}"));
    assert_eq!(check(&access, &queried, &bare), Err(Denied::Token));
}

#[test]
fn secrets_compare_by_content() {
    assert!(same_secret(b"abc", b"abc"));
    assert!(!same_secret(b"abc", b"abd"));
    assert!(!same_secret(b"abc", b"abcd"));
    assert!(!same_secret(b"", b"a"));
}

proptest! {
    /// Any path, query and header values: a verdict, never a panic; a foreign Host
    /// is never let through. (A fuzz suite: `PROPTEST_CASES` sets its length, see
    /// the README.)
    #[test]
    fn fuzz_any_request_gets_a_verdict(
        path in "/[ -~]{0,40}",
        query in proptest::option::of("[ -~]{0,40}"),
        host in proptest::option::of("[ -~]{0,30}"),
        origin in proptest::option::of("[ -~]{0,30}"),
        auth in proptest::option::of("[ -~]{0,40}"),
        token in any::<bool>(),
    ) {
        let mut access = loopback();
        if token {
            access.require_token(TOKEN).expect("token");
        }
        let raw = match &query {
            Some(q) => format!("{path}?{q}"),
            None => path.clone(),
        };
        let Ok(uri) = raw.parse::<Uri>() else { return Ok(()) };
        let mut map = HeaderMap::new();
        for (name, value) in [(header::HOST, &host), (header::ORIGIN, &origin), (header::AUTHORIZATION, &auth)] {
            if let Some(v) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
                map.insert(name, v);
            }
        }
        let verdict = check(&access, &uri, &map);
        if verdict.is_ok() {
            let sent = map.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_ascii_lowercase);
            prop_assert!(sent.is_some_and(|h| access.hosts.contains(&h)), "{:?} let through", host);
        }
    }
}
