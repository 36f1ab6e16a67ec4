//! The HTTP side's flags, shared by `run` and `demo`: where it listens, who may talk
//! to it, and the browser stream's limits.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use chainboard_server::{ServerConfig, StreamLimits};

use super::run::positive_secs;

/// Flags of the web UI, API and stream.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct HttpArgs {
    /// Where the web UI and the API listen.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,
    /// Also answer requests whose Host is this (a name or name:port, or '*' for any);
    /// repeat or separate with commas. The loopback names are always accepted.
    #[arg(long, value_delimiter = ',')]
    allowed_host: Vec<String>,
    /// Also accept requests from pages of this origin (scheme://host[:port]), e.g. the
    /// public name a reverse proxy serves chainboard under; repeat or separate with
    /// commas.
    #[arg(long, value_delimiter = ',')]
    allowed_origin: Vec<String>,
    /// Require this token on the API, the stream and /metrics (Authorization: Bearer,
    /// or ?token= on the stream). At least 16 characters.
    #[arg(long, env = "CHAINBOARD_AUTH_TOKEN", hide_env_values = true)]
    auth_token: Option<String>,
    /// Read the token from this file (its first line) instead.
    #[arg(long, value_name = "FILE", conflicts_with = "auth_token")]
    auth_token_file: Option<PathBuf>,
    /// Browser streams open at once; one more is closed with 1013.
    #[arg(long, default_value_t = StreamLimits::default().max_clients)]
    max_stream_clients: usize,
    /// MiB of documents queued or being written for one stream client before it is
    /// dropped as slow (the documents are shared; this bounds how many old ones a
    /// slow client holds).
    #[arg(long, default_value_t = StreamLimits::default().queue_bytes >> 20)]
    stream_queue_mib: usize,
    /// At most one set of full documents per stream client per this many seconds on
    /// request (`{"type":"resync"}`).
    #[arg(long, default_value_t = StreamLimits::default().resync_every.as_secs_f64())]
    resync_secs: f64,
}

impl Default for HttpArgs {
    fn default() -> Self {
        let limits = StreamLimits::default();
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            allowed_host: Vec::new(),
            allowed_origin: Vec::new(),
            auth_token: None,
            auth_token_file: None,
            max_stream_clients: limits.max_clients,
            stream_queue_mib: limits.queue_bytes >> 20,
            resync_secs: limits.resync_every.as_secs_f64(),
        }
    }
}

impl HttpArgs {
    /// The server's configuration, or an error naming the flag (the service adds the
    /// loopback names with the port it is bound to). Warns when the listener is
    /// reachable from other machines and no token is required.
    pub(crate) fn config(&self) -> Result<ServerConfig> {
        let mut config = ServerConfig {
            stream: StreamLimits::default(),
            access: Default::default(),
        };
        for host in &self.allowed_host {
            config.access.allow_host(host)?;
        }
        for origin in &self.allowed_origin {
            config.access.allow_origin(origin)?;
        }
        let token = match &self.auth_token_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .with_context(|| format!("--auth-token-file: cannot read {}", path.display()))?
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            ),
            None => self.auth_token.clone(),
        };
        if let Some(token) = token {
            config.access.require_token(&token)?;
        }
        if !(1..=1_000_000).contains(&self.max_stream_clients) {
            bail!(
                "--max-stream-clients: expected 1 to 1000000, got {}",
                self.max_stream_clients
            );
        }
        if !(1..=4_096).contains(&self.stream_queue_mib) {
            bail!(
                "--stream-queue-mib: expected 1 to 4096, got {}",
                self.stream_queue_mib
            );
        }
        config.stream = StreamLimits {
            max_clients: self.max_stream_clients,
            queue_bytes: self.stream_queue_mib << 20,
            resync_every: positive_secs("--resync-secs", self.resync_secs)?,
            ..StreamLimits::default()
        };
        if !self.listen.ip().is_loopback() && !config.access.has_token() {
            tracing::warn!(
                listen = %self.listen,
                "listening beyond loopback without a token: anyone who can reach this address \
                 can read the board; set CHAINBOARD_AUTH_TOKEN (or --auth-token-file) and put \
                 TLS in front (see the README's security section)"
            );
        }
        Ok(config)
    }
}
