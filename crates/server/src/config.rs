//! How the HTTP side limits and guards itself: the stream's per-client bounds and the
//! access rules (which hosts and origins may talk to it, and the token).
//!
//! The defaults make the bundled UI work on a loopback listener and nothing else:
//! a page on another site cannot open the stream or read the API (the Origin check),
//! and a rebinding DNS name pointing at 127.0.0.1 cannot either (the Host check).

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// Everything the server is configured with beyond what it serves.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The browser stream's bounds.
    pub stream: StreamLimits,
    /// Who may talk to the server.
    pub access: Access,
}

impl ServerConfig {
    /// The defaults for a server listening on `bound`.
    pub fn for_listen(bound: SocketAddr) -> Self {
        let mut access = Access::default();
        access.listening_on(bound);
        Self {
            stream: StreamLimits::default(),
            access,
        }
    }
}

/// Bounds of the browser stream (see [`crate::stream`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Streams open at once; one more is closed at once with 1013.
    pub max_clients: usize,
    /// Documents queued or being written for one client before it counts as slow.
    pub queue_frames: usize,
    /// Bytes queued or being written for one client before it counts as slow. The bytes are shared by
    /// every client, so this bounds how many old documents a slow client keeps alive,
    /// not a copy. A document is always accepted into an empty queue, whatever its
    /// size.
    pub queue_bytes: usize,
    /// At most one set of full documents per client per this long on request
    /// (`{"type":"resync"}`); a request within it is answered when it ends.
    pub resync_every: Duration,
}

impl Default for StreamLimits {
    fn default() -> Self {
        Self {
            max_clients: 1_024,
            queue_frames: 16,
            queue_bytes: 8 << 20,
            resync_every: Duration::from_secs(5),
        }
    }
}

/// Which requests the server answers (see [`crate::access`]).
#[derive(Clone, Default)]
pub struct Access {
    /// Accepted `Host` header values, lower case, `host` or `host:port`. Empty: any
    /// (`--allowed-host '*'`).
    pub(crate) hosts: Vec<String>,
    /// Cross-site origins accepted besides the server's own (`scheme://host[:port]`,
    /// lower case).
    pub(crate) origins: Vec<String>,
    /// Whether any `Host` is accepted.
    pub(crate) any_host: bool,
    /// The token every API, stream and metrics request must carry, when set.
    pub(crate) token: Option<String>,
}

impl fmt::Debug for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Access")
            .field("hosts", &self.hosts)
            .field("origins", &self.origins)
            .field("any_host", &self.any_host)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// A rejected access setting.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// `--allowed-origin` is not `scheme://host[:port]`.
    #[error(
        "--allowed-origin: expected scheme://host[:port] (e.g. https://board.example), got {0:?}"
    )]
    Origin(String),
    /// `--allowed-host` is not a host name or `host:port`.
    #[error("--allowed-host: expected a host name, host:port or '*', got {0:?}")]
    Host(String),
    /// The token is too short to be a secret.
    #[error("--auth-token: use at least 16 characters (e.g. `openssl rand -hex 32`)")]
    ShortToken,
}

impl Access {
    /// Accepts the loopback names (`localhost`, `127.0.0.1`, `[::1]`) with and
    /// without the port of `bound` (the address the listener got: with `--listen
    /// 127.0.0.1:0`, the port the system chose), and that address itself when it is a
    /// specific one.
    pub fn listening_on(&mut self, bound: SocketAddr) {
        let port = bound.port();
        let mut names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "[::1]".to_owned(),
        ];
        let ip = bound.ip();
        if !ip.is_unspecified() && !ip.is_loopback() {
            names.push(match ip {
                std::net::IpAddr::V4(v4) => v4.to_string(),
                std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            });
        }
        for name in names {
            for host in [format!("{name}:{port}"), name] {
                if !self.hosts.contains(&host) {
                    self.hosts.push(host);
                }
            }
        }
    }

    /// Accepts `Host: host` (a name, `host:port`, or `*` for any).
    pub fn allow_host(&mut self, host: &str) -> Result<(), AccessError> {
        let host = host.trim().to_ascii_lowercase();
        if host == "*" {
            self.any_host = true;
            return Ok(());
        }
        let valid = !host.is_empty()
            && host.len() <= 255
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b));
        if !valid {
            return Err(AccessError::Host(host));
        }
        if !self.hosts.contains(&host) {
            self.hosts.push(host);
        }
        Ok(())
    }

    /// Accepts requests from pages of `origin` (`scheme://host[:port]`), and that
    /// origin's host as a `Host`.
    pub fn allow_origin(&mut self, origin: &str) -> Result<(), AccessError> {
        let bad = || AccessError::Origin(origin.to_owned());
        let url = url::Url::parse(origin.trim()).map_err(|_| bad())?;
        let host = url.host_str().ok_or_else(bad)?;
        let plain = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
        if !plain || !url.username().is_empty() || !matches!(url.scheme(), "http" | "https") {
            return Err(bad());
        }
        // `Url` drops a scheme's default port, as browsers do in `Origin`.
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let normal = format!("{}://{authority}", url.scheme());
        if !self.origins.contains(&normal) {
            self.origins.push(normal);
        }
        self.allow_host(&authority).map_err(|_| bad())
    }

    /// Requires `token` on every API, stream and metrics request.
    pub fn require_token(&mut self, token: &str) -> Result<(), AccessError> {
        let token = token.trim();
        if token.len() < 16 {
            return Err(AccessError::ShortToken);
        }
        self.token = Some(token.to_owned());
        Ok(())
    }

    /// Whether a token is required.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }
}
