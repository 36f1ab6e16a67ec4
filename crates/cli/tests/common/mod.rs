//! A `chainboard demo` for the tests that drive the service from outside.

#![allow(clippy::unwrap_used, dead_code)] // a fixture that fails to start is a failed test

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The demo binary on a free port; killed on drop.
pub(crate) struct Demo {
    child: Child,
    /// The service's base URL, without a trailing slash.
    pub(crate) url: String,
    /// The fake Massive's base URL (its control endpoints are under `/_fake/`).
    pub(crate) fake: String,
}

impl Demo {
    pub(crate) fn start() -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_chainboard"))
            .args(["demo", "--listen", "127.0.0.1:0", "--refresh-secs", "2"])
            .args(["--for-secs", "120"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
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
            url: url.unwrap(),
            fake: fake.unwrap(),
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
