//! The records: what the ingestion loop consumed, and how each is laid out.

use bytes::Bytes;

/// Which WebSocket connection a frame or a control event is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// `/options`: quotes and trades.
    Options,
    /// `/indices`: index values.
    Indices,
}

impl Feed {
    fn byte(self) -> u8 {
        match self {
            Feed::Options => 0,
            Feed::Indices => 1,
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(Feed::Options),
            1 => Some(Feed::Indices),
            _ => None,
        }
    }
}

/// A record's kind, its first byte on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// A text frame of the options connection.
    OptionsFrame = 1,
    /// A text frame of the indices connection.
    IndicesFrame = 2,
    /// A connection authenticated.
    Connected = 3,
    /// A connection ended (a reconnect follows).
    Disconnected = 4,
    /// Options frames were dropped before the loop saw them.
    Overflow = 5,
    /// A connection stopped for good.
    FeedDown = 6,
    /// A complete chain photo, as its pages.
    Photo = 7,
    /// A chain load failed after its retries.
    LoadFailed = 8,
    /// The market opened or closed.
    Market = 9,
    /// A manual epoch was asked for.
    Manual = 10,
    /// The loop's poll: watchdogs, re-plan, the store's and the models' ticks.
    Poll = 11,
    /// The live run started an epoch (a mark, not an input: replay checks it).
    EpochStarted = 12,
    /// The recorder dropped records here (its queue was full): what follows may
    /// not replay as it ran.
    Dropped = 13,
}

impl Kind {
    pub(crate) fn from_byte(b: u8) -> Option<Self> {
        use Kind::*;
        Some(match b {
            1 => OptionsFrame,
            2 => IndicesFrame,
            3 => Connected,
            4 => Disconnected,
            5 => Overflow,
            6 => FeedDown,
            7 => Photo,
            8 => LoadFailed,
            9 => Market,
            10 => Manual,
            11 => Poll,
            12 => EpochStarted,
            13 => Dropped,
            _ => return None,
        })
    }
}

/// One thing the ingestion loop consumed (or, for [`Event::EpochStarted`], did).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A WebSocket text frame, as received.
    Frame {
        /// Which connection.
        feed: Feed,
        /// The frame's text (shared with the socket's buffer when recorded).
        text: Bytes,
    },
    /// A connection authenticated.
    Connected {
        /// Which.
        feed: Feed,
    },
    /// A connection ended.
    Disconnected {
        /// Which.
        feed: Feed,
        /// Why, as logged.
        reason: String,
    },
    /// Options frames dropped before the loop saw them (a gap).
    Overflow {
        /// How many.
        dropped: u64,
    },
    /// A connection stopped for good.
    FeedDown {
        /// Which.
        feed: Feed,
        /// Why.
        error: String,
    },
    /// A complete chain photo: the pages Massive returned, in order.
    Photo {
        /// The underlying.
        underlying: String,
        /// When its load began, Unix ms (the photo's own time).
        taken_at_ms: i64,
        /// Page retries the load spent.
        retries: u32,
        /// The response bodies.
        pages: Vec<String>,
    },
    /// A chain load failed after its retries.
    LoadFailed {
        /// The underlying.
        underlying: String,
        /// Whether ingestion stopped on it.
        fatal: bool,
        /// Why.
        error: String,
    },
    /// Massive's market status.
    Market {
        /// Open or not.
        open: bool,
    },
    /// A manual epoch asked for.
    Manual {
        /// The underlying.
        underlying: String,
    },
    /// The loop's poll.
    Poll,
    /// The live run started an epoch.
    EpochStarted {
        /// Its id.
        id: String,
        /// Why.
        reason: String,
    },
    /// Records the recorder dropped since the last record it wrote (written by the
    /// recorder itself, before the next record it keeps).
    Dropped {
        /// How many.
        records: u64,
    },
}

impl Event {
    /// The record kind.
    pub fn kind(&self) -> Kind {
        match self {
            Event::Frame {
                feed: Feed::Options,
                ..
            } => Kind::OptionsFrame,
            Event::Frame {
                feed: Feed::Indices,
                ..
            } => Kind::IndicesFrame,
            Event::Connected { .. } => Kind::Connected,
            Event::Disconnected { .. } => Kind::Disconnected,
            Event::Overflow { .. } => Kind::Overflow,
            Event::FeedDown { .. } => Kind::FeedDown,
            Event::Photo { .. } => Kind::Photo,
            Event::LoadFailed { .. } => Kind::LoadFailed,
            Event::Market { .. } => Kind::Market,
            Event::Manual { .. } => Kind::Manual,
            Event::Poll => Kind::Poll,
            Event::EpochStarted { .. } => Kind::EpochStarted,
            Event::Dropped { .. } => Kind::Dropped,
        }
    }

    /// The payload's length in bytes.
    pub fn payload_len(&self) -> usize {
        let mut n = 0;
        self.write_payload(&mut |b: &[u8]| n += b.len());
        n
    }

    /// Hands the payload to `out` in pieces (a photo's pages are never copied into
    /// one buffer).
    pub(crate) fn write_payload(&self, out: &mut impl FnMut(&[u8])) {
        match self {
            Event::Frame { text, .. } => out(text),
            Event::Connected { feed } => out(&[feed.byte()]),
            Event::Disconnected { feed, reason: text } | Event::FeedDown { feed, error: text } => {
                out(&[feed.byte()]);
                out(text.as_bytes());
            }
            Event::Overflow { dropped: n } | Event::Dropped { records: n } => out(&n.to_le_bytes()),
            Event::Photo {
                underlying,
                taken_at_ms,
                retries,
                pages,
            } => {
                short(out, underlying);
                out(&taken_at_ms.to_le_bytes());
                out(&retries.to_le_bytes());
                out(&(pages.len() as u32).to_le_bytes());
                for page in pages {
                    out(&(page.len() as u32).to_le_bytes());
                    out(page.as_bytes());
                }
            }
            Event::LoadFailed {
                underlying,
                fatal,
                error,
            } => {
                short(out, underlying);
                out(&[u8::from(*fatal)]);
                out(error.as_bytes());
            }
            Event::Market { open } => out(&[u8::from(*open)]),
            Event::Manual { underlying } => out(underlying.as_bytes()),
            Event::Poll => {}
            Event::EpochStarted { id, reason } => {
                short(out, id);
                out(reason.as_bytes());
            }
        }
    }

    /// Reads a payload of `kind` back; `None` if it is not one this build wrote.
    pub(crate) fn read(kind: Kind, payload: Vec<u8>) -> Option<Self> {
        let mut r = Cursor(&payload);
        let event = match kind {
            Kind::OptionsFrame | Kind::IndicesFrame => {
                std::str::from_utf8(&payload).ok()?;
                let feed = if kind == Kind::OptionsFrame {
                    Feed::Options
                } else {
                    Feed::Indices
                };
                return Some(Event::Frame {
                    feed,
                    text: Bytes::from(payload),
                });
            }
            Kind::Connected => Event::Connected {
                feed: Feed::from_byte(r.u8()?)?,
            },
            Kind::Disconnected => Event::Disconnected {
                feed: Feed::from_byte(r.u8()?)?,
                reason: r.rest()?,
            },
            Kind::FeedDown => Event::FeedDown {
                feed: Feed::from_byte(r.u8()?)?,
                error: r.rest()?,
            },
            Kind::Overflow => Event::Overflow {
                dropped: u64::from_le_bytes(r.array()?),
            },
            Kind::Dropped => Event::Dropped {
                records: u64::from_le_bytes(r.array()?),
            },
            Kind::Photo => {
                let underlying = r.short()?;
                let taken_at_ms = i64::from_le_bytes(r.array()?);
                let retries = u32::from_le_bytes(r.array()?);
                let n = u32::from_le_bytes(r.array()?) as usize;
                let mut pages = Vec::with_capacity(n.min(4_096));
                for _ in 0..n {
                    let len = u32::from_le_bytes(r.array()?) as usize;
                    pages.push(std::str::from_utf8(r.take(len)?).ok()?.to_owned());
                }
                Event::Photo {
                    underlying,
                    taken_at_ms,
                    retries,
                    pages,
                }
            }
            Kind::LoadFailed => Event::LoadFailed {
                underlying: r.short()?,
                fatal: r.u8()? != 0,
                error: r.rest()?,
            },
            Kind::Market => Event::Market { open: r.u8()? != 0 },
            Kind::Manual => Event::Manual {
                underlying: r.rest()?,
            },
            Kind::Poll => Event::Poll,
            Kind::EpochStarted => Event::EpochStarted {
                id: r.short()?,
                reason: r.rest()?,
            },
        };
        r.0.is_empty().then_some(event)
    }
}

/// A short string: its length in one byte, then its bytes (underlyings, epoch ids,
/// far shorter). One longer than 255 bytes is cut at a character boundary, so what
/// is written always reads back as text.
fn short(out: &mut impl FnMut(&[u8]), s: &str) {
    let mut end = s.len().min(255);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out(&[end as u8]);
    out(&s.as_bytes()[..end]);
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn short(&mut self) -> Option<String> {
        let n = self.u8()? as usize;
        Some(std::str::from_utf8(self.take(n)?).ok()?.to_owned())
    }

    fn rest(&mut self) -> Option<String> {
        let all = self.take(self.0.len())?;
        Some(std::str::from_utf8(all).ok()?.to_owned())
    }
}
