//! Reading a recording back: its segments in order, each record checked, damage
//! reported with the file and offset and skipped, never applied.

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::event::Kind;
use crate::writer::WINDOW_LOG;
use crate::{Event, FORMAT_VERSION, Header, MAGIC, SegmentIndex, index_name, segment_number};

/// The largest record a reader accepts: far above a full chain photo (about 25 MB),
/// far below what a damaged length could make it allocate.
const MAX_RECORD: usize = 1 << 30;

/// The largest segment header a reader accepts.
const MAX_HEADER: usize = 1 << 20;

/// Why a recording cannot be replayed at all.
#[derive(Debug, Error)]
pub enum RecordingError {
    /// The directory is missing or unreadable.
    #[error("cannot read the recording {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// No segment in it can be read.
    #[error("{path} holds no readable recording ({why})")]
    Empty {
        /// The directory.
        path: PathBuf,
        /// What was found.
        why: String,
    },
}

/// Damage found while reading: where, and what was skipped because of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The segment file.
    pub path: PathBuf,
    /// The byte offset: in the file for a segment's header, in the segment's
    /// decompressed stream for a record.
    pub offset: u64,
    /// What is wrong and what was skipped.
    pub what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at offset {}: {}",
            self.path.display(),
            self.offset,
            self.what
        )
    }
}

/// A segment found in the directory.
#[derive(Debug, Clone)]
pub struct SegmentInfo {
    /// Its number.
    pub number: u64,
    /// Its file.
    pub path: PathBuf,
    /// Its size on disk.
    pub bytes: u64,
    /// Where its record stream begins in the file.
    start: u64,
    /// Its index, if one was written.
    pub index: Option<SegmentIndex>,
}

/// A recording opened for replay.
#[derive(Debug, Clone)]
pub struct Recording {
    dir: PathBuf,
    header: Header,
    segments: Vec<SegmentInfo>,
}

impl Recording {
    /// Opens the recording in `dir`: every segment's header is read and checked.
    /// Segments that cannot be used (unreadable, not a segment, a newer format,
    /// another recording's) are returned as problems and left out; it is an error
    /// only when none is left.
    pub fn open(dir: &Path) -> Result<(Self, Vec<Problem>), RecordingError> {
        let io_err = |source| RecordingError::Io {
            path: dir.to_owned(),
            source,
        };
        let mut numbered = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io_err)? {
            let entry = entry.map_err(io_err)?;
            if let Some(n) = segment_number(&entry.file_name().to_string_lossy()) {
                numbered.push((n, entry.path()));
            }
        }
        numbered.sort();
        let found = numbered.clone();
        let mut problems = Vec::new();
        let mut header: Option<Header> = None;
        let mut segments = Vec::new();
        for (number, path) in numbered {
            let (seg_header, start, bytes) = match read_header(&path) {
                Ok(h) => h,
                Err((offset, what)) => {
                    problems.push(Problem {
                        path,
                        offset,
                        what: format!("{what}; segment skipped"),
                    });
                    continue;
                }
            };
            match &header {
                Some(h) if h.started_ms != seg_header.started_ms => {
                    problems.push(Problem {
                        path,
                        offset: 0,
                        what: format!(
                            "a segment of another recording (started at {} ms, not {} ms); skipped",
                            seg_header.started_ms, h.started_ms
                        ),
                    });
                    continue;
                }
                Some(_) => {}
                None => header = Some(seg_header),
            }
            let index = std::fs::read(dir.join(index_name(number)))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            segments.push(SegmentInfo {
                number,
                path,
                bytes,
                start,
                index,
            });
        }
        // Deleted old segments (the budget) or a missing one: said, because what
        // follows a missing start cannot replay as it ran.
        let mut expected = 1;
        for &(number, ref path) in &found {
            if number != expected {
                let what = if expected == 1 {
                    format!(
                        "the recording begins at segment {number}: older segments were deleted (the recording's budget) and with them the photos its epochs began with; until the next epoch the replay is not the live run"
                    )
                } else {
                    format!("segment {expected} is missing; the replay jumps over it")
                };
                problems.push(Problem {
                    path: path.clone(),
                    offset: 0,
                    what,
                });
            }
            expected = number + 1;
        }
        let Some(header) = header else {
            let why = match problems.first() {
                Some(p) => p.to_string(),
                None => "no seg-NNNNNNNN.cbrec files".to_owned(),
            };
            return Err(RecordingError::Empty {
                path: dir.to_owned(),
                why,
            });
        };
        Ok((
            Self {
                dir: dir.to_owned(),
                header,
                segments,
            },
            problems,
        ))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What the recording is of (its first readable segment's header).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Its segments, oldest first.
    pub fn segments(&self) -> &[SegmentInfo] {
        &self.segments
    }

    /// Every record, oldest first, with damage reported in place.
    pub fn records(&self) -> Records {
        Records {
            segments: self.segments.clone().into_iter(),
            current: None,
        }
    }
}

/// Reads and checks a segment's header: the header, where the records begin, the
/// file's size; or the offset and what is wrong.
fn read_header(path: &Path) -> Result<(Header, u64, u64), (u64, String)> {
    let mut file = File::open(path).map_err(|e| (0, format!("unreadable: {e}")))?;
    let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut fixed = [0u8; 16];
    file.read_exact(&mut fixed).map_err(|_| {
        (
            0,
            format!("shorter ({bytes} bytes) than a segment's header"),
        )
    })?;
    if &fixed[..8] != MAGIC {
        return Err((
            0,
            "not a chainboard recording segment (bad magic)".to_owned(),
        ));
    }
    let version = u16::from_le_bytes([fixed[8], fixed[9]]);
    if version > FORMAT_VERSION {
        return Err((
            8,
            format!(
                "written in format {version}, newer than this build reads ({FORMAT_VERSION}); replay it with a newer chainboard"
            ),
        ));
    }
    let len = u32::from_le_bytes([fixed[12], fixed[13], fixed[14], fixed[15]]) as usize;
    if len > MAX_HEADER {
        return Err((12, format!("a header of {len} bytes is not a segment's")));
    }
    let mut json = vec![0; len];
    file.read_exact(&mut json)
        .map_err(|_| (16, "the header stops short".to_owned()))?;
    let header: Header =
        serde_json::from_slice(&json).map_err(|e| (16, format!("unreadable header: {e}")))?;
    Ok((header, 16 + len as u64, bytes))
}

/// The records of a recording, segment after segment.
#[derive(Debug)]
pub struct Records {
    segments: std::vec::IntoIter<SegmentInfo>,
    current: Option<SegmentReader>,
}

struct SegmentReader {
    path: PathBuf,
    decoder: zstd::stream::read::Decoder<'static, BufReader<File>>,
    /// Decompressed bytes read so far.
    offset: u64,
}

impl fmt::Debug for SegmentReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SegmentReader")
            .field("path", &self.path)
            .field("offset", &self.offset)
            .finish()
    }
}

/// What reading one record found.
enum Next {
    Record(i64, Event),
    End,
    /// A record from a newer build: reported, skipped, the segment goes on.
    Skip(Problem),
    /// Damage: reported, the rest of the segment skipped.
    Broken(Problem),
}

impl SegmentReader {
    fn open(info: &SegmentInfo) -> Result<Self, Problem> {
        let problem = |what: String| Problem {
            path: info.path.clone(),
            offset: info.start,
            what,
        };
        let mut file = File::open(&info.path).map_err(|e| problem(format!("unreadable: {e}")))?;
        io::Seek::seek(&mut file, io::SeekFrom::Start(info.start))
            .map_err(|e| problem(format!("unreadable: {e}")))?;
        let mut decoder = zstd::stream::read::Decoder::new(file)
            .map_err(|e| problem(format!("cannot decompress: {e}")))?;
        decoder
            .window_log_max(WINDOW_LOG)
            .map_err(|e| problem(format!("cannot decompress: {e}")))?;
        Ok(Self {
            path: info.path.clone(),
            decoder,
            offset: 0,
        })
    }

    fn problem(&self, offset: u64, what: impl Into<String>) -> Problem {
        Problem {
            path: self.path.clone(),
            offset,
            what: what.into(),
        }
    }

    fn next(&mut self) -> Next {
        let at = self.offset;
        let torn = |e: Option<io::Error>| {
            let cause = e.map_or_else(|| "the stream ends".to_owned(), |e| e.to_string());
            format!(
                "torn tail ({cause}): the recorder did not close this segment (a crash?); the rest of it is skipped"
            )
        };
        let mut head = [0u8; 13];
        match fill(&mut self.decoder, &mut head) {
            Ok(0) => return Next::End,
            Ok(13) => {}
            Ok(_) => return Next::Broken(self.problem(at, torn(None))),
            Err(e) => return Next::Broken(self.problem(at, torn(Some(e)))),
        }
        let len = u32::from_le_bytes([head[9], head[10], head[11], head[12]]) as usize;
        if len > MAX_RECORD {
            return Next::Broken(self.problem(
                at,
                format!(
                    "damaged record (a length of {len} bytes); the rest of the segment is skipped"
                ),
            ));
        }
        let mut payload = Vec::new();
        let read = (&mut self.decoder)
            .take(len as u64)
            .read_to_end(&mut payload);
        let mut crc = [0u8; 4];
        let crc_read = fill(&mut self.decoder, &mut crc);
        match (read, crc_read) {
            (Ok(n), Ok(4)) if n == len => {}
            (Err(e), _) | (_, Err(e)) => return Next::Broken(self.problem(at, torn(Some(e)))),
            _ => return Next::Broken(self.problem(at, torn(None))),
        }
        self.offset += 13 + len as u64 + 4;
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&head);
        hasher.update(&payload);
        if hasher.finalize() != u32::from_le_bytes(crc) {
            return Next::Broken(self.problem(
                at,
                "damaged record (checksum mismatch); the rest of the segment is skipped",
            ));
        }
        let at_ms = i64::from_le_bytes([
            head[1], head[2], head[3], head[4], head[5], head[6], head[7], head[8],
        ]);
        let Some(kind) = Kind::from_byte(head[0]) else {
            return Next::Skip(self.problem(
                at,
                format!(
                    "a record of kind {} this build does not know; skipped",
                    head[0]
                ),
            ));
        };
        match Event::read(kind, payload) {
            Some(event) => Next::Record(at_ms, event),
            None => Next::Skip(self.problem(
                at,
                format!("a {kind:?} record this build cannot read; skipped"),
            )),
        }
    }
}

/// Reads until `buf` is full or the stream ends; the bytes read.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl Iterator for Records {
    /// A record with its time (Unix ms), or damage that was skipped.
    type Item = Result<(i64, Event), Problem>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some(reader) = self.current.as_mut() else {
                let info = self.segments.next()?;
                match SegmentReader::open(&info) {
                    Ok(r) => self.current = Some(r),
                    Err(p) => return Some(Err(p)),
                }
                continue;
            };
            match reader.next() {
                Next::Record(at_ms, event) => return Some(Ok((at_ms, event))),
                Next::Skip(p) => return Some(Err(p)),
                Next::Broken(p) => {
                    self.current = None;
                    return Some(Err(p));
                }
                Next::End => self.current = None,
            }
        }
    }
}
