//! The web UI in headless Chromium (Debian's `chromium`, driven by playwright-core
//! from `tests/browser/`) against `chainboard demo`: live updates without a reload,
//! an epoch change triggered through the fake Massive shown on the page, and a
//! screenshot kept as an artifact in `target/browser-test/ui.png`.
//!
//! Needs `node` and Chromium (`CHROMIUM`, or `/usr/bin/chromium`); `.ci/run` installs
//! Chromium, and this test installs the pinned playwright-core with `npm ci` when
//! `tests/browser/node_modules` is missing. Without them the tests fail, naming what
//! is missing and the command that installs it (`bash .ci/setup`): a test that could
//! not run is never reported as passed.

#![allow(clippy::unwrap_used)] // a fixture that fails to start is a failed test

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Demo;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether a command runs at all.
fn runs(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The UI's own unit tests (`web/selftest.js`: diff application, resync decisions,
/// reconnect backoff, colour scales, formatting), run by node without a browser.
#[test]
fn the_ui_modules_pass_their_unit_tests() {
    assert!(
        runs("node", "--version"),
        "the UI unit tests need node: run `bash .ci/setup` (apt-get install nodejs npm)"
    );
    let selftest = repo_root().join("web/selftest.js");
    let script = format!(
        "import({:?}).then((m) => m.main())",
        format!("file://{}", selftest.display())
    );
    let out = Command::new("node")
        .args(["--input-type=module", "-e", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}

#[test]
fn the_ui_updates_live_and_shows_an_epoch_change() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    let missing: Vec<&str> = [
        (!Path::new(&chromium).exists()).then_some("chromium (apt-get install chromium)"),
        (!runs("node", "--version")).then_some("node"),
        (!runs("npm", "--version")).then_some("npm"),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(
        missing.is_empty(),
        "the browser test needs {missing:?}: run `bash .ci/setup` (or set CHROMIUM to a Chromium binary)"
    );
    let dir = repo_root().join("tests/browser");
    if !dir.join("node_modules/playwright-core").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .unwrap();
        assert!(status.success(), "npm ci in tests/browser failed");
    }
    let artifacts = repo_root().join("target/browser-test");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("ui.png");

    let demo = Demo::start();
    demo.wait_ready(Duration::from_secs(90));
    let mut node = Command::new("node")
        .arg(dir.join("ui.test.mjs"))
        .args([&demo.url, &demo.fake])
        .arg(&screenshot)
        .env("CHROMIUM", &chromium)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The script bounds each of its waits; this bounds the whole, so a hung browser
    // fails the test instead of holding CI.
    let deadline = Instant::now() + Duration::from_secs(240);
    while node.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = node.kill();
            panic!("the browser test did not finish in 240 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = node.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}\n{stdout}");
    assert!(stdout.contains("\"ok\":true"), "{stdout}");
    assert!(
        std::fs::metadata(&screenshot).is_ok_and(|m| m.len() > 10_000),
        "screenshot saved at {}",
        screenshot.display()
    );
    eprintln!("browser test: {stdout}");
}
