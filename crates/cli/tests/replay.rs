//! `chainboard replay` as a user runs it: the recorded session in `tests/data` gives
//! back the documents it published, digest for digest; a live run and its replay
//! publish the same bytes; a recorder killed mid-write leaves a recording that
//! replays up to the tear; bad recordings and flags get errors that name the file,
//! the offset or the flag.

#![allow(clippy::unwrap_used)] // a fixture that fails to start is a failed test

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{Fake, Process};

fn chainboard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chainboard"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("replay-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `replay DIR --speed max` writing digests; its stdout and the digest lines.
fn replay(dir: &Path, digests: &Path) -> (String, String) {
    let out = chainboard(&[
        "replay",
        dir.to_str().unwrap(),
        "--speed",
        "max",
        "--listen",
        "127.0.0.1:0",
        "--digests",
        digests.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "replay failed: {stdout}\n{}",
        text(&out.stderr)
    );
    (stdout, std::fs::read_to_string(digests).unwrap())
}

/// The first line where two digest files differ, for a failure message.
fn first_difference(a: &str, b: &str) -> Option<(usize, String, String)> {
    let (mut x, mut y) = (a.lines(), b.lines());
    for i in 0.. {
        match (x.next(), y.next()) {
            (None, None) => return None,
            (l, r) if l != r => {
                return Some((
                    i + 1,
                    l.unwrap_or("(none)").to_owned(),
                    r.unwrap_or("(none)").to_owned(),
                ));
            }
            _ => {}
        }
    }
    None
}

/// A POST with no body over a plain socket; panics unless the answer is a 200.
fn post(url: &str) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut s = std::net::TcpStream::connect(host).unwrap();
    let request = format!("POST {path} HTTP/1.0\r\nHost: {host}\r\nContent-Length: 0\r\n\r\n");
    s.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"),
        "{answer}"
    );
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {name}= in {line}"))
}

#[test]
fn the_recorded_session_replays_to_the_documents_it_published() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data");
    let expected = std::fs::read_to_string(data.join("recording-spx.digests")).unwrap();
    let digests = scratch("fixture").join("digests");
    let (stdout, got) = replay(&data.join("recording-spx"), &digests);
    let summary = stdout.lines().find(|l| l.starts_with("replay ")).unwrap();
    println!("{summary}");
    assert_eq!(field(summary, "problems"), "0");
    assert_eq!(field(summary, "diverged"), "0");
    assert_eq!(field(summary, "complete"), "true");
    assert!(
        stdout.contains("epoch SPX-20261207-0002 (geometry_change)"),
        "{stdout}"
    );
    assert_eq!(expected.lines().count(), 19);
    if let Some((line, want, have)) = first_difference(&expected, &got) {
        panic!(
            "document digests differ from line {line}:\n recorded {want}\n replayed {have}\n\
             (if the models changed on purpose, rewrite tests/data/recording-spx.digests: see tests/data/make-recording.sh)"
        );
    }
}

#[test]
fn a_live_run_and_its_replay_publish_the_same_documents() {
    let fake = Fake::start();
    let dir = scratch("live");
    let recording = dir.join("recording");
    let live_digests = dir.join("live.digests");
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
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--refresh-secs", "3", "--for-secs", "10"])
        .args(["--record", recording.to_str().unwrap()])
        .args(["--digests", live_digests.to_str().unwrap()])
        .env_remove("MASSIVE_API_KEY")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A dropped connection on the way: a gap, a reconnect and a photo it asks for.
    std::thread::sleep(Duration::from_secs(5));
    post(&format!("{}/_fake/drop", fake.rest_url));
    let out = child.wait_with_output().unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let models = stdout
        .lines()
        .find(|l| l.starts_with("models published="))
        .unwrap();
    assert_eq!(
        field(models, "skipped"),
        "0",
        "the live publisher skipped a tick (a stalled machine): its diffs then span two ticks, which a replay does not reproduce"
    );
    let recorded = stdout
        .lines()
        .find(|l| l.starts_with("recording "))
        .unwrap();
    assert_eq!(field(recorded, "dropped"), "0", "{recorded}");

    let (replayed_out, replayed) = replay(&recording, &dir.join("replay.digests"));
    let live = std::fs::read_to_string(&live_digests).unwrap();
    assert!(live.lines().count() >= 5, "{live}");
    if let Some((line, want, have)) = first_difference(&live, &replayed) {
        panic!("line {line}:\n live   {want}\n replay {have}\n{replayed_out}");
    }
    let summary = replayed_out
        .lines()
        .find(|l| l.starts_with("replay "))
        .unwrap();
    assert!(
        field(summary, "photos").parse::<u32>().unwrap() >= 2,
        "{summary}"
    );
}

#[test]
fn a_recorder_killed_mid_write_leaves_what_it_flushed_replayable() {
    let fake = Fake::start();
    let dir = scratch("killed");
    let recording = dir.join("recording");
    let run = Process::worker_with(
        "recorder-killed",
        &fake,
        &["--record", recording.to_str().unwrap()],
    );
    // Past the first photo and a few flushes, then no chance to close anything.
    let segment = recording.join("seg-00000001.cbrec");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::fs::metadata(&segment).map_or(0, |m| m.len()) < 2_000_000 {
        assert!(
            std::time::Instant::now() < deadline,
            "the recording never grew"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(3));
    run.signal("KILL");
    drop(run);
    let index = std::fs::read_to_string(recording.join("seg-00000001.index.json")).unwrap();
    assert!(index.contains("\"closed\": false"), "{index}");

    let (stdout, digests) = replay(&recording, &dir.join("digests"));
    assert!(stdout.contains("was not closed"), "{stdout}");
    let summary = stdout.lines().find(|l| l.starts_with("replay ")).unwrap();
    println!("{summary}");
    assert_eq!(field(summary, "complete"), "true");
    assert!(
        field(summary, "photos").parse::<u32>().unwrap() >= 1,
        "{summary}"
    );
    assert!(digests.lines().count() >= 2, "ticks replayed: {digests}");

    // Cut inside its last records, as a crash in the middle of a write would leave
    // it: the tear is reported with the file and offset, what came before (the
    // photo, the first frames) is replayed.
    let whole = std::fs::read(&segment).unwrap();
    let torn = dir.join("torn");
    std::fs::create_dir_all(&torn).unwrap();
    std::fs::write(
        torn.join("seg-00000001.cbrec"),
        &whole[..whole.len() - 1_000],
    )
    .unwrap();
    let out = chainboard(&[
        "replay",
        torn.to_str().unwrap(),
        "--speed",
        "max",
        "--listen",
        "127.0.0.1:0",
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("seg-00000001.cbrec at offset") && stderr.contains("torn tail"),
        "{stderr}"
    );
    let summary = stdout.lines().find(|l| l.starts_with("replay ")).unwrap();
    assert_eq!(field(summary, "problems"), "1", "{summary}");
    assert!(
        field(summary, "photos").parse::<u32>().unwrap() >= 1,
        "{summary}"
    );
}

#[test]
fn bad_recordings_and_flags_get_errors_that_say_what_and_where() {
    let dir = scratch("bad");
    let fail = |args: &[&str]| {
        let out = chainboard(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        text(&out.stderr)
    };
    let missing = dir.join("missing");
    let err = fail(&["replay", missing.to_str().unwrap()]);
    assert!(
        err.contains("cannot read the recording") && err.contains("missing"),
        "{err}"
    );

    let junk = dir.join("junk");
    std::fs::create_dir_all(&junk).unwrap();
    std::fs::write(junk.join("seg-00000001.cbrec"), b"not a recording at all").unwrap();
    let err = fail(&["replay", junk.to_str().unwrap()]);
    assert!(
        err.contains("seg-00000001.cbrec at offset 0: not a chainboard recording segment"),
        "{err}"
    );

    let newer = dir.join("newer");
    std::fs::create_dir_all(&newer).unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/recording-spx");
    let mut bytes = std::fs::read(data.join("seg-00000001.cbrec")).unwrap();
    bytes[8] = 200;
    std::fs::write(newer.join("seg-00000001.cbrec"), bytes).unwrap();
    let err = fail(&["replay", newer.to_str().unwrap()]);
    assert!(
        err.contains("at offset 8: written in format 200, newer than this build reads"),
        "{err}"
    );

    let fixture = data.to_str().unwrap().to_owned();
    let err = fail(&["replay", &fixture, "--speed", "0"]);
    assert!(
        err.contains("--speed") && err.contains("not a speed"),
        "{err}"
    );
    let err = fail(&[
        "replay",
        &fixture,
        "--from",
        "2030-01-01T00:00:00Z",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert!(
        err.contains("--from") && err.contains("after the recording ends"),
        "{err}"
    );
    let err = fail(&["replay", &fixture, "--from", "yesterday"]);
    assert!(
        err.contains("--from") && err.contains("not a time"),
        "{err}"
    );
    let err = fail(&[
        "demo",
        "--record",
        dir.to_str().unwrap(),
        "--record-max-bytes",
        "1K",
    ]);
    assert!(
        err.contains("--record-max-bytes") && err.contains("below the smallest budget"),
        "{err}"
    );
}
