//! Response frames: `u32 length | RpcResponseHeaderProto | response message`, built in one
//! exactly sized buffer.

use bytes::{BufMut, Bytes, BytesMut};
use ferrodfs_proto::common::rpc_response_header_proto::{RpcErrorCodeProto, RpcStatusProto};
use ferrodfs_proto::common::RpcResponseHeaderProto;
use prost::Message;

use crate::exception::{JavaException, RemoteException};
use crate::frame::RPC_VERSION;

fn header(call_id: i32, retry_count: i32, client_id: &[u8]) -> RpcResponseHeaderProto {
    RpcResponseHeaderProto {
        // uint32 on the wire: negative ids travel as their two's complement.
        call_id: call_id as u32,
        status: RpcStatusProto::Success as i32,
        server_ipc_version_num: Some(u32::from(RPC_VERSION)),
        client_id: (!client_id.is_empty()).then(|| client_id.to_vec()),
        retry_count: Some(retry_count),
        ..Default::default()
    }
}

/// A frame of `header` followed by `body` (already-encoded message bytes, delimited here).
fn frame(header: &RpcResponseHeaderProto, body: Option<&[u8]>) -> Bytes {
    let hlen = header.encoded_len();
    let mut len = prost::length_delimiter_len(hlen) + hlen;
    if let Some(b) = body {
        len += prost::length_delimiter_len(b.len()) + b.len();
    }
    let mut buf = BytesMut::with_capacity(4 + len);
    buf.put_u32(len as u32);
    // Encoding into a buffer with room reserved cannot fail.
    let _ = header.encode_length_delimited(&mut buf);
    if let Some(b) = body {
        let _ = prost::encode_length_delimiter(b.len(), &mut buf);
        buf.put_slice(b);
    }
    buf.freeze()
}

/// SUCCESS with an encoded response message.
pub fn success(call_id: i32, retry_count: i32, client_id: &[u8], body: &[u8]) -> Bytes {
    frame(&header(call_id, retry_count, client_id), Some(body))
}

/// SUCCESS with a message to encode.
pub fn success_message(
    call_id: i32,
    retry_count: i32,
    client_id: &[u8],
    msg: &impl Message,
) -> Bytes {
    success(call_id, retry_count, client_id, &msg.encode_to_vec())
}

/// The error code Hadoop sends with an exception thrown by a call.
pub fn error_code(exception: &JavaException) -> RpcErrorCodeProto {
    match exception {
        JavaException::RpcNoSuchMethod => RpcErrorCodeProto::ErrorNoSuchMethod,
        JavaException::RpcNoSuchProtocol => RpcErrorCodeProto::ErrorNoSuchProtocol,
        JavaException::RpcServerException => RpcErrorCodeProto::ErrorRpcServer,
        _ => RpcErrorCodeProto::ErrorApplication,
    }
}

/// ERROR: this call failed, the connection goes on.
pub fn error(call_id: i32, retry_count: i32, client_id: &[u8], e: &RemoteException) -> Bytes {
    let mut h = header(call_id, retry_count, client_id);
    h.status = RpcStatusProto::Error as i32;
    h.exception_class_name = Some(e.class_name().to_owned());
    h.error_msg = Some(e.message.clone());
    h.error_detail = Some(error_code(&e.exception) as i32);
    frame(&h, None)
}

/// FATAL: the server closes the connection after this.
pub fn fatal(call_id: i32, code: RpcErrorCodeProto, class: &str, message: &str) -> Bytes {
    let mut h = header(call_id, -1, &[]);
    h.status = RpcStatusProto::Fatal as i32;
    h.exception_class_name = Some(class.to_owned());
    h.error_msg = Some(message.to_owned());
    h.error_detail = Some(code as i32);
    frame(&h, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{read_frame, take_message, take_raw};

    #[test]
    fn success_frame_round_trips() {
        let f = success(-33, 0, &[1; 16], b"\x08\x01");
        let mut body = read_frame(&mut &f[..], 1024).unwrap();
        let h: RpcResponseHeaderProto = take_message(&mut body, "h").unwrap();
        assert_eq!(h.call_id, 4294967263);
        assert_eq!(h.server_ipc_version_num, Some(9));
        assert_eq!(h.client_id.as_deref(), Some(&[1u8; 16][..]));
        assert_eq!(&take_raw(&mut body, "b").unwrap()[..], b"\x08\x01");
        assert!(body.is_empty());
    }

    #[test]
    fn error_frame_carries_class_and_code() {
        let e = RemoteException::new(JavaException::RpcNoSuchMethod, "no m");
        let f = error(3, 0, &[], &e);
        let mut body = read_frame(&mut &f[..], 1024).unwrap();
        let h: RpcResponseHeaderProto = take_message(&mut body, "h").unwrap();
        assert_eq!(h.status, RpcStatusProto::Error as i32);
        assert_eq!(
            h.exception_class_name.as_deref(),
            Some("org.apache.hadoop.ipc.RpcNoSuchMethodException")
        );
        assert_eq!(
            h.error_detail,
            Some(RpcErrorCodeProto::ErrorNoSuchMethod as i32)
        );
        assert!(body.is_empty());
    }
}
