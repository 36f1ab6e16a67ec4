//! Recordings written by the recorder and read back: every record as written, the
//! index, rotation within the budget, and damage (torn tails, flipped bytes, newer
//! formats) reported with the file and offset while the rest is still read.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use chainboard_recording::{
    Event, Feed, Header, Recorder, RecorderConfig, RecorderError, Recording, RecordingError,
    segment_name,
};
use proptest::prelude::*;

fn header() -> Header {
    Header {
        format: chainboard_recording::FORMAT_VERSION,
        writer: "test".into(),
        started_ms: 1_700_000_000_000,
        underlyings: vec!["SPX".into(), "NDX".into()],
        settings: serde_json::json!({"tick_ms": 1000}),
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "chainboard-recording-{name}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn frame(text: &str) -> Event {
    Event::Frame {
        feed: Feed::Options,
        text: Bytes::copy_from_slice(text.as_bytes()),
    }
}

fn every_kind() -> Vec<Event> {
    vec![
        Event::Connected {
            feed: Feed::Options,
        },
        frame(r#"[{"ev":"Q","sym":"O:SPXW261204C06800000","bp":1.5}]"#),
        Event::Frame {
            feed: Feed::Indices,
            text: Bytes::from_static(br#"[{"ev":"V","val":6840.5,"T":"I:SPX"}]"#),
        },
        Event::Photo {
            underlying: "SPX".into(),
            taken_at_ms: 1_700_000_000_123,
            retries: 2,
            pages: vec!["{\"status\":\"OK\"}".into(), "{\"results\":[]}".into()],
        },
        Event::EpochStarted {
            id: "SPX-20261204-0001".into(),
            reason: "startup".into(),
        },
        Event::Disconnected {
            feed: Feed::Options,
            reason: "closed: reset".into(),
        },
        Event::Overflow { dropped: 17 },
        Event::FeedDown {
            feed: Feed::Indices,
            error: "auth_failed".into(),
        },
        Event::LoadFailed {
            underlying: "NDX".into(),
            fatal: false,
            error: "page 3: 502".into(),
        },
        Event::Market { open: true },
        Event::Manual {
            underlying: "NDX".into(),
        },
        Event::Poll,
    ]
}

fn read_all(dir: &Path) -> (Vec<(i64, Event)>, Vec<String>) {
    let (recording, mut problems) = Recording::open(dir).expect("opens");
    let mut records = Vec::new();
    let mut found: Vec<String> = problems.drain(..).map(|p| p.to_string()).collect();
    for r in recording.records() {
        match r {
            Ok(rec) => records.push(rec),
            Err(p) => found.push(p.to_string()),
        }
    }
    (records, found)
}

#[test]
fn every_record_reads_back_as_written_with_its_index() {
    let dir = scratch("roundtrip");
    let recorder = Recorder::start(RecorderConfig::new(&dir, 1 << 30), header()).expect("starts");
    let events = every_kind();
    for (i, e) in events.iter().enumerate() {
        assert!(recorder.record(1_000 + i as i64, e.clone()));
    }
    let stats = recorder.stats().clone();
    recorder.close();
    assert_eq!(stats.records.load(std::sync::atomic::Ordering::Relaxed), 12);
    assert_eq!(stats.dropped.load(std::sync::atomic::Ordering::Relaxed), 0);

    let (recording, problems) = Recording::open(&dir).expect("opens");
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(recording.header(), &header());
    let index = recording.segments()[0].index.clone().expect("an index");
    assert!(index.closed);
    assert_eq!(
        (index.first_ms, index.last_ms, index.records),
        (Some(1_000), Some(1_011), 12)
    );
    assert_eq!(index.epochs.len(), 1);
    assert_eq!(
        (index.epochs[0].at_ms, index.epochs[0].id.as_str()),
        (1_004, "SPX-20261204-0001")
    );

    let (records, problems) = read_all(&dir);
    assert!(problems.is_empty(), "{problems:?}");
    let expected: Vec<(i64, Event)> = events
        .into_iter()
        .enumerate()
        .map(|(i, e)| (1_000 + i as i64, e))
        .collect();
    assert_eq!(records, expected);
}

#[test]
fn a_directory_with_a_recording_is_not_recorded_over() {
    let dir = scratch("twice");
    Recorder::start(RecorderConfig::new(&dir, 1 << 30), header())
        .expect("starts")
        .close();
    match Recorder::start(RecorderConfig::new(&dir, 1 << 30), header()) {
        Err(RecorderError::NotEmpty(_, name)) => assert_eq!(name, segment_name(1)),
        other => panic!("expected NotEmpty, got {other:?}"),
    }
}

#[test]
fn a_missing_or_empty_directory_is_a_clear_error() {
    let missing = scratch("missing");
    let e = Recording::open(&missing).expect_err("missing");
    assert!(matches!(e, RecordingError::Io { .. }));
    assert!(
        e.to_string().contains(&missing.display().to_string()),
        "{e}"
    );
    std::fs::create_dir_all(&missing).expect("mkdir");
    let e = Recording::open(&missing).expect_err("empty");
    assert!(e.to_string().contains("no seg-NNNNNNNN.cbrec files"), "{e}");
}

/// Writes `n` frames and closes; the path of the one segment.
fn recorded(dir: &Path, n: usize) -> PathBuf {
    let recorder = Recorder::start(RecorderConfig::new(dir, 1 << 30), header()).expect("starts");
    for i in 0..n {
        let text = format!(
            r#"[{{"ev":"Q","sym":"O:SPXW261204C0{:07}","bp":{i}.25}}]"#,
            6_000_000 + i * 5_000
        );
        assert!(recorder.record(i as i64, frame(&text)));
    }
    recorder.close();
    dir.join(segment_name(1))
}

#[test]
fn a_torn_tail_is_reported_with_the_file_and_offset_and_what_came_before_is_read() {
    let dir = scratch("torn");
    let path = recorded(&dir, 2_000);
    let whole = std::fs::read(&path).expect("read");
    for cut in [1usize, 7, 100, whole.len() / 3, whole.len() / 2] {
        std::fs::write(&path, &whole[..whole.len() - cut]).expect("truncate");
        let (records, problems) = read_all(&dir);
        assert_eq!(problems.len(), 1, "cut {cut}: {problems:?}");
        assert!(
            problems[0].contains("seg-00000001.cbrec at offset"),
            "{}",
            problems[0]
        );
        assert!(problems[0].contains("torn tail"), "{}", problems[0]);
        assert!(records.len() < 2_000, "cut {cut}");
        for (i, (at, _)) in records.iter().enumerate() {
            assert_eq!(*at, i as i64, "records before the tear come back in order");
        }
    }
}

#[test]
fn a_flipped_byte_is_never_replayed_and_is_reported() {
    let dir = scratch("flipped");
    let path = recorded(&dir, 2_000);
    let whole = std::fs::read(&path).expect("read");
    let header_len = 16 + serde_json::to_vec(&header()).expect("json").len();
    for at in [
        header_len + 40,
        (header_len + whole.len()) / 2,
        whole.len() - 30,
    ] {
        let mut damaged = whole.clone();
        damaged[at] ^= 0x55;
        std::fs::write(&path, &damaged).expect("write");
        let (records, problems) = read_all(&dir);
        assert_eq!(problems.len(), 1, "byte {at}: {problems:?}");
        for (i, (at_ms, event)) in records.iter().enumerate() {
            assert_eq!(*at_ms, i as i64);
            let Event::Frame { text, .. } = event else {
                panic!("{event:?}")
            };
            let expected = format!(
                r#"[{{"ev":"Q","sym":"O:SPXW261204C0{:07}","bp":{i}.25}}]"#,
                6_000_000 + i * 5_000
            );
            assert_eq!(
                text.as_ref(),
                expected.as_bytes(),
                "only intact records are read"
            );
        }
    }
}

#[test]
fn a_segment_from_a_newer_format_names_the_file_and_the_rest_is_read() {
    let dir = scratch("newer");
    let recorder = Recorder::start(
        RecorderConfig {
            segment_bytes: 1,
            ..RecorderConfig::new(&dir, 1 << 30)
        },
        header(),
    )
    .expect("starts");
    for i in 0..3 {
        recorder.record(i, Event::Poll);
        std::thread::sleep(Duration::from_millis(5));
    }
    recorder.close();
    let second = dir.join(segment_name(2));
    let mut bytes = std::fs::read(&second).expect("read");
    bytes[8] = 99;
    std::fs::write(&second, bytes).expect("write");
    let (records, problems) = read_all(&dir);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("seg-00000002.cbrec at offset 8: written in format 99"),
        "{}",
        problems[0]
    );
    assert_eq!(records.iter().map(|r| r.0).collect::<Vec<_>>(), vec![0, 2]);
}

#[test]
fn rotation_keeps_the_directory_within_its_budget() {
    let dir = scratch("budget");
    let config = RecorderConfig {
        segment_bytes: 64 << 10,
        ..RecorderConfig::new(&dir, 512 << 10)
    };
    let recorder = Recorder::start(config, header()).expect("starts");
    // Incompressible frames: 4 MiB of them against a 512 KiB budget.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..1_024 {
        let text: String = (0..4_096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b'a' + (x % 26) as u8)
            })
            .collect();
        while !recorder.record(i, frame(&text)) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let stats = recorder.stats().clone();
    recorder.close();
    let on_disk: u64 = std::fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("entry").metadata().expect("meta").len())
        .sum();
    assert!(on_disk <= 512 << 10, "{on_disk} bytes on disk");
    assert!(
        stats
            .segments_deleted
            .load(std::sync::atomic::Ordering::Relaxed)
            > 10
    );
    let (records, problems) = read_all(&dir);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("older segments were deleted"),
        "{}",
        problems[0]
    );
    let times: Vec<i64> = records.iter().map(|r| r.0).collect();
    assert_eq!(
        *times.last().expect("some"),
        1_023,
        "the newest records are kept"
    );
    assert!(
        times.windows(2).all(|w| w[1] == w[0] + 1),
        "no hole within what is kept"
    );
}

#[test]
fn a_full_queue_drops_and_counts_instead_of_waiting() {
    let dir = scratch("full");
    let config = RecorderConfig {
        queue_bytes: 1_000,
        ..RecorderConfig::new(&dir, 1 << 30)
    };
    let recorder = Recorder::start(config, header()).expect("starts");
    let big = "x".repeat(2_000);
    assert!(!recorder.record(0, frame(&big)), "larger than the queue");
    let stats = recorder.stats().clone();
    assert_eq!(stats.dropped.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(
        stats
            .queued_bytes
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    assert!(recorder.record(1, Event::Poll));
    recorder.close();
    // The hole is marked where it is, ahead of the next record kept.
    let (records, problems) = read_all(&dir);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(
        records,
        vec![(1, Event::Dropped { records: 1 }), (1, Event::Poll)]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn random_records_read_back(
        items in proptest::collection::vec((any::<i64>(), 0usize..12, ".{0,40}"), 0..60)
    ) {
        let dir = scratch("prop");
        let recorder = Recorder::start(RecorderConfig::new(&dir, 1 << 30), header()).expect("starts");
        let kinds = every_kind();
        let mut expected = Vec::new();
        for (at, k, text) in items {
            let event = match kinds[k].clone() {
                Event::Frame { feed, .. } => Event::Frame { feed, text: Bytes::from(text) },
                Event::Disconnected { feed, .. } => Event::Disconnected { feed, reason: text },
                Event::Manual { .. } => Event::Manual { underlying: text },
                other => other,
            };
            prop_assert!(recorder.record(at, event.clone()));
            expected.push((at, event));
        }
        recorder.close();
        let (records, problems) = read_all(&dir);
        prop_assert!(problems.is_empty());
        prop_assert_eq!(records, expected);
    }
}
