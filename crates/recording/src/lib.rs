//! Recordings of what the service consumed, as it arrived, and their reader.
//!
//! A recording lets a session be replayed through the same code that ran it live
//! (`chainboard replay`): the engines, the models, the store and the server see the
//! same inputs at the same (recorded) times, so they publish the same documents. For
//! that it holds the ingestion loop's *inputs*, each stamped with the time the loop
//! read its clock for it: chain photos as the pages the REST API returned, WebSocket
//! frames as received, control events (connections, gaps, market status, manual
//! requests) and the loop's polls, which is where the models tick.
//!
//! # On disk
//!
//! A directory of segments, `seg-00000001.cbrec`, `seg-00000002.cbrec`, …, each with
//! its index `seg-00000001.index.json`:
//!
//! - a segment starts with the 8 bytes `CBRECORD`, the format version (`u16` LE, now
//!   [`FORMAT_VERSION`]), two zero bytes, the header's length (`u32` LE) and the
//!   [`Header`] as JSON: every segment says what it is on its own, so dropping old
//!   segments never orphans the rest;
//! - then one zstd stream of records, flushed every second (a crash loses at most the
//!   unflushed second and leaves a torn tail, which the reader reports and skips);
//! - a record is its kind (`u8`), its time (Unix ms, `i64` LE), its payload's length
//!   (`u32` LE), the payload, and a CRC-32 of all of that (`u32` LE): damaged bytes are
//!   reported, never replayed.
//!
//! The stream uses long-distance matching over a 128 MiB window: a chain photo is
//! mostly the photo before it, and compresses to a small fraction of its size.
//!
//! The index lists the segment's time range, record count and the epochs the live run
//! started in it (with their times): the recording's map, shown before a replay and
//! used to check `--from`/`--to`. It is rewritten when an epoch starts and when the
//! segment is closed; a segment whose recorder died has an index that may stop short
//! (`closed: false`), which the reader says.
//!
//! # Never in the way
//!
//! The [`Recorder`] is fed on the ingestion loop's hot path and never blocks it: a
//! frame is handed over as shared bytes through a queue bounded in records and bytes,
//! and a thread of its own compresses and writes. When the disk falls behind, records
//! are dropped and counted ([`RecorderStats`]), never waited for, and the next record
//! written is preceded by a `Dropped` record saying how many: a hole in a recording
//! is marked where it is. When the directory outgrows its budget the oldest segments
//! are deleted, logged and counted; a reader says when a recording no longer begins
//! with its first segment.

mod event;
mod reader;
mod writer;

pub use event::{Event, Feed, Kind};
pub use reader::{Problem, Recording, RecordingError, Records, SegmentInfo};
pub use writer::{Recorder, RecorderConfig, RecorderDone, RecorderError, RecorderStats};

use serde::{Deserialize, Serialize};

/// The format this build writes and the newest it reads.
pub const FORMAT_VERSION: u16 = 1;

/// The bytes every segment starts with.
pub const MAGIC: &[u8; 8] = b"CBRECORD";

/// What a recording is of, repeated at the start of every segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The format version the segment was written in.
    pub format: u16,
    /// The chainboard version that wrote it.
    pub writer: String,
    /// When the recording started, Unix ms.
    pub started_ms: i64,
    /// The underlyings ingested, in the order the service ran them.
    pub underlyings: Vec<String>,
    /// The settings a replay needs to do what the live run did (the engines' and
    /// the models'), as the service spells them; opaque to this crate.
    pub settings: serde_json::Value,
}

/// An epoch the live run started, as the index lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochMark {
    /// When, Unix ms.
    pub at_ms: i64,
    /// The epoch id.
    pub id: String,
    /// Why it started.
    pub reason: String,
}

/// A segment's index (`seg-N.index.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentIndex {
    /// The segment's number.
    pub segment: u64,
    /// The first record's time, Unix ms.
    pub first_ms: Option<i64>,
    /// The last record's time, Unix ms.
    pub last_ms: Option<i64>,
    /// Records written.
    pub records: u64,
    /// Their size before compression.
    pub raw_bytes: u64,
    /// Epochs started in the segment.
    pub epochs: Vec<EpochMark>,
    /// Whether the recorder closed the segment (else the index may stop short).
    pub closed: bool,
}

/// The file name of segment `n`.
pub fn segment_name(n: u64) -> String {
    format!("seg-{n:08}.cbrec")
}

/// The file name of segment `n`'s index.
pub fn index_name(n: u64) -> String {
    format!("seg-{n:08}.index.json")
}

/// The segment number of a file name, if it is a segment's.
pub fn segment_number(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("seg-")?.strip_suffix(".cbrec")?;
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}
