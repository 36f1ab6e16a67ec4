//! A `chainboard demo` for the tests that drive the service from outside.

#![allow(clippy::unwrap_used, dead_code)] // a fixture that fails to start is a failed test

use std::io::{BufRead, BufReader, Lines};
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
        // No --for-secs: a loaded CI machine must not see the demo end mid-test; drop
        // kills it. Its log goes next to the test binaries for a failure's diagnosis.
        let log = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("demo-{}.log", std::process::id()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_chainboard"))
            .args(["demo", "--listen", "127.0.0.1:0", "--refresh-secs", "2"])
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
