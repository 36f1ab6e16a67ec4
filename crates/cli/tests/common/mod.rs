//! The processes the tests drive from outside: a `chainboard demo`, a throwaway
//! `redis-server`, and `chainboard fake-massive`.

#![allow(clippy::unwrap_used, dead_code)] // a fixture that fails to start is a failed test

use std::io::{BufRead, BufReader, Lines};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};

/// The demo binary on a free port; killed on drop.
pub(crate) struct Demo {
    child: Child,
    /// The rest of its standard output, kept open so that its summary can be written
    /// (and read) at shutdown.
    stdout: Option<Lines<BufReader<ChildStdout>>>,
    /// The service's base URL, without a trailing slash.
    pub(crate) url: String,
    /// The fake Massive's base URL (its control endpoints are under `/_fake/`).
    pub(crate) fake: String,
}

impl Demo {
    pub(crate) fn start() -> Self {
        Self::start_with(&[])
    }

    /// The demo with `extra` flags after the usual ones.
    pub(crate) fn start_with(extra: &[&str]) -> Self {
        // No --for-secs: a loaded CI machine must not see the demo end mid-test; drop
        // kills it. Its log goes next to the test binaries for a failure's diagnosis.
        let log = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("demo-{}.log", std::process::id()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_chainboard"))
            .args(["demo", "--listen", "127.0.0.1:0", "--refresh-secs", "2"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut url, mut fake) = (None, None);
        while url.is_none() {
            let line = lines.next().unwrap().unwrap();
            // "simulated Massive at http://… (faults: …)", "chainboard is serving http://…/"
            let link = line.split_whitespace().find(|w| w.starts_with("http://"));
            if line.starts_with("simulated Massive") {
                fake = link.map(str::to_owned);
            } else if line.starts_with("chainboard is serving") {
                url = link.map(|u| u.trim_end_matches('/').to_owned());
            }
        }
        Self {
            child,
            stdout: Some(lines),
            url: url.unwrap(),
            fake: fake.unwrap(),
        }
    }

    /// Sends SIGTERM (what systemd, Docker and Kubernetes send) and waits, up to
    /// `within`, for the process to exit; returns its status and the rest of its
    /// standard output.
    pub(crate) fn terminate(mut self, within: std::time::Duration) -> (ExitStatus, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = self.stdout.take().unwrap();
        std::thread::spawn(move || {
            let rest: Vec<String> = stdout.map_while(Result::ok).collect();
            let _ = tx.send(rest.join("\n"));
        });
        let rest = rx
            .recv_timeout(within)
            .unwrap_or_else(|_| panic!("still running {within:?} after SIGTERM"));
        let status = self.child.wait().unwrap();
        (status, rest)
    }
}

impl Demo {
    /// The service's resident memory, from `/proc/<pid>/status`.
    pub(crate) fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap();
        kib * 1024
    }

    /// Waits (up to `within`) until `/readyz` answers 200: every symbol has a snapshot.
    pub(crate) fn wait_ready(&self, within: std::time::Duration) {
        use std::io::{Read, Write};
        let address = self.url.trim_start_matches("http://").to_owned();
        let deadline = std::time::Instant::now() + within;
        loop {
            let status = std::net::TcpStream::connect(&address)
                .ok()
                .and_then(|mut s| {
                    let request = format!("GET /readyz HTTP/1.0\r\nHost: {address}\r\n\r\n");
                    s.write_all(request.as_bytes()).ok()?;
                    let mut head = [0u8; 12];
                    s.read_exact(&mut head).ok()?;
                    Some(head)
                });
            if status.is_some_and(|h| h.ends_with(b" 200")) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the demo never became ready"
            );
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A throwaway `redis-server` on a free port; killed on drop.
pub(crate) struct Redis {
    child: Child,
    port: u16,
    pub(crate) url: String,
}

impl Redis {
    pub(crate) fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self {
            child: Self::spawn(port),
            port,
            url: format!("redis://127.0.0.1:{port}"),
        }
    }

    fn spawn(port: u16) -> Child {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let mut child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .spawn()
                .expect("redis-server must be installed (bash .ci/setup installs it)");
            while std::time::Instant::now() < deadline {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return child;
                }
                if child.try_wait().ok().flatten().is_some() {
                    break; // the port lingers after a kill: try again
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not start on port {port}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Kills the server: an outage.
    pub(crate) fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again, empty, on the same port.
    pub(crate) fn restart(&mut self) {
        self.stop();
        self.child = Self::spawn(self.port);
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The fake Massive binary on a free port; killed on drop.
pub(crate) struct Fake {
    child: Child,
    pub(crate) rest_url: String,
    pub(crate) ws_url: String,
}

impl Fake {
    pub(crate) fn start() -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_chainboard"))
            .args([
                "fake-massive",
                "--listen",
                "127.0.0.1:0",
                "--symbols",
                "SPX",
            ])
            .args(["--api-key", "cli-key"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // "fake Massive listening: --rest-url http://… --ws-url ws://… --api-key …"
        let words: Vec<&str> = line.split_whitespace().collect();
        let after = |flag: &str| {
            let i = words.iter().position(|w| *w == flag).unwrap();
            words[i + 1].to_owned()
        };
        Self {
            rest_url: after("--rest-url"),
            ws_url: after("--ws-url"),
            child,
        }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lease TTL test workers run with: short, so the tests are quick.
pub(crate) const LEASE_TTL: std::time::Duration = std::time::Duration::from_millis(2_000);

/// A `chainboard` process serving HTTP on a free port; killed on drop.
pub(crate) struct Process {
    pub(crate) child: Child,
    pub(crate) url: String,
    log: PathBuf,
}

impl Process {
    /// Starts `chainboard args…`, waiting for the line that names its address.
    pub(crate) fn start(name: &str, args: &[&str]) -> Self {
        let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("chainboard-{name}-{}.log", std::process::id()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_chainboard"))
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .env_remove("MASSIVE_API_KEY")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let Some(Ok(line)) = lines.next() else {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("chainboard {name} exited before serving: {log}");
            };
            // "chainboard is serving http://127.0.0.1:…/"
            if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                break url.trim_end_matches('/').to_owned();
            }
        };
        // The rest of stdout is drained so the process never blocks writing it.
        std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
        Self { child, url, log }
    }

    /// An ingestion worker for SPX on `fake`, writing to `redis`.
    pub(crate) fn worker(name: &str, fake: &Fake, redis: &Redis) -> Self {
        Self::worker_with(name, fake, &["--redis", &redis.url])
    }

    /// An ingestion worker for SPX on `fake` with `extra` flags (its store; a
    /// `--lease-ttl-ms` of its own replaces [`LEASE_TTL`]).
    pub(crate) fn worker_with(name: &str, fake: &Fake, extra: &[&str]) -> Self {
        let ttl = LEASE_TTL.as_millis().to_string();
        let mut args = vec![
            "run",
            "--rest-url",
            &fake.rest_url,
            "--ws-url",
            &fake.ws_url,
            "--api-key",
            "cli-key",
            "--symbols",
            "SPX",
        ];
        if !extra.contains(&"--lease-ttl-ms") {
            args.extend(["--lease-ttl-ms", &ttl]);
        }
        args.extend_from_slice(extra);
        Self::start(name, &args)
    }

    pub(crate) fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal} {pid}");
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A sample of its `/metrics`, if it answers.
    pub(crate) async fn metric(&self, name: &str) -> Option<f64> {
        let body = reqwest::get(format!("{}/metrics", self.url))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        body.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // A stopped process must be resumed to die of anything but SIGKILL; SIGKILL
        // is what this sends.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
