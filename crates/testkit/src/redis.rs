//! A throwaway `redis-server` per test.
//!
//! Each Redis test gets its own server on a free loopback port, so tests run in
//! parallel without sharing keys and can stop, freeze and restart their server to
//! stage an outage. With `REDIS_URL` set, that server is used instead (keys are then
//! kept apart by per-test prefixes, and outage tests are skipped). A missing
//! `redis-server` fails the test: CI installs it, and a Redis suite that silently
//! passes proves nothing.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a fresh server gets to answer PING.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A `redis-server` child process (or the external `REDIS_URL`), killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
    /// `REDIS_URL`, when the server is not ours.
    external: Option<String>,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers PING, or uses
    /// `REDIS_URL`. Panics with the reason if neither is possible.
    pub fn start() -> Self {
        if let Ok(url) = std::env::var("REDIS_URL") {
            return Self {
                port: 0,
                child: None,
                external: Some(url),
            };
        }
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port();
            match spawn(port) {
                Ok(child) => {
                    return Self {
                        port,
                        child: Some(child),
                        external: None,
                    };
                }
                // Most likely someone took the port between our probe and the start.
                Err(e) => last_error = e,
            }
        }
        panic!("could not start redis-server: {last_error}");
    }

    /// The URL to connect to.
    pub fn url(&self) -> String {
        match &self.external {
            Some(url) => url.clone(),
            None => format!("redis://127.0.0.1:{}/", self.port),
        }
    }

    /// Whether this is a shared server we must not stop (`REDIS_URL`).
    pub fn is_external(&self) -> bool {
        self.external.is_some()
    }

    /// Kills the server (SIGKILL: connections drop as in a crash).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing answers.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Thaws a [`RedisServer::pause`]d server (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("a server we started");
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} failed: {status}");
    }

    /// Starts the server again on the same port.
    pub fn restart(&mut self) {
        assert!(!self.is_external(), "cannot restart REDIS_URL");
        self.stop();
        let mut last_error = String::new();
        // The port may linger briefly after the kill; keep trying for a while.
        for _ in 0..20 {
            match spawn(self.port) {
                Ok(child) => {
                    self.child = Some(child);
                    return;
                }
                Err(e) => {
                    last_error = e;
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
        panic!(
            "could not restart redis-server on port {}: {last_error}",
            self.port
        );
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port nobody listened on a moment ago.
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// Launches `redis-server` on `port` and waits for PING.
fn spawn(port: u16) -> Result<Child, String> {
    spawn_with(port, &[])
}

/// Launches `redis-server` on `port` with `extra` arguments and waits for PING.
pub(crate) fn spawn_with(port: u16, extra: &[&str]) -> Result<Child, String> {
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string()])
        .args(extra)
        .args(["--bind", "127.0.0.1"])
        .args(["--save", ""])
        .args(["--appendonly", "no"])
        .args(["--loglevel", "warning"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                panic!(
                    "redis-server is not installed (or not on PATH); install it \
                     (apt-get install redis-server) or set REDIS_URL: the Redis tests \
                     must not pass without a Redis"
                );
            }
            format!("spawn redis-server: {e}")
        })?;
    let started = Instant::now();
    while started.elapsed() < START_TIMEOUT {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("redis-server on port {port} exited with {status}"));
        }
        if pings(port) {
            return Ok(child);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    Err(format!("redis-server on port {port} did not answer PING"))
}

/// Whether something on `port` answers `PING` with `+PONG`.
fn pings(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0_u8; 7];
    stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}

/// A key prefix no other test (or earlier run against `REDIS_URL`) uses.
pub fn unique_prefix(test: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "test:{test}:{}-{nanos}-{}:",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
