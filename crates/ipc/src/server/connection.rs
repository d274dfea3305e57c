//! The server side of one connection as a state machine over bytes, with no I/O: bytes
//! received go in ([`ConnState::buffer_mut`]), [`Event`]s come out
//! ([`ConnState::next_event`]). The reader loopers drive it; the fuzz-style proptest feeds
//! it arbitrary bytes.
//!
//! Which failure gets which answer follows Hadoop's `ipc.Server.Connection`
//! (`readAndProcess`, `processOneRpc`, `checkRpcHeaders`, `processRpcOutOfBandRequest`,
//! `initializeAuthContext`, `setupBadVersionResponse`):
//!
//! | input | answer |
//! |---|---|
//! | `GET ` instead of `hrpc` | an HTTP 404 text, close |
//! | other magic, or version ≠ 9 | FATAL `FATAL_VERSION_MISMATCH` `RPC$VersionMismatch`, call id -1, close |
//! | auth byte not 0x00 / 0xDF | FATAL `FATAL_UNAUTHORIZED` `IpcException`, call id -1, close |
//! | frame length < 0 or > max | close, no answer |
//! | undecodable `RpcRequestHeaderProto` | FATAL `FATAL_DESERIALIZING_REQUEST`, call id -1, close |
//! | no `rpcOp` / `rpcKind`, op ≠ FINAL, kind ≠ PROTOCOL_BUFFER | FATAL `FATAL_INVALID_RPC_HEADER`, close |
//! | call before the connection context; a second context; SASL frame without SASL auth; unknown negative call id | FATAL `FATAL_INVALID_RPC_HEADER`, close |
//! | undecodable `RequestHeaderProto` / context / SASL message | FATAL `FATAL_DESERIALIZING_REQUEST`, close |
//! | SASL `NEGOTIATE` | `RpcSaslProto{SUCCESS}` on call id -33; the connection is simple from then on |
//! | other SASL state | FATAL `FATAL_UNAUTHORIZED` `AccessControlException`, call id -1, close |

use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use ferrodfs_proto::common::rpc_response_header_proto::RpcErrorCodeProto;
use ferrodfs_proto::common::rpc_sasl_proto::SaslState;
use ferrodfs_proto::common::{
    rpc_request_header_proto::OperationProto, IpcConnectionContextProto, RequestHeaderProto,
    RpcKindProto, RpcRequestHeaderProto, RpcSaslProto,
};

use super::response;
use crate::frame::{
    self, FrameDecoder, FrameError, Preamble, CONNECTION_CONTEXT_CALL_ID, PING_CALL_ID,
    PREAMBLE_LEN, RPC_MAGIC, RPC_VERSION, SASL_CALL_ID,
};

/// Call id Hadoop puts on FATAL answers that belong to no call (`authFailedCall`, the
/// bad-version answer, and a header that could not be read).
pub const AUTHORIZATION_FAILED_CALL_ID: i32 = -1;

/// Java class of a version mismatch.
pub const VERSION_MISMATCH_CLASS: &str = "org.apache.hadoop.ipc.RPC$VersionMismatch";
/// Java class of an unknown auth protocol.
pub const IPC_EXCEPTION_CLASS: &str = "org.apache.hadoop.ipc.IpcException";
/// Java class of a fatal RPC-layer error (a private nested class in Hadoop).
pub const FATAL_RPC_SERVER_EXCEPTION_CLASS: &str =
    "org.apache.hadoop.ipc.Server$FatalRpcServerException";
/// Java class of an authentication refusal.
pub const ACCESS_CONTROL_EXCEPTION_CLASS: &str =
    "org.apache.hadoop.security.AccessControlException";

/// What Hadoop answers an HTTP request on an IPC port with.
pub const HTTP_ON_IPC_PORT_RESPONSE: &str = "HTTP/1.1 404 Not Found\r\n\
Content-type: text/plain\r\n\r\n\
It looks like you are making an HTTP request to a Hadoop IPC port. \
This is not the correct port for the web interface on this daemon.\r\n";

/// Who is on the other end, from the connection context (call id -3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectionInfo {
    /// `userInfo.effectiveUser`, or `realUser` when there is no effective user; empty if
    /// the client sent neither.
    pub user: String,
    /// `userInfo.realUser` when the effective user differs from it (a proxy user).
    pub real_user: Option<String>,
    /// `protocol` of the context, if sent.
    pub protocol: Option<String>,
}

/// One decoded request, not yet dispatched.
#[derive(Debug, Clone)]
pub struct IncomingCall {
    pub call_id: i32,
    pub retry_count: i32,
    pub client_id: Bytes,
    pub state_id: Option<i64>,
    pub method: String,
    pub protocol: String,
    pub protocol_version: u64,
    /// The request message, without its varint length.
    pub request: Bytes,
    pub connection: Arc<ConnectionInfo>,
}

/// What the connection's bytes asked for.
#[derive(Debug)]
pub enum Event {
    /// A call for a handler.
    Call(IncomingCall),
    /// Bytes to send (a SASL answer); the connection goes on.
    Reply(Bytes),
    /// The connection context arrived.
    Established(Arc<ConnectionInfo>),
    /// Bytes to send, then close: the stream cannot be trusted any more.
    Fatal(Bytes),
    /// Close without an answer.
    Close(FrameError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Preamble,
    Frames,
    Closed,
}

/// The per-connection protocol state.
#[derive(Debug)]
pub struct ConnState {
    decoder: FrameDecoder,
    phase: Phase,
    /// Auth byte was SASL and NEGOTIATE has not been answered yet.
    sasl_pending: bool,
    info: Option<Arc<ConnectionInfo>>,
    /// Preamble and frames taken off the buffer so far.
    frames: u64,
}

/// A fatal protocol error found while reading one frame: answered, then the connection
/// closes.
struct Fatal {
    call_id: i32,
    code: RpcErrorCodeProto,
    class: &'static str,
    message: String,
}

impl Fatal {
    fn new(call_id: i32, code: RpcErrorCodeProto, message: impl Into<String>) -> Fatal {
        Fatal {
            call_id,
            code,
            class: FATAL_RPC_SERVER_EXCEPTION_CLASS,
            message: message.into(),
        }
    }
}

impl ConnState {
    pub fn new(max_frame_len: usize) -> ConnState {
        ConnState {
            decoder: FrameDecoder::new(max_frame_len),
            phase: Phase::Preamble,
            sasl_pending: false,
            info: None,
            frames: 0,
        }
    }

    /// Where received bytes go.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        self.decoder.buffer_mut()
    }

    /// Adds received bytes.
    pub fn extend(&mut self, bytes: &[u8]) {
        if self.phase != Phase::Closed {
            self.decoder.extend(bytes);
        }
    }

    /// Whether a fatal error or close was reported; later bytes are ignored.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Whether the connection context has been read.
    pub fn is_established(&self) -> bool {
        self.info.is_some()
    }

    /// Bytes received and not yet consumed.
    pub fn buffered(&self) -> usize {
        self.decoder.buffered()
    }

    /// Bytes of memory the receive buffer holds (follows what arrived, never what a
    /// frame header announced).
    pub fn buffer_capacity(&self) -> usize {
        self.decoder.capacity()
    }

    /// The preamble and frames read completely so far (a frame in progress is not
    /// counted).
    pub fn frames_read(&self) -> u64 {
        self.frames
    }

    /// The next thing to do, `None` when more bytes are needed (or after a close).
    pub fn next_event(&mut self) -> Option<Event> {
        loop {
            match self.phase {
                Phase::Closed => return None,
                Phase::Preamble => {
                    let buf = self.decoder.buffer_mut();
                    if buf.len() < PREAMBLE_LEN {
                        return None;
                    }
                    let mut pre = [0u8; PREAMBLE_LEN];
                    pre.copy_from_slice(&buf[..PREAMBLE_LEN]);
                    buf.advance(PREAMBLE_LEN);
                    self.frames += 1;
                    if let Some(ev) = self.preamble(&pre) {
                        self.close();
                        return Some(ev);
                    }
                    self.phase = Phase::Frames;
                }
                Phase::Frames => {
                    let body = match self.decoder.next_frame() {
                        Ok(Some(body)) => {
                            self.frames += 1;
                            body
                        }
                        Ok(None) => return None,
                        Err(e) => {
                            self.close();
                            return Some(Event::Close(e));
                        }
                    };
                    match self.frame(body) {
                        Ok(Some(ev)) => return Some(ev),
                        Ok(None) => continue,
                        Err(f) => {
                            self.close();
                            return Some(Event::Fatal(response::fatal(
                                f.call_id, f.code, f.class, &f.message,
                            )));
                        }
                    }
                }
            }
        }
    }

    fn close(&mut self) {
        self.phase = Phase::Closed;
        *self.decoder.buffer_mut() = BytesMut::new();
    }

    /// Checks the preamble; `Some` is the answer before closing.
    fn preamble(&mut self, pre: &[u8; PREAMBLE_LEN]) -> Option<Event> {
        match Preamble::parse(pre) {
            Ok(p) => {
                self.sasl_pending = p.auth_protocol == frame::AUTH_SASL;
                None
            }
            Err(FrameError::BadMagic(magic)) if &magic == b"GET " => Some(Event::Fatal(
                Bytes::from_static(HTTP_ON_IPC_PORT_RESPONSE.as_bytes()),
            )),
            Err(FrameError::UnknownAuth(auth)) => Some(Event::Fatal(response::fatal(
                AUTHORIZATION_FAILED_CALL_ID,
                RpcErrorCodeProto::FatalUnauthorized,
                IPC_EXCEPTION_CLASS,
                &format!("Unknown auth protocol:{}", auth as i8),
            ))),
            Err(_) => {
                let version = pre[4];
                if &pre[..4] != RPC_MAGIC {
                    tracing::debug!(?pre, "ipc server: bad connection preamble");
                }
                Some(Event::Fatal(response::fatal(
                    AUTHORIZATION_FAILED_CALL_ID,
                    RpcErrorCodeProto::FatalVersionMismatch,
                    VERSION_MISMATCH_CLASS,
                    &format!(
                        "Server IPC version {RPC_VERSION} cannot communicate with client version {version}"
                    ),
                )))
            }
        }
    }

    /// One frame body.
    fn frame(&mut self, mut body: Bytes) -> Result<Option<Event>, Fatal> {
        let header: RpcRequestHeaderProto = frame::take_message(&mut body, "RpcRequestHeaderProto")
            .map_err(|e| {
                Fatal::new(
                    AUTHORIZATION_FAILED_CALL_ID,
                    RpcErrorCodeProto::FatalDeserializingRequest,
                    format!("Error decoding RpcRequestHeaderProto: {e}"),
                )
            })?;
        let call_id = header.call_id;
        let invalid =
            |msg: String| Fatal::new(call_id, RpcErrorCodeProto::FatalInvalidRpcHeader, msg);
        match header.rpc_op {
            None => return Err(invalid("IPC Server: No rpc op in rpcRequestHeader".into())),
            Some(op) if op != OperationProto::RpcFinalPacket as i32 => {
                return Err(invalid(format!(
                    "IPC Server does not implement rpc header operation {op}"
                )))
            }
            Some(_) => {}
        }
        let Some(kind) = header.rpc_kind else {
            return Err(invalid(
                "IPC Server: No rpc kind in rpcRequestHeader".into(),
            ));
        };
        if call_id < 0 {
            return self.out_of_band(call_id, body);
        }
        let Some(info) = self.info.clone() else {
            return Err(invalid("Connection context not established".into()));
        };
        if kind != RpcKindProto::RpcProtocolBuffer as i32 {
            return Err(invalid(format!("Unknown rpc kind in rpc header {kind}")));
        }
        let request_header: RequestHeaderProto =
            frame::take_message(&mut body, "RequestHeaderProto").map_err(|e| {
                Fatal::new(
                    call_id,
                    RpcErrorCodeProto::FatalDeserializingRequest,
                    format!("IPC server unable to read call parameters: {e}"),
                )
            })?;
        let request = if body.has_remaining() {
            frame::take_raw(&mut body, "request").map_err(|e| {
                Fatal::new(
                    call_id,
                    RpcErrorCodeProto::FatalDeserializingRequest,
                    format!("IPC server unable to read call parameters: {e}"),
                )
            })?
        } else {
            Bytes::new()
        };
        Ok(Some(Event::Call(IncomingCall {
            call_id,
            retry_count: header.retry_count.unwrap_or(-1),
            client_id: Bytes::from(header.client_id),
            state_id: header.state_id,
            method: request_header.method_name,
            protocol: request_header.declaring_class_protocol_name,
            protocol_version: request_header.client_protocol_version,
            request,
            connection: info,
        })))
    }

    fn out_of_band(&mut self, call_id: i32, mut body: Bytes) -> Result<Option<Event>, Fatal> {
        let invalid =
            |msg: &str| Fatal::new(call_id, RpcErrorCodeProto::FatalInvalidRpcHeader, msg);
        match call_id {
            CONNECTION_CONTEXT_CALL_ID => {
                if self.sasl_pending {
                    return Err(invalid("Connection header sent during SASL negotiation"));
                }
                if self.info.is_some() {
                    return Err(invalid("Connection context already processed"));
                }
                let ctx: IpcConnectionContextProto =
                    frame::take_message(&mut body, "IpcConnectionContextProto").map_err(|e| {
                        Fatal::new(
                            call_id,
                            RpcErrorCodeProto::FatalDeserializingRequest,
                            format!("Error decoding IpcConnectionContextProto: {e}"),
                        )
                    })?;
                let (effective, real) = match ctx.user_info {
                    Some(u) => (u.effective_user, u.real_user),
                    None => (None, None),
                };
                let info = match (effective, real) {
                    (Some(e), Some(r)) if e != r => ConnectionInfo {
                        user: e,
                        real_user: Some(r),
                        protocol: ctx.protocol,
                    },
                    (Some(u), _) | (None, Some(u)) => ConnectionInfo {
                        user: u,
                        real_user: None,
                        protocol: ctx.protocol,
                    },
                    (None, None) => ConnectionInfo {
                        protocol: ctx.protocol,
                        ..ConnectionInfo::default()
                    },
                };
                let info = Arc::new(info);
                self.info = Some(Arc::clone(&info));
                Ok(Some(Event::Established(info)))
            }
            SASL_CALL_ID => {
                if !self.sasl_pending {
                    return Err(invalid("SASL protocol not requested by client"));
                }
                let msg: RpcSaslProto =
                    frame::take_message(&mut body, "RpcSaslProto").map_err(|e| {
                        Fatal::new(
                            call_id,
                            RpcErrorCodeProto::FatalDeserializingRequest,
                            format!("Error decoding RpcSaslProto: {e}"),
                        )
                    })?;
                if msg.state != SaslState::Negotiate as i32 {
                    return Err(Fatal {
                        call_id: AUTHORIZATION_FAILED_CALL_ID,
                        code: RpcErrorCodeProto::FatalUnauthorized,
                        class: ACCESS_CONTROL_EXCEPTION_CLASS,
                        message: "SASL authentication is not enabled.  Available:[SIMPLE]".into(),
                    });
                }
                // Security off: answer SUCCESS and switch the connection to simple.
                self.sasl_pending = false;
                let success = RpcSaslProto {
                    state: SaslState::Success as i32,
                    ..Default::default()
                };
                Ok(Some(Event::Reply(response::success_message(
                    SASL_CALL_ID,
                    -1,
                    &[],
                    &success,
                ))))
            }
            PING_CALL_ID => Ok(None),
            _ => Err(invalid(&format!("Unknown out of band call #{call_id}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{FrameBuilder, AUTH_SASL};
    use ferrodfs_proto::common::rpc_response_header_proto::RpcStatusProto;
    use ferrodfs_proto::common::{RpcResponseHeaderProto, UserInformationProto};
    use prost::Message;

    fn header(call_id: i32) -> RpcRequestHeaderProto {
        RpcRequestHeaderProto {
            rpc_kind: Some(RpcKindProto::RpcProtocolBuffer as i32),
            rpc_op: Some(OperationProto::RpcFinalPacket as i32),
            call_id,
            client_id: vec![7; 16],
            retry_count: Some(0),
            ..Default::default()
        }
    }

    fn context(user: &str) -> Bytes {
        FrameBuilder::new()
            .message(&header(CONNECTION_CONTEXT_CALL_ID))
            .message(&IpcConnectionContextProto {
                user_info: Some(UserInformationProto {
                    effective_user: Some(user.into()),
                    real_user: None,
                }),
                protocol: Some("p".into()),
            })
            .finish()
    }

    fn fatal_header(ev: Option<Event>) -> RpcResponseHeaderProto {
        match ev {
            Some(Event::Fatal(mut bytes)) => {
                bytes.advance(4);
                frame::take_message(&mut bytes, "h").unwrap()
            }
            other => panic!("expected a fatal answer, got {other:?}"),
        }
    }

    #[test]
    fn simple_handshake_then_call() {
        let mut s = ConnState::new(1024);
        s.extend(&Preamble::SIMPLE.encode());
        s.extend(&context("alice"));
        let req = RequestHeaderProto {
            method_name: "m".into(),
            declaring_class_protocol_name: "p".into(),
            client_protocol_version: 1,
        };
        s.extend(
            &FrameBuilder::new()
                .message(&header(5))
                .message(&req)
                .message(&header(99))
                .finish(),
        );
        match s.next_event() {
            Some(Event::Established(info)) => assert_eq!(info.user, "alice"),
            other => panic!("{other:?}"),
        }
        match s.next_event() {
            Some(Event::Call(c)) => {
                assert_eq!((c.call_id, c.method.as_str()), (5, "m"));
                assert_eq!(c.request, header(99).encode_to_vec());
                assert_eq!(c.connection.user, "alice");
            }
            other => panic!("{other:?}"),
        }
        assert!(s.next_event().is_none());
    }

    #[test]
    fn sasl_negotiate_is_answered_with_success() {
        let mut s = ConnState::new(1024);
        s.extend(
            &Preamble {
                service_class: 0,
                auth_protocol: AUTH_SASL,
            }
            .encode(),
        );
        let neg = RpcSaslProto {
            state: SaslState::Negotiate as i32,
            ..Default::default()
        };
        s.extend(
            &FrameBuilder::new()
                .message(&header(SASL_CALL_ID))
                .message(&neg)
                .finish(),
        );
        s.extend(&context("blk_1_1"));
        let Some(Event::Reply(mut reply)) = s.next_event() else {
            panic!("no SASL reply")
        };
        reply.advance(4);
        let h: RpcResponseHeaderProto = frame::take_message(&mut reply, "h").unwrap();
        assert_eq!(h.call_id, SASL_CALL_ID as u32);
        assert_eq!(h.status, RpcStatusProto::Success as i32);
        let m: RpcSaslProto = frame::take_message(&mut reply, "m").unwrap();
        assert_eq!(m.state, SaslState::Success as i32);
        assert!(matches!(s.next_event(), Some(Event::Established(_))));
    }

    #[test]
    fn call_before_context_is_fatal() {
        let mut s = ConnState::new(1024);
        s.extend(&Preamble::SIMPLE.encode());
        s.extend(&FrameBuilder::new().message(&header(0)).finish());
        let h = fatal_header(s.next_event());
        assert_eq!(h.status, RpcStatusProto::Fatal as i32);
        assert_eq!(
            h.error_detail,
            Some(RpcErrorCodeProto::FatalInvalidRpcHeader as i32)
        );
        assert!(s.is_closed());
        assert!(s.next_event().is_none());
    }

    #[test]
    fn bad_preambles() {
        let mut s = ConnState::new(1024);
        s.extend(b"hrpc\x08\x00\x00");
        let h = fatal_header(s.next_event());
        assert_eq!(
            h.exception_class_name.as_deref(),
            Some(VERSION_MISMATCH_CLASS)
        );
        assert_eq!(h.call_id, u32::MAX);
        let mut s = ConnState::new(1024);
        s.extend(b"hrpc\x09\x00\x51");
        let h = fatal_header(s.next_event());
        assert_eq!(
            h.error_detail,
            Some(RpcErrorCodeProto::FatalUnauthorized as i32)
        );
        let mut s = ConnState::new(1024);
        s.extend(b"GET / HTTP/1.1\r\n");
        match s.next_event() {
            Some(Event::Fatal(b)) => assert!(b.starts_with(b"HTTP/1.1 404")),
            other => panic!("{other:?}"),
        }
    }

    proptest::proptest! {
        /// Arbitrary bytes, after a valid preamble or not, in arbitrary chunks: never a
        /// panic; after a fatal answer or close, nothing more.
        #[test]
        fn survives_arbitrary_bytes(
            valid_start in proptest::bool::ANY,
            chunks in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..48), 0..12),
        ) {
            let mut s = ConnState::new(256);
            if valid_start {
                s.extend(&Preamble::SIMPLE.encode());
                s.extend(&context("u"));
            }
            let mut closed = false;
            for chunk in chunks {
                s.extend(&chunk);
                while let Some(ev) = s.next_event() {
                    proptest::prop_assert!(!closed);
                    if matches!(ev, Event::Fatal(_) | Event::Close(_)) {
                        closed = true;
                    }
                }
                proptest::prop_assert!(s.buffered() <= 256 + 4 + 48 + PREAMBLE_LEN + 64);
            }
        }
    }
}
