//! The `chainboard` binary as a user runs it.

#![allow(clippy::unwrap_used)] // a fixture that fails to build is a failed test

use std::path::PathBuf;
use std::process::{Command, Output};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../massive/tests/data")
        .join(name)
}

fn chainboard(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chainboard"))
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn normalize_prints_one_record_per_contract_and_a_summary() {
    let out = chainboard(&[
        "normalize".as_ref(),
        data("chain_spx_page1.json").as_os_str(),
        data("chain_spy_page.json").as_os_str(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[0]["id"], "O:SPXW261124C06850000");
    assert_eq!(lines[5]["underlying"], "SPY");
    assert!(
        text(&out.stderr).contains("pages=2 contracts=6 rejected=0"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn normalize_reads_json_lines_and_reports_each_broken_page() {
    let dir = std::env::temp_dir().join(format!("chainboard-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("pages.jsonl");
    let good = std::fs::read_to_string(data("chain_spy_page.json")).unwrap();
    let denied = std::fs::read_to_string(data("chain_not_authorized.json")).unwrap();
    std::fs::write(
        &file,
        format!(
            "{}\n{{\"status\":\"OK\",\"results\":[\n{}\n{{\"status\":\"OK\",\"results\":null}}\n",
            good.trim(),
            denied.trim()
        ),
    )
    .unwrap();

    let out = chainboard(&["normalize".as_ref(), file.as_os_str()]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("pages.jsonl:2: chain page is not a valid snapshot response"),
        "{stderr}"
    );
    assert!(
        stderr.contains("pages.jsonl:3: Massive refused the request (NOT_AUTHORIZED)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("pages.jsonl:4: chain page is not a valid snapshot response: an OK page without `results`"),
        "{stderr}"
    );
    assert!(stderr.contains("failed_pages=3"), "{stderr}");
    assert_eq!(
        text(&out.stdout).lines().count(),
        1,
        "the good page is still printed"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn normalize_fails_clearly_on_unreadable_input() {
    let out = chainboard(&["normalize".as_ref(), "/no/such/file.json".as_ref()]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("cannot read /no/such/file.json"));
    let out = chainboard(&["normalize".as_ref()]);
    assert!(!out.status.success(), "a file is required");
}

#[test]
fn bench_hydrate_reports_exact_counts_on_its_last_line() {
    let out = chainboard(&[
        "bench".as_ref(),
        "hydrate".as_ref(),
        "--chain".as_ref(),
        data("chain_spx_page1.json").as_os_str(),
        "--frames".as_ref(),
        data("frames_small.jsonl").as_os_str(),
        "--passes".as_ref(),
        "2".as_ref(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let last = stdout.lines().last().unwrap();
    // frames_small.jsonl delivers 5 quotes per pass, one for a strike not on the board;
    // the malformed frame's quote before the damage counts, the one after it is lost.
    assert!(
        last.starts_with("quotes=10 geometry_miss=2 seconds="),
        "{last}"
    );
    assert!(last.contains(" quotes_per_s="), "{last}");
    assert!(
        text(&out.stderr).contains("malformed_frames=2"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_tour_runs_through_every_kind_of_epoch() {
    let out = chainboard(&["tour".as_ref()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for expected in [
        "epoch SPX-20261124-0001 (startup): ",
        "geometry_miss (not on the board)",
        "models: every contract's implied volatility and greeks",
        "model tick 2:",
        "GEX  all: net ",
        "zero-gamma flip ",
        "(geometry_change)",
        "watchdog requests a photo (StaleFeed)",
        "epoch SPX-20261124-0003 (stale_feed)",
        "epochs by reason: startup=1 geometry_change=1 stale_feed=1 manual=0",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    let record = stdout
        .lines()
        .find(|l| l.trim_start().starts_with('{'))
        .expect("a record");
    let record: serde_json::Value = serde_json::from_str(record.trim()).unwrap();
    assert_eq!(record["underlying"], "SPX");
}

#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    use std::io::Read;
    // A whole generated chain normalizes to ~9 MB, far past a pipe's buffer, so the
    // writes after the reader leaves do fail with a broken pipe.
    let dir = std::env::temp_dir().join(format!("chainboard-pipe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let chain = dir.join("chain.jsonl");
    let out = chainboard(&[
        "generate".as_ref(),
        "--chain-out".as_ref(),
        chain.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let mut child = Command::new(env!("CARGO_BIN_EXE_chainboard"))
        .args(["normalize".as_ref(), chain.as_os_str()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 8];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The read end is dropped here: the rest of the output hits a broken pipe.
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("error"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Writes `text` to a fresh file under the target directory and returns its path.
fn config_file(name: &str, text: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_config_file_sets_defaults_that_flags_override_and_typos_are_errors() {
    // The file's bad budget is reported under the flag's name...
    let bad = config_file(
        "bad-budget.toml",
        "[run]\napi-key = 'k'\nquote_budget = 5000\nrest-url = 'http://127.0.0.1:9'\n",
    );
    let out = chainboard(&["run".as_ref(), "--config".as_ref(), bad.as_os_str()]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--quote-budget"),
        "{}",
        text(&out.stderr)
    );
    // ...and a flag on the command line wins over the file: the run gets as far as
    // Massive (unreachable here), past the budget check.
    let out = chainboard(&[
        "run".as_ref(),
        "--config".as_ref(),
        bad.as_os_str(),
        "--quote-budget".as_ref(),
        "500".as_ref(),
    ]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        !stderr.contains("--quote-budget") && stderr.contains("cannot reach Massive"),
        "{stderr}"
    );

    let typo = config_file("typo.toml", "[run]\nquote_budgte = 10\n");
    let out = chainboard(&["run".as_ref(), "--config".as_ref(), typo.as_os_str()]);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("quote_budgte: not a flag of `chainboard run`"),
        "{stderr}"
    );
    let section = config_file("section.toml", "[serv]\nlisten = '1'\n");
    let out = chainboard(&["demo".as_ref(), "--config".as_ref(), section.as_os_str()]);
    assert!(
        text(&out.stderr).contains("[serv] is not a command"),
        "{}",
        text(&out.stderr)
    );
    let missing = chainboard(&["--config".as_ref(), "/nonexistent/chainboard.toml".as_ref()]);
    assert!(text(&missing.stderr).contains("cannot read the configuration file"));
}
