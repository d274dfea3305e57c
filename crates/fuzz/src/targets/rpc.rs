//! Hadoop RPC framing (`ferrodfs_ipc::frame`) and the server's per-connection state
//! machine (`ferrodfs_ipc::server::connection::ConnState`), fed what a peer could send.
//!
//! Input layout of both targets: one control byte, then the byte stream. The control
//! byte picks how the stream is cut into reads ([`chunks`]), so the fuzzer also explores
//! frames split at every boundary, as a socket delivers them.

use bytes::Bytes;
use ferrodfs_ipc::frame::{
    self, FrameDecoder, Preamble, IPC_MAXIMUM_DATA_LENGTH_DEFAULT, PREAMBLE_LEN,
};
use ferrodfs_ipc::server::connection::{ConnState, Event};
use ferrodfs_proto::common::{
    IpcConnectionContextProto, RequestHeaderProto, RpcRequestHeaderProto, RpcResponseHeaderProto,
    RpcSaslProto,
};

/// The frame limit the targets configure: Hadoop's `ipc.maximum.data.length` default, so
/// a decoder that reserves what a length field claims shows as a 128 MiB allocation.
pub const MAX_FRAME_LEN: usize = IPC_MAXIMUM_DATA_LENGTH_DEFAULT;

/// Splits `stream` into the reads a socket might deliver: control 0 is one read of
/// everything; otherwise reads of `control % 64 + 1` bytes.
pub fn chunks(control: u8, stream: &[u8]) -> impl Iterator<Item = &[u8]> {
    let size = if control == 0 {
        stream.len().max(1)
    } else {
        usize::from(control % 64) + 1
    };
    stream.chunks(size)
}

/// `rpc_frame`: [`FrameDecoder`] over a chunked stream; each frame body is read as a
/// request (`RpcRequestHeaderProto`, `RequestHeaderProto`, raw parameter) and as a
/// response (`RpcResponseHeaderProto`, then the client's blocking `read_frame`).
pub fn rpc_frame(data: &[u8]) {
    let Some((&control, stream)) = data.split_first() else {
        return;
    };
    if stream.len() >= PREAMBLE_LEN {
        let mut pre = [0u8; PREAMBLE_LEN];
        pre.copy_from_slice(&stream[..PREAMBLE_LEN]);
        let _ = Preamble::parse(&pre);
    }
    let mut decoder = FrameDecoder::new(MAX_FRAME_LEN);
    'feed: for chunk in chunks(control, stream) {
        decoder.extend(chunk);
        loop {
            match decoder.next_frame() {
                Ok(Some(body)) => {
                    assert!(body.len() <= MAX_FRAME_LEN, "frame over the maximum");
                    request_body(body.clone());
                    response_body(body);
                }
                Ok(None) => break,
                Err(_) => break 'feed,
            }
        }
    }
    // The client's receiver reads frames off a blocking stream.
    let mut reader = stream;
    while let Ok(body) = frame::read_frame(&mut reader, MAX_FRAME_LEN) {
        response_body(body);
    }
}

fn request_body(mut body: Bytes) {
    let Ok(header) = frame::take_message::<RpcRequestHeaderProto>(&mut body, "header") else {
        return;
    };
    match header.call_id {
        -3 => {
            let _ = frame::take_message::<IpcConnectionContextProto>(&mut body, "context");
        }
        -33 => {
            let _ = frame::take_message::<RpcSaslProto>(&mut body, "sasl");
        }
        _ => {
            if frame::take_message::<RequestHeaderProto>(&mut body, "request header").is_ok() {
                let _ = frame::take_raw(&mut body, "request");
            }
        }
    }
}

fn response_body(mut body: Bytes) {
    if frame::take_message::<RpcResponseHeaderProto>(&mut body, "response header").is_ok() {
        let _ = frame::take_raw(&mut body, "response");
    }
}

/// `rpc_connection`: the server's connection state machine over a chunked stream
/// (preamble, SASL, connection context, calls). Checks that nothing comes out after a
/// fatal answer or a close, and that every answer it builds is a well-formed frame.
pub fn rpc_connection(data: &[u8]) {
    for_each_event(data, |_| {});
}

/// Drives a [`ConnState`] over `data` (control byte + stream) and hands each
/// [`Event::Call`] to `on_call`; shared with the NameNode dispatch target.
pub fn for_each_event(
    data: &[u8],
    mut on_call: impl FnMut(ferrodfs_ipc::server::connection::IncomingCall),
) {
    let Some((&control, stream)) = data.split_first() else {
        return;
    };
    let mut conn = ConnState::new(MAX_FRAME_LEN);
    let mut closed = false;
    for chunk in chunks(control, stream) {
        conn.extend(chunk);
        while let Some(event) = conn.next_event() {
            assert!(!closed, "an event after the connection closed: {event:?}");
            match event {
                Event::Call(call) => on_call(call),
                Event::Reply(frame) => check_answer(frame),
                Event::Established(_) => {}
                Event::Fatal(frame) => {
                    closed = true;
                    if !frame.starts_with(b"HTTP/") {
                        check_answer(frame);
                    }
                }
                Event::Close(_) => closed = true,
            }
        }
        assert_eq!(closed, conn.is_closed(), "close state disagrees");
        if closed {
            assert_eq!(conn.buffered(), 0, "a closed connection keeps its bytes");
        }
    }
}

/// An answer the server sends is one whole frame whose header decodes.
fn check_answer(frame: Bytes) {
    let mut reader = &frame[..];
    let mut body = frame::read_frame(&mut reader, MAX_FRAME_LEN).expect("answer is a frame");
    assert!(reader.is_empty(), "bytes after the answer frame");
    frame::take_message::<RpcResponseHeaderProto>(&mut body, "answer header")
        .expect("answer header decodes");
}
