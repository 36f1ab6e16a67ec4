//! The stream's WebSocket connection (RFC 6455, server side), shaped for fan-out.
//!
//! A tick sends the same few documents to every client. What that costs the server is
//! per client: the copies, the calls into the kernel and the wake-ups. A WebSocket
//! library's stream copies each frame into its own write buffer and writes a frame at
//! a time (tungstenite, which this crate used before: about six send calls per client
//! per tick, half of the fan-out's cost in the kernel's send path). Here the messages
//! a client has queued are written with **one vectored write**: for each, a frame
//! header of at most 10 bytes built on the stack, then the shared bytes themselves,
//! never copied. A message of any size is one frame, so nothing is fragmented and no
//! write buffer grows per client.
//!
//! The frame format is tungstenite's ([`FrameHeader::parse`] and
//! [`FrameHeader::format`]); what is here is the small connection around it:
//!
//! - [`Outbox`] writes data frames (text or binary), pongs and the close frame;
//! - [`Inbox`] reads what a client sends: masked frames (RFC 6455 §5.3), text messages
//!   of at most [`MAX_CLIENT_MESSAGE`] bytes, in fragments or not, pings (answered by
//!   the caller with a pong) and the close. A frame that breaks the protocol, a
//!   message too large or a text that is not UTF-8 is a [`Refusal`] carrying the close
//!   code to send (1002, 1009, 1007). Its buffer never holds more than one frame of
//!   that bound.
//!
//! [`parse_frame`] is the pure step (bytes in, a frame or "need more" out) that the
//! property tests drive.

use std::io::{Cursor, IoSlice};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Control, Data, OpCode};

/// The largest message a client may send: a client only ever asks for a resync.
pub(crate) const MAX_CLIENT_MESSAGE: usize = 4 * 1024;

/// Messages written in one vectored write at most: a tick's documents and a status,
/// with room for a client that fell a little behind.
pub(crate) const BATCH: usize = 8;

/// The longest header of a frame the server sends (unmasked, 64-bit length).
const SERVER_HEAD: usize = 10;

/// The longest payload of a control frame (RFC 6455 §5.5).
const MAX_CONTROL: usize = 125;

/// One message for a client: shared bytes, and whether they are text (JSON) or binary
/// (zlib-compressed JSON).
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    /// The message's payload, shared with every other client it goes to.
    pub(crate) bytes: Bytes,
    /// Binary rather than text.
    pub(crate) binary: bool,
}

/// The writing half of a client's connection.
#[derive(Debug)]
pub(crate) struct Outbox<W> {
    io: W,
}

impl<W: AsyncWrite + Unpin> Outbox<W> {
    pub(crate) fn new(io: W) -> Self {
        Self { io }
    }

    /// Writes `messages` (at most [`BATCH`]) as one frame each, in one vectored write
    /// when the socket takes it all.
    pub(crate) async fn send(&mut self, messages: &[Outgoing]) -> std::io::Result<()> {
        let messages = &messages[..messages.len().min(BATCH)];
        let mut heads = [[0u8; SERVER_HEAD]; BATCH];
        let mut lens = [0usize; BATCH];
        for ((message, head), len) in messages.iter().zip(&mut heads).zip(&mut lens) {
            let opcode = OpCode::Data(if message.binary {
                Data::Binary
            } else {
                Data::Text
            });
            *len = format_head(opcode, message.bytes.len(), head);
        }
        let mut slices = [IoSlice::new(&[]); 2 * BATCH];
        for (i, message) in messages.iter().enumerate() {
            slices[2 * i] = IoSlice::new(&heads[i][..lens[i]]);
            slices[2 * i + 1] = IoSlice::new(&message.bytes);
        }
        self.write_all(&mut slices[..2 * messages.len()]).await
    }

    /// Answers a ping with its payload.
    pub(crate) async fn pong(&mut self, payload: &[u8]) -> std::io::Result<()> {
        self.control(Control::Pong, payload).await
    }

    /// Sends the close frame (a code and a reason of at most 123 bytes, cut at a
    /// character boundary).
    pub(crate) async fn close(&mut self, code: CloseCode, reason: &str) -> std::io::Result<()> {
        let mut payload = [0u8; MAX_CONTROL];
        payload[..2].copy_from_slice(&u16::from(code).to_be_bytes());
        let mut cut = reason.len().min(MAX_CONTROL - 2);
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        payload[2..2 + cut].copy_from_slice(&reason.as_bytes()[..cut]);
        self.control(Control::Close, &payload[..2 + cut]).await?;
        self.io.shutdown().await
    }

    async fn control(&mut self, control: Control, payload: &[u8]) -> std::io::Result<()> {
        let payload = &payload[..payload.len().min(MAX_CONTROL)];
        let mut head = [0u8; SERVER_HEAD];
        let len = format_head(OpCode::Control(control), payload.len(), &mut head);
        let mut slices = [IoSlice::new(&head[..len]), IoSlice::new(payload)];
        self.write_all(&mut slices).await
    }

    async fn write_all(&mut self, mut slices: &mut [IoSlice<'_>]) -> std::io::Result<()> {
        // Empty slices first, so that an empty tail never asks for one more call.
        IoSlice::advance_slices(&mut slices, 0);
        while !slices.is_empty() {
            let n = self.io.write_vectored(slices).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            IoSlice::advance_slices(&mut slices, n);
        }
        self.io.flush().await
    }
}

/// Formats a final, unmasked frame header into `head`; returns its length.
fn format_head(opcode: OpCode, payload: usize, head: &mut [u8; SERVER_HEAD]) -> usize {
    let header = FrameHeader {
        is_final: true,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode,
        mask: None,
    };
    let mut cursor = Cursor::new(&mut head[..]);
    // Ten bytes hold any unmasked header, so formatting into them cannot fail.
    let _ = header.format(payload as u64, &mut cursor);
    cursor.position() as usize
}

/// What a client sent.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Incoming<'a> {
    /// A whole text message.
    Text(&'a str),
    /// A whole binary message (the stream has no use for one).
    Binary,
    /// A ping, to be answered with this payload.
    Ping(Bytes),
    /// The client closes the connection.
    Close,
}

/// Why a client's connection is closed by the server, with the close code to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    /// The frames break RFC 6455 (unmasked, reserved bits or opcode, a control frame
    /// too large or fragmented, a continuation out of place).
    #[error("protocol error: {0}")]
    Protocol(&'static str),
    /// A message larger than [`MAX_CLIENT_MESSAGE`].
    #[error("message too big")]
    TooBig,
    /// A text message that is not UTF-8.
    #[error("text is not UTF-8")]
    NotUtf8,
}

impl Refusal {
    /// The close code that says so (RFC 6455 §7.4.1).
    pub(crate) fn code(self) -> CloseCode {
        match self {
            Refusal::Protocol(_) => CloseCode::Protocol,
            Refusal::TooBig => CloseCode::Size,
            Refusal::NotUtf8 => CloseCode::Invalid,
        }
    }
}

/// Why reading from a client ended.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// The client broke the protocol; the connection is to be closed with the code.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The connection ended or failed.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
}

/// One frame of a client's, parsed and unmasked.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ClientFrame {
    pub(crate) opcode: OpCode,
    pub(crate) is_final: bool,
    pub(crate) payload: Vec<u8>,
}

/// Parses the frame at the start of `buf`: `Ok(None)` when more bytes are needed,
/// otherwise the frame and how many bytes it took. A frame is refused before its
/// payload arrives when its header already breaks a rule, so no more than
/// [`MAX_CLIENT_MESSAGE`] bytes are ever waited for.
pub(crate) fn parse_frame(buf: &[u8]) -> Result<Option<(ClientFrame, usize)>, Refusal> {
    let mut cursor = Cursor::new(buf);
    let (header, len) = match FrameHeader::parse(&mut cursor) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => return Ok(None),
        Err(_) => return Err(Refusal::Protocol("reserved opcode")),
    };
    let Some(mask) = header.mask else {
        return Err(Refusal::Protocol("a client's frame must be masked"));
    };
    if header.rsv1 || header.rsv2 || header.rsv3 {
        return Err(Refusal::Protocol("reserved bits set"));
    }
    if let OpCode::Control(_) = header.opcode
        && (len > MAX_CONTROL as u64 || !header.is_final)
    {
        return Err(Refusal::Protocol("control frame too large or fragmented"));
    }
    if len > MAX_CLIENT_MESSAGE as u64 {
        return Err(Refusal::TooBig);
    }
    let head = cursor.position() as usize;
    let end = head + len as usize;
    if buf.len() < end {
        return Ok(None);
    }
    let mut payload = buf[head..end].to_vec();
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask[i % 4];
    }
    let frame = ClientFrame {
        opcode: header.opcode,
        is_final: header.is_final,
        payload,
    };
    Ok(Some((frame, end)))
}

/// The reading half of a client's connection.
#[derive(Debug)]
pub(crate) struct Inbox<R> {
    io: R,
    /// Bytes read and not yet parsed: at most one frame and what followed it.
    buf: BytesMut,
    /// A fragmented message so far, and whether it is text.
    message: Vec<u8>,
    fragmented: Option<bool>,
}

impl<R: AsyncRead + Unpin> Inbox<R> {
    pub(crate) fn new(io: R) -> Self {
        Self {
            io,
            buf: BytesMut::with_capacity(1024),
            message: Vec::new(),
            fragmented: None,
        }
    }

    /// The client's next message or control frame.
    pub(crate) async fn next(&mut self) -> Result<Incoming<'_>, ReadError> {
        loop {
            let Some((frame, used)) = parse_frame(&self.buf)? else {
                // A frame's bytes are bounded by `parse_frame`, so the buffer is too.
                self.buf.reserve(MAX_CLIENT_MESSAGE);
                if self.io.read_buf(&mut self.buf).await? == 0 {
                    return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
                }
                continue;
            };
            self.buf.advance(used);
            let text = match frame.opcode {
                OpCode::Control(Control::Ping) => return Ok(Incoming::Ping(frame.payload.into())),
                OpCode::Control(Control::Close) => return Ok(Incoming::Close),
                OpCode::Control(_) => continue,
                OpCode::Data(Data::Text | Data::Binary) if self.fragmented.is_some() => {
                    return Err(Refusal::Protocol("a new message inside a fragmented one").into());
                }
                OpCode::Data(Data::Continue) if self.fragmented.is_none() => {
                    return Err(Refusal::Protocol("a continuation with no message").into());
                }
                OpCode::Data(Data::Text) => true,
                OpCode::Data(Data::Binary) => false,
                OpCode::Data(_) => self.fragmented.unwrap_or(false),
            };
            if self.fragmented.is_none() {
                self.message.clear();
            }
            if self.message.len() + frame.payload.len() > MAX_CLIENT_MESSAGE {
                return Err(Refusal::TooBig.into());
            }
            self.message.extend_from_slice(&frame.payload);
            if !frame.is_final {
                self.fragmented = Some(text);
                continue;
            }
            self.fragmented = None;
            return if text {
                let text = std::str::from_utf8(&self.message).map_err(|_| Refusal::NotUtf8)?;
                Ok(Incoming::Text(text))
            } else {
                Ok(Incoming::Binary)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::{SinkExt, StreamExt};
    use proptest::prelude::*;
    use tokio::io::{AsyncWriteExt, DuplexStream};
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::Role;
    use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};

    use super::*;

    /// A server's two halves and a client (tungstenite, an independent implementation)
    /// on an in-memory connection.
    async fn pair() -> (
        Inbox<tokio::io::ReadHalf<DuplexStream>>,
        Outbox<tokio::io::WriteHalf<DuplexStream>>,
        WebSocketStream<DuplexStream>,
    ) {
        let (server, client) = tokio::io::duplex(1 << 20);
        let (read, write) = tokio::io::split(server);
        let client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        (Inbox::new(read), Outbox::new(write), client)
    }

    /// A masked client frame's bytes.
    fn client_frame(opcode: OpCode, is_final: bool, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let header = FrameHeader {
            is_final,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode,
            mask: Some(mask),
        };
        let mut bytes = Vec::new();
        header
            .format(payload.len() as u64, &mut bytes)
            .expect("into a Vec");
        bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        bytes
    }

    #[tokio::test]
    async fn a_batch_reaches_a_client_as_whole_messages() {
        let (_inbox, mut outbox, mut client) = pair().await;
        let big = Bytes::from(vec![b'x'; 200_000]);
        let batch = [
            Outgoing {
                bytes: Bytes::from_static(b"{\"a\":1}"),
                binary: false,
            },
            Outgoing {
                bytes: big.clone(),
                binary: true,
            },
            Outgoing {
                bytes: Bytes::from(vec![b'y'; 300]),
                binary: false,
            },
        ];
        outbox.send(&batch).await.expect("sent");
        outbox.close(CloseCode::Away, "bye").await.expect("closed");
        let mut got = Vec::new();
        while let Some(Ok(message)) = client.next().await {
            got.push(message);
        }
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(got[0], Message::text("{\"a\":1}"));
        assert_eq!(got[1], Message::Binary(big));
        assert_eq!(got[2], Message::text("y".repeat(300)));
        let Message::Close(Some(close)) = &got[3] else {
            panic!("expected a close, got {:?}", got[3]);
        };
        assert_eq!(
            (close.code, close.reason.as_str()),
            (CloseCode::Away, "bye")
        );
    }

    #[tokio::test]
    async fn a_long_close_reason_is_cut_at_a_character() {
        let (_inbox, mut outbox, mut client) = pair().await;
        outbox
            .close(CloseCode::Again, &"é".repeat(100))
            .await
            .expect("closed");
        let Some(Ok(Message::Close(Some(close)))) = client.next().await else {
            panic!("expected a close");
        };
        assert_eq!(close.reason.as_str(), "é".repeat(61));
    }

    #[tokio::test]
    async fn texts_pings_and_the_close_of_a_client_are_read() {
        let (mut inbox, _outbox, mut client) = pair().await;
        client
            .send(Message::text(r#"{"type":"resync"}"#))
            .await
            .expect("sent");
        client
            .send(Message::Ping(Bytes::from_static(b"hi")))
            .await
            .expect("sent");
        client
            .send(Message::binary(vec![1, 2, 3]))
            .await
            .expect("sent");
        client.close(None).await.expect("closed");
        assert_eq!(
            inbox.next().await.expect("text"),
            Incoming::Text(r#"{"type":"resync"}"#)
        );
        assert_eq!(
            inbox.next().await.expect("ping"),
            Incoming::Ping(Bytes::from_static(b"hi"))
        );
        assert_eq!(inbox.next().await.expect("binary"), Incoming::Binary);
        assert_eq!(inbox.next().await.expect("close"), Incoming::Close);
    }

    #[tokio::test]
    async fn a_fragmented_text_is_reassembled_around_a_ping() {
        let (server, mut client) = tokio::io::duplex(1 << 16);
        let (read, _write) = tokio::io::split(server);
        let mut inbox = Inbox::new(read);
        let mask = [1, 2, 3, 4];
        let mut bytes = client_frame(OpCode::Data(Data::Text), false, b"{\"type\":", mask);
        bytes.extend(client_frame(
            OpCode::Control(Control::Ping),
            true,
            b"",
            mask,
        ));
        bytes.extend(client_frame(
            OpCode::Data(Data::Continue),
            true,
            b"\"resync\"}",
            mask,
        ));
        // A byte at a time: every split of a frame is waited out.
        for byte in bytes {
            client.write_all(&[byte]).await.expect("written");
        }
        assert_eq!(
            inbox.next().await.expect("ping"),
            Incoming::Ping(Bytes::new())
        );
        assert_eq!(
            inbox.next().await.expect("text"),
            Incoming::Text(r#"{"type":"resync"}"#)
        );
    }

    #[tokio::test]
    async fn a_client_that_breaks_the_rules_is_refused_with_its_code() {
        let mask = [9, 8, 7, 6];
        let text = OpCode::Data(Data::Text);
        let mut unmasked = Vec::new();
        Frame::message("hi", text, true)
            .format(&mut unmasked)
            .expect("into a Vec");
        let cases: [(Vec<u8>, CloseCode); 6] = [
            (unmasked, CloseCode::Protocol),
            (
                client_frame(text, true, &vec![b' '; MAX_CLIENT_MESSAGE + 1], mask),
                CloseCode::Size,
            ),
            (
                [
                    client_frame(text, false, &vec![b' '; 3000], mask),
                    client_frame(OpCode::Data(Data::Continue), true, &vec![b' '; 3000], mask),
                ]
                .concat(),
                CloseCode::Size,
            ),
            (
                client_frame(text, true, &[0xff, 0xfe], mask),
                CloseCode::Invalid,
            ),
            (
                client_frame(OpCode::Data(Data::Continue), true, b"x", mask),
                CloseCode::Protocol,
            ),
            (
                client_frame(OpCode::Control(Control::Ping), false, b"x", mask),
                CloseCode::Protocol,
            ),
        ];
        for (bytes, code) in cases {
            let (server, mut client) = tokio::io::duplex(1 << 16);
            let (read, _write) = tokio::io::split(server);
            let mut inbox = Inbox::new(read);
            client.write_all(&bytes).await.expect("written");
            match inbox.next().await {
                Err(ReadError::Refused(refusal)) => assert_eq!(refusal.code(), code),
                other => panic!("expected a refusal with {code:?}, got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_client_that_goes_away_ends_the_read() {
        let (server, client) = tokio::io::duplex(64);
        let (read, _write) = tokio::io::split(server);
        drop(client);
        assert!(matches!(
            Inbox::new(read).next().await,
            Err(ReadError::Io(_))
        ));
    }

    proptest! {
        /// Whatever bytes a client sends: a frame, "need more" or a refusal, never a
        /// panic, and never a wait for more than one bounded frame. (A fuzz suite:
        /// `PROPTEST_CASES` sets its length, see the README.)
        #[test]
        fn fuzz_client_frames(bytes in proptest::collection::vec(any::<u8>(), 0..6000)) {
            match parse_frame(&bytes) {
                Ok(Some((frame, used))) => {
                    prop_assert!(used <= bytes.len());
                    prop_assert!(frame.payload.len() <= MAX_CLIENT_MESSAGE);
                }
                Ok(None) => prop_assert!(bytes.len() < 14 + MAX_CLIENT_MESSAGE),
                Err(_) => {}
            }
        }

        /// A masked frame of any opcode and payload within the bounds parses back to
        /// itself, whatever follows it.
        #[test]
        fn a_client_frame_parses_back(
            code in prop_oneof![Just(0u8), Just(1), Just(2), Just(8), Just(9), Just(10)],
            is_final in any::<bool>(),
            payload in proptest::collection::vec(any::<u8>(), 0..=125),
            mask in any::<[u8; 4]>(),
            tail in proptest::collection::vec(any::<u8>(), 0..32),
        ) {
            let opcode = OpCode::from(code);
            let is_final = is_final || matches!(opcode, OpCode::Control(_));
            let bytes = client_frame(opcode, is_final, &payload, mask);
            let len = bytes.len();
            let parsed = parse_frame(&[bytes, tail].concat()).expect("valid");
            let expected = ClientFrame { opcode, is_final, payload };
            prop_assert_eq!(parsed, Some((expected, len)));
        }
    }
}
