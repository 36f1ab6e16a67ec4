//! `chainboard run` against `chainboard fake-massive`, both as a user starts them.

#![allow(clippy::unwrap_used)] // a fixture that fails to start is a failed test

mod common;

use common::{Fake, Redis};
use std::process::{Command, Output, Stdio};

impl Fake {
    fn run(&self, key: &str, extra: &[&str]) -> Output {
        self.run_logging(key, extra, "info")
    }

    fn run_logging(&self, key: &str, extra: &[&str], level: &str) -> Output {
        Command::new(env!("CARGO_BIN_EXE_chainboard"))
            .args([
                "run",
                "--rest-url",
                &self.rest_url,
                "--ws-url",
                &self.ws_url,
            ])
            .args(["--api-key", key, "--symbols", "SPX"])
            // Tests run in parallel: every run's web server takes a free port.
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env_remove("MASSIVE_API_KEY")
            .env("RUST_LOG", level)
            .output()
            .unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn run_builds_an_epoch_and_hydrates_it_from_the_fake() {
    let fake = Fake::start();
    let out = fake.run("cli-key", &["--for-secs", "6"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    // "SPX epoch=SPX-20261123-0001 contracts=24096 quotes=25108 trades=2256 geometry_miss=0"
    let line = stdout
        .lines()
        .find(|l| l.starts_with("SPX "))
        .unwrap_or_default();
    let field = |name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
            .unwrap_or(0)
    };
    assert!(line.contains("epoch=SPX-"), "{stdout}\n{stderr}");
    assert!(field("contracts") > 20_000, "{line}");
    assert!(field("quotes") > 0, "{line}\n{stderr}");
    assert_eq!(field("geometry_miss"), 0, "{line}");
    assert!(stderr.contains("epoch started"), "{stderr}");
    assert!(stderr.contains("subscription plan"), "{stderr}");
    assert!(!stderr.contains("cli-key"), "the key must never be logged");
}

#[test]
fn the_key_stays_out_of_even_trace_logs() {
    let fake = Fake::start();
    let out = fake.run_logging("cli-key", &["--for-secs", "2"], "trace");
    let stderr = text(&out.stderr);
    assert!(
        out.status.success(),
        "{}",
        &stderr[stderr.len().saturating_sub(2_000)..]
    );
    assert!(stderr.contains("WebSocket authenticated"));
    assert!(
        !stderr.contains("cli-key"),
        "the key leaked into a trace log"
    );
}

#[test]
fn run_says_clearly_when_the_key_is_rejected() {
    let fake = Fake::start();
    let out = fake.run("not-the-key", &["--for-secs", "30"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the API key was rejected"), "{stderr}");
    assert!(!stderr.contains("not-the-key"), "{stderr}");
}

#[test]
fn run_says_clearly_when_the_host_is_unreachable_or_the_key_missing() {
    let out = Command::new(env!("CARGO_BIN_EXE_chainboard"))
        .args(["run", "--rest-url", "http://127.0.0.1:9", "--api-key", "k"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot reach Massive at http://127.0.0.1:9/"),
        "{}",
        text(&out.stderr)
    );
    // A key on the command line is visible in `ps`: said so, without the key.
    let warning = "warning: --api-key on the command line is visible to other users";
    assert!(text(&out.stderr).contains(warning), "{}", text(&out.stderr));
    // From the environment, no warning.
    let out = Command::new(env!("CARGO_BIN_EXE_chainboard"))
        .args(["run", "--rest-url", "http://127.0.0.1:9"])
        .env("MASSIVE_API_KEY", "k")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        !text(&out.stderr).contains(warning),
        "{}",
        text(&out.stderr)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_chainboard"))
        .arg("run")
        .env_remove("MASSIVE_API_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no Massive API key: pass --api-key or set MASSIVE_API_KEY")
    );
}

#[test]
fn run_with_redis_leaves_the_designs_keys_for_inspect() {
    let fake = Fake::start();
    let redis = Redis::start();
    let out = fake.run("cli-key", &["--for-secs", "6", "--redis", &redis.url]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("store degraded=false epochs_written="),
        "{stdout}"
    );
    assert!(stdout.contains(" errors=0"), "{stdout}");
    let out = inspect(&redis, 2);
    let report = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // massive:epoch:current:SPX -> SPX-20261124-0001
    assert!(
        report.contains("massive:epoch:current:SPX -> SPX-"),
        "{report}"
    );
    assert!(report.contains("reason=startup"), "{report}");
    assert!(report.contains("meta (TTL "), "{report}");
    let contracts: usize = report
        .split("contracts: ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(contracts > 20_000, "{report}");
    let records: Vec<&str> = report
        .lines()
        .filter(|l| l.contains(":contract:O:SPX"))
        .collect();
    assert_eq!(records.len(), 2, "{report}");
    assert!(
        records
            .iter()
            .all(|r| r.contains("(TTL ") && r.contains(" bid=")),
        "{report}"
    );
}

/// `chainboard inspect` of SPX in `redis`, printing `records` records.
fn inspect(redis: &Redis, records: usize) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chainboard"))
        .args(["inspect", "--redis", &redis.url, "--symbol", "SPX"])
        .args(["--records", &records.to_string()])
        .output()
        .unwrap()
}

/// `inspect`'s line for `key`, if the key is there.
fn inspect_line(redis: &Redis, prefix: &str) -> Option<String> {
    text(&inspect(redis, 0).stdout)
        .lines()
        .find(|l| l.starts_with(prefix) && !l.contains(": missing"))
        .map(str::to_owned)
}

/// `name=value` from an inspect or summary line.
fn field(line: &str, name: &str) -> Option<f64> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
}

/// The TTL in an inspect line: `(TTL 4.2 s)`.
fn ttl_secs(line: &str) -> Option<f64> {
    line.split("(TTL ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[test]
fn run_publishes_model_snapshots_every_second() {
    let fake = Fake::start();
    let redis = Redis::start();
    let child = Command::new(env!("CARGO_BIN_EXE_chainboard"))
        .args([
            "run",
            "--rest-url",
            &fake.rest_url,
            "--ws-url",
            &fake.ws_url,
        ])
        .args([
            "--api-key",
            "cli-key",
            "--symbols",
            "SPX",
            "--redis",
            &redis.url,
        ])
        .args(["--for-secs", "10", "--listen", "127.0.0.1:0"])
        .env_remove("MASSIVE_API_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let heatmap = "massive:heatmap:snapshot:SPX";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let first = loop {
        if let Some(line) = inspect_line(&redis, heatmap) {
            break line;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no heatmap snapshot appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    };
    std::thread::sleep(std::time::Duration::from_millis(2_500));
    let second = inspect_line(&redis, heatmap).expect("the snapshot is kept fresh");
    let gex = inspect_line(&redis, "massive:gex:snapshot:SPX").expect("GEX snapshot");
    let (seq1, seq2) = (
        field(&first, "seq").unwrap(),
        field(&second, "seq").unwrap(),
    );
    assert!(
        seq2 >= seq1 + 1.0,
        "a new snapshot every second: {first}\n{second}"
    );
    for line in [&first, &second, &gex] {
        let ttl = ttl_secs(line).unwrap_or(f64::NAN);
        assert!(ttl > 0.0 && ttl <= 5.0, "TTL at most 5 s: {line}");
    }
    assert!(
        field(&second, "contracts").unwrap_or(0.0) > 20_000.0,
        "{second}"
    );
    assert!(
        field(&second, "live").unwrap_or(0.0) > 0.0,
        "live greeks from live quotes: {second}"
    );
    assert!(gex.contains("zero_gamma="), "{gex}");

    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    let models = stdout
        .lines()
        .find(|l| l.starts_with("SPX models "))
        .unwrap_or_default();
    assert!(field(models, "seq").unwrap_or(0.0) >= 5.0, "{stdout}");
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("models published="))
        .unwrap_or_default();
    assert_eq!(field(summary, "errors"), Some(0.0), "{stdout}");
}

#[test]
fn run_takes_its_whole_configuration_from_a_file() {
    let fake = Fake::start();
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("run.toml");
    std::fs::write(
        &path,
        format!(
            "[run]\nrest-url = '{}'\nws-url = '{}'\napi-key = 'cli-key'\nsymbols = ['SPX']\nlisten = '127.0.0.1:0'\nfor-secs = 4\ntick_secs = 0.5\n",
            fake.rest_url, fake.ws_url
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_chainboard"))
        .arg("run")
        .env("CHAINBOARD_CONFIG", &path)
        .env_remove("MASSIVE_API_KEY")
        .output()
        .unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("SPX epoch=SPX-"), "{stdout}");
    assert!(stdout.contains("SPX models seq="), "{stdout}");
}

#[test]
fn worker_flags_are_checked_before_anything_starts() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_chainboard"))
            .args(["run", "--api-key", "cli-key"])
            .args(args)
            .env_remove("MASSIVE_API_KEY")
            .env_remove("REDIS_URL")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} must fail");
        text(&out.stderr)
    };
    // Serving nothing and storing in this process only would be a service nobody
    // can read.
    let stderr = run(&["--no-http"]);
    assert!(stderr.contains("--redis"), "{stderr}");
    let stderr = run(&["--redis", "redis://127.0.0.1:1", "--lease-ttl-ms", "10"]);
    assert!(
        stderr.contains("--lease-ttl-ms: expected 1000 to 120000 milliseconds, got 10"),
        "{stderr}"
    );
    let stderr = run(&["--redis-cluster"]);
    assert!(stderr.contains("--redis"), "{stderr}");
}
