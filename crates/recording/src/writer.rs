//! The recorder: a bounded hand-off on the caller's side, a thread that compresses,
//! writes, rotates and deletes on the other.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::{
    EpochMark, Event, FORMAT_VERSION, Header, MAGIC, SegmentIndex, index_name, segment_name,
    segment_number,
};

/// The zstd window: 2^27 = 128 MiB, more than a full SPX photo (about 25 MB of JSON),
/// so each photo is matched against the one before it.
pub(crate) const WINDOW_LOG: u32 = 27;

/// Where and how much to record.
#[derive(Debug, Clone)]
pub struct RecorderConfig {
    /// The recording's directory (created if missing; must not hold a recording).
    pub dir: PathBuf,
    /// The directory's budget: when the segments outgrow it, the oldest are deleted.
    pub max_bytes: u64,
    /// A segment is closed and the next begun past this many compressed bytes.
    pub segment_bytes: u64,
    /// Records waiting for the disk, at most (beyond it: dropped, counted).
    pub queue_records: usize,
    /// Bytes waiting for the disk, at most (beyond it: dropped, counted).
    pub queue_bytes: u64,
    /// How often what was written is flushed to the file (a crash loses at most this).
    pub flush_every: Duration,
    /// The zstd level.
    pub level: i32,
}

impl RecorderConfig {
    /// Defaults for `dir` with a budget of `max_bytes`: eight or more segments of
    /// 1 to 256 MiB, a queue of 64k records and 256 MiB (a stalled disk for several
    /// seconds, or a few chain photos), a flush a second, zstd level 3.
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> Self {
        Self {
            dir: dir.into(),
            max_bytes,
            segment_bytes: (max_bytes / 8).clamp(1 << 20, 256 << 20),
            queue_records: 65_536,
            queue_bytes: 256 << 20,
            flush_every: Duration::from_secs(1),
            level: 3,
        }
    }
}

/// Why a recording could not begin.
#[derive(Debug, Error)]
pub enum RecorderError {
    /// The directory is unusable.
    #[error("cannot record into {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The directory already holds a recording.
    #[error(
        "{0} already holds a recording ({1}); record into an empty or new directory, or move that one away"
    )]
    NotEmpty(PathBuf, String),
}

/// What the recorder did, shared with whoever reports it (`/metrics`).
#[derive(Debug, Default)]
pub struct RecorderStats {
    /// Records written.
    pub records: AtomicU64,
    /// Their bytes before compression.
    pub raw_bytes: AtomicU64,
    /// Bytes written to segment files.
    pub written_bytes: AtomicU64,
    /// Records dropped because the queue was full or the recorder had stopped.
    pub dropped: AtomicU64,
    /// Their bytes.
    pub dropped_bytes: AtomicU64,
    /// Bytes waiting for the disk now.
    pub queued_bytes: AtomicU64,
    /// Segments begun.
    pub segments: AtomicU64,
    /// Old segments deleted to stay within the budget.
    pub segments_deleted: AtomicU64,
    /// Write errors (the first stops the recording; ingestion goes on).
    pub errors: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl RecorderStats {
    /// The write error that stopped the recording, if any.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The hot path's side of a recording. [`Recorder::record`] never blocks.
#[derive(Debug)]
pub struct Recorder {
    tx: Option<SyncSender<(i64, Event)>>,
    stats: Arc<RecorderStats>,
    queue_bytes: u64,
    dir: PathBuf,
    thread: RecorderDone,
}

/// Waits for a recorder's thread to write what was queued and close its segment,
/// after the [`Recorder`] itself was closed or dropped (a service stopping).
#[derive(Debug, Clone)]
pub struct RecorderDone(Arc<Mutex<Option<JoinHandle<()>>>>);

impl RecorderDone {
    /// Blocks until the thread has finished (at once if it has, or was waited for).
    pub fn wait(&self) {
        let thread = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

impl Recorder {
    /// Creates the directory if needed, begins the first segment (so a directory that
    /// cannot be written is an error now, not a log line later) and starts the
    /// writing thread.
    pub fn start(config: RecorderConfig, header: Header) -> Result<Self, RecorderError> {
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| RecorderError::Io { path, source }
        };
        std::fs::create_dir_all(&config.dir).map_err(io_err(&config.dir))?;
        for entry in std::fs::read_dir(&config.dir).map_err(io_err(&config.dir))? {
            let name = entry.map_err(io_err(&config.dir))?.file_name();
            let name = name.to_string_lossy();
            if segment_number(&name).is_some() {
                return Err(RecorderError::NotEmpty(
                    config.dir.clone(),
                    name.into_owned(),
                ));
            }
        }
        let stats = Arc::new(RecorderStats::default());
        let first = Segment::begin(&config, &header, 1, &stats)?;
        let (tx, rx) = mpsc::sync_channel(config.queue_records.max(1));
        let writer = Writer {
            config: config.clone(),
            header,
            stats: stats.clone(),
            closed: VecDeque::new(),
        };
        let thread = std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || writer.run(first, rx))
            .map_err(io_err(&config.dir))?;
        Ok(Self {
            tx: Some(tx),
            stats,
            queue_bytes: config.queue_bytes,
            dir: config.dir,
            thread: RecorderDone(Arc::new(Mutex::new(Some(thread)))),
        })
    }

    /// Hands `event`, consumed at `at_ms`, to the writer; `false` if it was dropped
    /// (queue full, or the recording stopped), counted either way. Never blocks; a
    /// frame's bytes are shared, not copied.
    pub fn record(&self, at_ms: i64, event: Event) -> bool {
        let size = event.payload_len() as u64 + RECORD_OVERHEAD;
        let queued = self.stats.queued_bytes.fetch_add(size, Ordering::Relaxed);
        let sent = queued + size <= self.queue_bytes
            && self
                .tx
                .as_ref()
                .is_some_and(|tx| match tx.try_send((at_ms, event)) {
                    Ok(()) => true,
                    Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
                });
        if !sent {
            self.stats.queued_bytes.fetch_sub(size, Ordering::Relaxed);
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            self.stats.dropped_bytes.fetch_add(size, Ordering::Relaxed);
        }
        sent
    }

    /// The counters.
    pub fn stats(&self) -> &Arc<RecorderStats> {
        &self.stats
    }

    /// The directory recorded into.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What waits for the thread once the recorder is gone.
    pub fn done(&self) -> RecorderDone {
        self.thread.clone()
    }

    /// Writes what is queued, closes the segment with its index and waits for the
    /// thread.
    pub fn close(mut self) {
        self.tx = None;
        self.thread.wait();
    }
}

impl Drop for Recorder {
    /// Lets the thread finish what is queued and close the segment on its own
    /// ([`RecorderDone::wait`] waits for it).
    fn drop(&mut self) {
        self.tx = None;
    }
}

/// A record's bytes besides its payload: kind, time, length, CRC.
const RECORD_OVERHEAD: u64 = 1 + 8 + 4 + 4;

/// A file that counts what is written to it.
#[derive(Debug)]
struct Counting {
    file: File,
    written: u64,
    stats: Arc<RecorderStats>,
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        self.stats
            .written_bytes
            .fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

struct Segment {
    path: PathBuf,
    encoder: zstd::stream::write::Encoder<'static, Counting>,
    index: SegmentIndex,
    dirty: bool,
}

impl Segment {
    fn begin(
        config: &RecorderConfig,
        header: &Header,
        n: u64,
        stats: &Arc<RecorderStats>,
    ) -> Result<Self, RecorderError> {
        let path = config.dir.join(segment_name(n));
        let failed = |source| RecorderError::Io {
            path: path.clone(),
            source,
        };
        let mut file = File::create_new(&path).map_err(failed)?;
        let json = serde_json::to_vec(header).map_err(|e| failed(e.into()))?;
        let mut head = Vec::with_capacity(16 + json.len());
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        head.extend_from_slice(&[0, 0]);
        head.extend_from_slice(&(json.len() as u32).to_le_bytes());
        head.extend_from_slice(&json);
        file.write_all(&head).map_err(failed)?;
        stats
            .written_bytes
            .fetch_add(head.len() as u64, Ordering::Relaxed);
        let counting = Counting {
            file,
            written: head.len() as u64,
            stats: stats.clone(),
        };
        let mut encoder =
            zstd::stream::write::Encoder::new(counting, config.level).map_err(failed)?;
        encoder.long_distance_matching(true).map_err(failed)?;
        encoder.window_log(WINDOW_LOG).map_err(failed)?;
        stats.segments.fetch_add(1, Ordering::Relaxed);
        Ok(Self {
            path,
            encoder,
            index: SegmentIndex {
                segment: n,
                ..SegmentIndex::default()
            },
            dirty: false,
        })
    }

    fn append(&mut self, at_ms: i64, event: &Event, scratch: &mut Vec<u8>) -> io::Result<u64> {
        let len = event.payload_len();
        scratch.clear();
        scratch.push(event.kind() as u8);
        scratch.extend_from_slice(&at_ms.to_le_bytes());
        scratch.extend_from_slice(&(len as u32).to_le_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(scratch);
        self.encoder.write_all(scratch)?;
        let mut failed = None;
        event.write_payload(&mut |piece: &[u8]| {
            crc.update(piece);
            if failed.is_none()
                && let Err(e) = self.encoder.write_all(piece)
            {
                failed = Some(e);
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        self.encoder.write_all(&crc.finalize().to_le_bytes())?;
        self.dirty = true;
        let index = &mut self.index;
        index.first_ms.get_or_insert(at_ms);
        index.last_ms = Some(at_ms);
        index.records += 1;
        let size = len as u64 + RECORD_OVERHEAD;
        index.raw_bytes += size;
        if let Event::EpochStarted { id, reason } = event {
            index.epochs.push(EpochMark {
                at_ms,
                id: id.clone(),
                reason: reason.clone(),
            });
        }
        Ok(size)
    }

    fn flush(&mut self) -> io::Result<()> {
        if std::mem::take(&mut self.dirty) {
            self.encoder.flush()?;
        }
        Ok(())
    }

    fn written(&self) -> u64 {
        self.encoder.get_ref().written
    }

    fn write_index(&self, dir: &Path) -> io::Result<()> {
        write_index(&self.index, dir)
    }

    /// Ends the zstd stream and writes the final index; the segment's size on disk.
    fn close(mut self, dir: &Path) -> io::Result<u64> {
        self.index.closed = true;
        let Segment { encoder, index, .. } = self;
        let counting = encoder.finish()?;
        counting.file.sync_data()?;
        write_index(&index, dir)?;
        Ok(counting.written)
    }
}

/// Writes `index` beside its segment (to a temporary name, then renamed, so a reader
/// never sees half of one).
fn write_index(index: &SegmentIndex, dir: &Path) -> io::Result<()> {
    let name = index_name(index.segment);
    let tmp = dir.join(format!("{name}.tmp"));
    std::fs::write(&tmp, serde_json::to_vec_pretty(index)?)?;
    std::fs::rename(tmp, dir.join(name))
}

struct Writer {
    config: RecorderConfig,
    header: Header,
    stats: Arc<RecorderStats>,
    /// Closed segments still on disk, oldest first: number and size (with index).
    closed: VecDeque<(u64, u64)>,
}

impl Writer {
    fn run(mut self, first: Segment, rx: mpsc::Receiver<(i64, Event)>) {
        let mut segment = Some(first);
        let mut scratch = Vec::with_capacity(64);
        let mut flushed = Instant::now();
        // Drops already marked in the recording.
        let mut marked = 0;
        loop {
            let wait = self.config.flush_every.saturating_sub(flushed.elapsed());
            let next = rx.recv_timeout(wait);
            if let Ok((at_ms, event)) = &next {
                let size = event.payload_len() as u64 + RECORD_OVERHEAD;
                self.stats.queued_bytes.fetch_sub(size, Ordering::Relaxed);
                // A hole says so where it is, so a replay knows what follows may
                // not be what ran.
                let dropped = self.stats.dropped.load(Ordering::Relaxed);
                if dropped > marked
                    && let Some(s) = segment.as_mut()
                {
                    let mark = Event::Dropped {
                        records: dropped - marked,
                    };
                    marked = dropped;
                    if let Err(e) = self.write(s, *at_ms, &mark, &mut scratch) {
                        self.fail(&s.path, e);
                        segment = None;
                    }
                }
                match segment.as_mut() {
                    Some(s) => match self.write(s, *at_ms, event, &mut scratch) {
                        Ok(()) => {}
                        Err(e) => {
                            self.fail(&s.path, e);
                            segment = None;
                        }
                    },
                    None => {
                        self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                        self.stats.dropped_bytes.fetch_add(size, Ordering::Relaxed);
                    }
                }
                if let Some(s) = segment.take() {
                    segment = self.maybe_rotate(s);
                }
            }
            if matches!(next, Err(RecvTimeoutError::Disconnected)) {
                if let Some(s) = segment.take() {
                    let path = s.path.clone();
                    if let Err(e) = s.close(&self.config.dir) {
                        self.fail(&path, e);
                    }
                }
                return;
            }
            if flushed.elapsed() >= self.config.flush_every {
                flushed = Instant::now();
                if let Some(s) = segment.as_mut()
                    && let Err(e) = s.flush()
                {
                    self.fail(&s.path, e);
                    segment = None;
                }
            }
        }
    }

    fn write(
        &self,
        s: &mut Segment,
        at_ms: i64,
        event: &Event,
        scratch: &mut Vec<u8>,
    ) -> io::Result<()> {
        let size = s.append(at_ms, event, scratch)?;
        self.stats.records.fetch_add(1, Ordering::Relaxed);
        self.stats.raw_bytes.fetch_add(size, Ordering::Relaxed);
        if matches!(event, Event::EpochStarted { .. }) {
            s.flush()?;
            s.write_index(&self.config.dir)?;
        }
        Ok(())
    }

    /// Closes `s` and begins the next segment when `s` is full, then deletes the
    /// oldest segments while the recording is over its budget.
    fn maybe_rotate(&mut self, s: Segment) -> Option<Segment> {
        if s.written() < self.config.segment_bytes {
            return Some(s);
        }
        let n = s.index.segment;
        let path = s.path.clone();
        match s.close(&self.config.dir) {
            Ok(size) => self.closed.push_back((n, size)),
            Err(e) => {
                self.fail(&path, e);
                return None;
            }
        }
        let next = match Segment::begin(&self.config, &self.header, n + 1, &self.stats) {
            Ok(next) => next,
            Err(e) => {
                self.fail_with(e.to_string());
                return None;
            }
        };
        // The open segment may grow to `segment_bytes`: room is kept for it.
        let mut total: u64 = self.closed.iter().map(|(_, size)| size).sum();
        total += self.config.segment_bytes;
        while total > self.config.max_bytes
            && let Some((old, size)) = self.closed.pop_front()
        {
            let dir = &self.config.dir;
            let removed = std::fs::remove_file(dir.join(segment_name(old)));
            let _ = std::fs::remove_file(dir.join(index_name(old)));
            total -= size;
            match removed {
                Ok(()) => {
                    self.stats.segments_deleted.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        segment = %segment_name(old),
                        bytes = size,
                        budget = self.config.max_bytes,
                        "recording over its budget; oldest segment deleted"
                    );
                }
                Err(e) => {
                    tracing::warn!(segment = %segment_name(old), error = %e, "cannot delete an old segment")
                }
            }
        }
        Some(next)
    }

    fn fail(&self, path: &Path, e: io::Error) {
        self.fail_with(format!("{}: {e}", path.display()));
    }

    /// The first write error stops the recording: later records are dropped and
    /// counted; ingestion never notices.
    fn fail_with(&self, error: String) {
        self.stats.errors.fetch_add(1, Ordering::Relaxed);
        tracing::error!(%error, "recording stopped: cannot write; later records are dropped and counted");
        *self
            .stats
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(error);
    }
}
