//! The bytes of Hadoop RPC (protocol version 9), shared by client and server.
//!
//! ```text
//! connection preamble   "hrpc" | version 9 | service class | auth protocol   (7 bytes)
//! every frame           length: u32 BE | message | message | ...             (length = bytes after it)
//! message               varint length | protobuf bytes
//! request frame         RpcRequestHeaderProto | RequestHeaderProto | request     (call id >= 0)
//! connection context    RpcRequestHeaderProto(call id -3) | IpcConnectionContextProto
//! ping                  RpcRequestHeaderProto(call id -4)
//! SASL                  RpcRequestHeaderProto(call id -33) | RpcSaslProto
//! response frame        RpcResponseHeaderProto | response     (response only on SUCCESS)
//! ```
//!
//! Byte-exact layout: `docs/design/rpc.md`.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use prost::Message;
use std::io::{self, Read};

/// The first four bytes of every connection.
pub const RPC_MAGIC: &[u8; 4] = b"hrpc";
/// The protocol version this crate speaks (Hadoop 2.x/3.x).
pub const RPC_VERSION: u8 = 9;
/// Length of the connection preamble.
pub const PREAMBLE_LEN: usize = 7;
/// Auth protocol byte: no authentication (what clients send with simple auth).
pub const AUTH_NONE: u8 = 0;
/// Auth protocol byte: SASL (-33 as a signed byte).
pub const AUTH_SASL: u8 = 0xDF;
/// Service class byte clients send by default.
pub const DEFAULT_SERVICE_CLASS: u8 = 0;

/// Call id of the connection context frame.
pub const CONNECTION_CONTEXT_CALL_ID: i32 = -3;
/// Call id of a ping.
pub const PING_CALL_ID: i32 = -4;
/// Call id of SASL negotiation frames.
pub const SASL_CALL_ID: i32 = -33;
/// Call id used in a FATAL reply to a connection whose header could not be read
/// (Hadoop's `Server` answers such frames with call id -1).
pub const INVALID_CALL_ID: i32 = -1;
/// Length of the client id clients send (a UUID).
pub const CLIENT_ID_LEN: usize = 16;

/// `ipc.maximum.data.length`: the largest frame accepted.
pub const IPC_MAXIMUM_DATA_LENGTH_KEY: &str = "ipc.maximum.data.length";
/// Default of [`IPC_MAXIMUM_DATA_LENGTH_KEY`]: 128 MiB.
pub const IPC_MAXIMUM_DATA_LENGTH_DEFAULT: usize = 128 * 1024 * 1024;

/// What can be wrong with bytes received. Every variant means "this connection's byte
/// stream cannot be trusted any more".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    #[error("bad connection preamble: expected \"hrpc\", got {0:?}")]
    BadMagic([u8; 4]),
    #[error("unsupported RPC version {0} (this server speaks {RPC_VERSION})")]
    BadVersion(u8),
    #[error("unknown auth protocol {0:#04x}")]
    UnknownAuth(u8),
    #[error("frame length {len} is negative or over the maximum {max}")]
    BadLength { len: i64, max: usize },
    #[error("frame truncated: {0}")]
    Truncated(&'static str),
    #[error("undecodable {what}: {source}")]
    Decode {
        what: &'static str,
        #[source]
        source: prost::DecodeError,
    },
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
}

/// The 7-byte connection preamble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preamble {
    pub service_class: u8,
    pub auth_protocol: u8,
}

impl Preamble {
    /// What a client with simple auth sends.
    pub const SIMPLE: Preamble = Preamble {
        service_class: DEFAULT_SERVICE_CLASS,
        auth_protocol: AUTH_NONE,
    };

    pub fn encode(&self) -> [u8; PREAMBLE_LEN] {
        let m = RPC_MAGIC;
        [
            m[0],
            m[1],
            m[2],
            m[3],
            RPC_VERSION,
            self.service_class,
            self.auth_protocol,
        ]
    }

    /// Checks magic, version and auth protocol.
    pub fn parse(bytes: &[u8; PREAMBLE_LEN]) -> Result<Preamble, FrameError> {
        let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
        if &magic != RPC_MAGIC {
            return Err(FrameError::BadMagic(magic));
        }
        if bytes[4] != RPC_VERSION {
            return Err(FrameError::BadVersion(bytes[4]));
        }
        match bytes[6] {
            AUTH_NONE | AUTH_SASL => {}
            other => return Err(FrameError::UnknownAuth(other)),
        }
        Ok(Preamble {
            service_class: bytes[5],
            auth_protocol: bytes[6],
        })
    }
}

/// Builds one frame: the 4-byte length, then each message varint-delimited.
///
/// ```
/// # use ferrodfs_ipc::frame::FrameBuilder;
/// # use ferrodfs_proto::common::RpcRequestHeaderProto;
/// let header = RpcRequestHeaderProto { call_id: 7, ..Default::default() };
/// let frame = FrameBuilder::new().message(&header).finish();
/// assert_eq!(u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize, frame.len() - 4);
/// ```
#[derive(Debug)]
pub struct FrameBuilder {
    buf: BytesMut,
}

impl Default for FrameBuilder {
    fn default() -> Self {
        FrameBuilder::new()
    }
}

impl FrameBuilder {
    pub fn new() -> FrameBuilder {
        let mut buf = BytesMut::with_capacity(128);
        buf.put_u32(0);
        FrameBuilder { buf }
    }

    /// Appends `msg` varint-length-delimited.
    pub fn message<M: Message>(mut self, msg: &M) -> FrameBuilder {
        self.push(msg);
        self
    }

    /// Appends `msg` varint-length-delimited.
    pub fn push<M: Message>(&mut self, msg: &M) {
        let len = msg.encoded_len();
        self.buf.reserve(len + prost::length_delimiter_len(len));
        // Encoding into a BytesMut with reserved room cannot fail.
        let _ = msg.encode_length_delimited(&mut self.buf);
    }

    /// Appends bytes that are already varint-delimited messages.
    pub fn raw(mut self, bytes: &[u8]) -> FrameBuilder {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// Writes the length and returns the whole frame.
    pub fn finish(mut self) -> Bytes {
        let body = (self.buf.len() - 4) as u32;
        self.buf[..4].copy_from_slice(&body.to_be_bytes());
        self.buf.freeze()
    }
}

/// Splits a byte stream into frame bodies (without their 4-byte length), refusing
/// lengths that are negative or over `max_len` before buffering them.
///
/// Memory follows the bytes that actually arrived, never the announced length: a peer
/// that announces a 128 MiB frame and sends ten bytes costs ten bytes (plus the
/// buffer's amortized growth), so many such peers cannot exhaust the address space.
/// Pure (no I/O): the fuzz targets drive it with arbitrary bytes.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: BytesMut,
    max_len: usize,
}

impl FrameDecoder {
    pub fn new(max_len: usize) -> FrameDecoder {
        FrameDecoder {
            buf: BytesMut::new(),
            max_len,
        }
    }

    /// Adds bytes received from the socket.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The buffer to read into directly (its spare capacity), for zero-copy reads.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Bytes the buffer holds room for (what the received bytes cost in memory).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// The length the frame being received announced, once its 4 length bytes are in
    /// (unchecked: [`next_frame`](Self::next_frame) refuses it if out of range).
    pub fn announced(&self) -> Option<i32> {
        let b = self.buf.get(..4)?;
        Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The next complete frame body, `None` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, FrameError> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let len = i32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
        let len = check_len(len, self.max_len)?;
        if self.buf.len() - 4 < len {
            // Not reserved from the header: the buffer grows as bytes arrive.
            return Ok(None);
        }
        self.buf.advance(4);
        Ok(Some(self.buf.split_to(len).freeze()))
    }
}

fn check_len(len: i32, max: usize) -> Result<usize, FrameError> {
    if len < 0 || len as usize > max {
        return Err(FrameError::BadLength {
            len: len.into(),
            max,
        });
    }
    Ok(len as usize)
}

/// Reads one frame body from a blocking reader. The body buffer grows as bytes
/// arrive (never reserved from the announced length); a stream that ends early is
/// [`FrameError::Truncated`].
pub fn read_frame(reader: &mut impl Read, max_len: usize) -> Result<Bytes, FrameError> {
    let mut len = [0u8; 4];
    reader.read_exact(&mut len)?;
    let len = check_len(i32::from_be_bytes(len), max_len)?;
    let mut body = Vec::with_capacity(len.min(READ_FRAME_INITIAL));
    reader.take(len as u64).read_to_end(&mut body)?;
    if body.len() != len {
        return Err(FrameError::Truncated("frame body"));
    }
    Ok(Bytes::from(body))
}

/// Room [`read_frame`] reserves before any body byte arrived.
const READ_FRAME_INITIAL: usize = 64 * 1024;

/// Takes the next varint-delimited message off the front of a frame body.
pub fn take_message<M: Message + Default>(
    body: &mut Bytes,
    what: &'static str,
) -> Result<M, FrameError> {
    if !body.has_remaining() {
        return Err(FrameError::Truncated(what));
    }
    M::decode_length_delimited(&mut *body).map_err(|source| FrameError::Decode { what, source })
}

/// Takes the next varint-delimited message off the front of a frame body, returning
/// its raw bytes (for a server that decodes the request only in its handler).
pub fn take_raw(body: &mut Bytes, what: &'static str) -> Result<Bytes, FrameError> {
    let len = prost::decode_length_delimiter(&mut *body)
        .map_err(|source| FrameError::Decode { what, source })?;
    if body.remaining() < len {
        return Err(FrameError::Truncated(what));
    }
    Ok(body.split_to(len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrodfs_proto::common::{RpcRequestHeaderProto, RpcResponseHeaderProto};

    #[test]
    fn preamble_round_trip_and_errors() {
        let p = Preamble::SIMPLE;
        assert_eq!(&p.encode(), b"hrpc\x09\x00\x00");
        assert_eq!(Preamble::parse(&p.encode()).unwrap(), p);
        assert!(matches!(
            Preamble::parse(b"http\x09\x00\x00"),
            Err(FrameError::BadMagic(_))
        ));
        assert!(matches!(
            Preamble::parse(b"hrpc\x07\x00\x00"),
            Err(FrameError::BadVersion(7))
        ));
        assert!(matches!(
            Preamble::parse(b"hrpc\x09\x00\x51"),
            Err(FrameError::UnknownAuth(0x51))
        ));
        assert_eq!(
            Preamble::parse(b"hrpc\x09\x00\xdf").unwrap().auth_protocol,
            AUTH_SASL
        );
    }

    #[test]
    fn frames_split_at_any_byte_boundary() {
        let h1 = RpcRequestHeaderProto {
            call_id: 1,
            client_id: vec![1; 16],
            ..Default::default()
        };
        let h2 = RpcResponseHeaderProto {
            call_id: 2,
            ..Default::default()
        };
        let mut stream = FrameBuilder::new().message(&h1).finish().to_vec();
        stream.extend_from_slice(&FrameBuilder::new().message(&h2).finish());
        for cut in 0..stream.len() {
            let mut d = FrameDecoder::new(1024);
            d.extend(&stream[..cut]);
            let mut frames = Vec::new();
            while let Some(f) = d.next_frame().unwrap() {
                frames.push(f);
            }
            d.extend(&stream[cut..]);
            while let Some(f) = d.next_frame().unwrap() {
                frames.push(f);
            }
            assert_eq!(frames.len(), 2, "cut at {cut}");
            let mut f0 = frames[0].clone();
            let got: RpcRequestHeaderProto = take_message(&mut f0, "header").unwrap();
            assert_eq!(got, h1);
            assert_eq!(d.buffered(), 0);
        }
    }

    #[test]
    fn oversized_and_negative_lengths_are_refused_before_buffering() {
        let mut d = FrameDecoder::new(100);
        d.extend(&101u32.to_be_bytes());
        assert!(matches!(
            d.next_frame(),
            Err(FrameError::BadLength { len: 101, max: 100 })
        ));
        let mut d = FrameDecoder::new(100);
        d.extend(&(-1i32).to_be_bytes());
        assert!(matches!(
            d.next_frame(),
            Err(FrameError::BadLength { len: -1, .. })
        ));
    }

    #[test]
    fn announced_length_is_not_reserved() {
        let max = 128 * 1024 * 1024;
        let mut d = FrameDecoder::new(max);
        d.extend(&(max as u32).to_be_bytes());
        d.extend(&[0u8; 10]);
        assert!(d.next_frame().unwrap().is_none());
        assert_eq!(d.announced(), Some(max as i32));
        assert!(d.capacity() < 64 * 1024, "capacity {}", d.capacity());
        // read_frame: a 128 MiB announcement followed by 10 bytes and EOF.
        let mut stream = (max as u32).to_be_bytes().to_vec();
        stream.extend_from_slice(&[0u8; 10]);
        assert!(matches!(
            read_frame(&mut &stream[..], max),
            Err(FrameError::Truncated(_))
        ));
    }

    #[test]
    fn truncated_and_garbage_messages_are_errors() {
        let mut empty = Bytes::new();
        assert!(matches!(
            take_message::<RpcRequestHeaderProto>(&mut empty, "header"),
            Err(FrameError::Truncated("header"))
        ));
        // A delimiter promising 50 bytes, followed by 2.
        let mut short = Bytes::from_static(&[50, 1, 2]);
        assert!(take_message::<RpcRequestHeaderProto>(&mut short, "header").is_err());
        let mut short = Bytes::from_static(&[50, 1, 2]);
        assert!(matches!(
            take_raw(&mut short, "param"),
            Err(FrameError::Truncated("param"))
        ));
        // A header missing its required fields is undecodable for prost? It decodes with
        // defaults, as Java would refuse; garbage wire types are refused.
        let mut garbage = Bytes::from_static(&[3, 0xff, 0xff, 0xff]);
        assert!(take_message::<RpcRequestHeaderProto>(&mut garbage, "header").is_err());
    }

    #[test]
    fn read_frame_from_a_reader() {
        let h = RpcResponseHeaderProto {
            call_id: 9,
            ..Default::default()
        };
        let frame = FrameBuilder::new().message(&h).finish();
        let mut body = read_frame(&mut &frame[..], 1024).unwrap();
        let got: RpcResponseHeaderProto = take_message(&mut body, "header").unwrap();
        assert_eq!(got.call_id, 9);
        assert!(read_frame(&mut &frame[..3], 1024).is_err());
    }

    proptest::proptest! {
        /// The decoder never panics on arbitrary bytes and never returns a frame over the maximum.
        #[test]
        fn decoder_survives_arbitrary_bytes(chunks in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..64), 0..16)) {
            let mut d = FrameDecoder::new(256);
            for chunk in chunks {
                d.extend(&chunk);
                loop {
                    match d.next_frame() {
                        Ok(Some(mut f)) => {
                            proptest::prop_assert!(f.len() <= 256);
                            let _ = take_message::<RpcRequestHeaderProto>(&mut f, "header");
                            let _ = take_raw(&mut f, "param");
                        }
                        Ok(None) => break,
                        Err(_) => return Ok(()),
                    }
                }
            }
        }
    }
}
