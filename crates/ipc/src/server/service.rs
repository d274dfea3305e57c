//! What the server dispatches to: [`RpcService`] (one per protocol) and
//! [`ServiceBuilder`], which turns typed closures into one.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use prost::Message;

use crate::exception::{JavaException, RemoteException};

/// Java class Hadoop's protobuf engine reports for an undecodable request message.
pub const INVALID_PROTOCOL_BUFFER_CLASS: &str =
    "org.apache.hadoop.thirdparty.protobuf.InvalidProtocolBufferException";

/// Everything a handler knows about the call it serves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CallContext {
    /// The caller: the connection context's effective user (or real user).
    pub user: String,
    /// The real user behind a proxy user, if the context named one.
    pub real_user: Option<String>,
    /// The protocol named in the connection context, if any.
    pub connection_protocol: Option<String>,
    /// `declaringClassProtocolName` of this call (what it was dispatched on).
    pub protocol: String,
    /// `clientProtocolVersion` of this call.
    pub protocol_version: u64,
    /// The method called.
    pub method: String,
    pub remote_addr: SocketAddr,
    /// The client's 16-byte id (for a retry cache).
    pub client_id: Bytes,
    pub call_id: i32,
    /// `retryCount` (-1 when the client sent none).
    pub retry_count: i32,
    /// `stateId` the client last saw, if sent.
    pub state_id: Option<i64>,
}

impl CallContext {
    /// A context for calling a service directly (tests, in-process callers): call id 0,
    /// no retry count, no client id.
    pub fn new(
        user: impl Into<String>,
        protocol: impl Into<String>,
        method: impl Into<String>,
        remote_addr: SocketAddr,
    ) -> CallContext {
        CallContext {
            user: user.into(),
            real_user: None,
            connection_protocol: None,
            protocol: protocol.into(),
            protocol_version: 1,
            method: method.into(),
            remote_addr,
            client_id: Bytes::new(),
            call_id: 0,
            retry_count: -1,
            state_id: None,
        }
    }
}

/// A protocol's implementation: decodes the request for `method`, runs it, and returns
/// the encoded response message (or the exception to send as an ERROR).
///
/// Unknown methods should return [`RemoteException`] with
/// [`JavaException::RpcNoSuchMethod`] (see [`no_such_method`]).
pub trait RpcService: Send + Sync + 'static {
    /// The protocol name calls name in `declaringClassProtocolName`, e.g.
    /// `org.apache.hadoop.hdfs.protocol.ClientProtocol`.
    fn protocol(&self) -> &str;

    /// Serves one call. Called on a handler thread, concurrently with other calls.
    fn call(
        &self,
        ctx: &CallContext,
        method: &str,
        request: Bytes,
    ) -> Result<Bytes, RemoteException>;

    /// Whether `method` is cheap: it never blocks (no locks held for long, no I/O, no
    /// waiting) and runs in microseconds. The server may then run it on the reader
    /// thread that parsed it, when no call is waiting for a handler, saving the hand-off
    /// to a handler thread (see `docs/design/rpc.md`). A slow method marked cheap
    /// stalls every connection of its reader. Default: none is.
    fn is_cheap(&self, method: &str) -> bool {
        let _ = method;
        false
    }
}

/// The exception Hadoop's protobuf engine throws for a method its service lacks.
pub fn no_such_method(protocol: &str, method: &str) -> RemoteException {
    RemoteException::new(
        JavaException::RpcNoSuchMethod,
        format!("Unknown method {method} called on {protocol} protocol."),
    )
}

/// The exception for a protocol the server does not serve.
pub fn no_such_protocol(protocol: &str) -> RemoteException {
    RemoteException::new(
        JavaException::RpcNoSuchProtocol,
        format!("Unknown protocol: {protocol}"),
    )
}

type RawMethod = Box<dyn Fn(&CallContext, Bytes) -> Result<Bytes, RemoteException> + Send + Sync>;

/// Builds an [`RpcService`] from one closure per method.
///
/// # Examples
/// ```
/// use ferrodfs_ipc::server::{RpcService, ServiceBuilder};
/// use ferrodfs_proto::hdfs::{GetServerDefaultsRequestProto, GetServerDefaultsResponseProto};
///
/// let service = ServiceBuilder::new("org.apache.hadoop.hdfs.protocol.ClientProtocol")
///     .method("getServerDefaults", |_ctx, _req: GetServerDefaultsRequestProto| {
///         Ok(GetServerDefaultsResponseProto::default())
///     })
///     .build();
/// assert_eq!(service.protocol(), "org.apache.hadoop.hdfs.protocol.ClientProtocol");
/// ```
pub struct ServiceBuilder {
    protocol: String,
    methods: HashMap<String, RawMethod>,
    cheap: HashSet<String>,
}

impl fmt::Debug for ServiceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceBuilder")
            .field("protocol", &self.protocol)
            .field("methods", &self.methods.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ServiceBuilder {
    pub fn new(protocol: impl Into<String>) -> ServiceBuilder {
        ServiceBuilder {
            protocol: protocol.into(),
            methods: HashMap::new(),
            cheap: HashSet::new(),
        }
    }

    /// Marks methods as cheap (see [`RpcService::is_cheap`]): they may run on the
    /// reader thread instead of a handler. Only for methods that never block.
    pub fn cheap(mut self, methods: &[&str]) -> ServiceBuilder {
        self.cheap.extend(methods.iter().map(|m| (*m).to_owned()));
        self
    }

    /// Registers a typed method: the request is decoded as `Req` (an undecodable one
    /// fails the call with an ERROR), `f` runs, its `Resp` is encoded.
    pub fn method<Req, Resp, F>(mut self, name: &str, f: F) -> ServiceBuilder
    where
        Req: Message + Default,
        Resp: Message,
        F: Fn(&CallContext, Req) -> Result<Resp, RemoteException> + Send + Sync + 'static,
    {
        let raw = move |ctx: &CallContext, request: Bytes| {
            let req = Req::decode(request).map_err(|e| {
                RemoteException::new(
                    JavaException::Other(INVALID_PROTOCOL_BUFFER_CLASS.to_owned()),
                    format!("undecodable request to {}: {e}", ctx.method),
                )
            })?;
            f(ctx, req).map(|resp| Bytes::from(resp.encode_to_vec()))
        };
        self.methods.insert(name.to_owned(), Box::new(raw));
        self
    }

    /// Registers a method on raw bytes (request message in, response message out).
    pub fn raw_method<F>(mut self, name: &str, f: F) -> ServiceBuilder
    where
        F: Fn(&CallContext, Bytes) -> Result<Bytes, RemoteException> + Send + Sync + 'static,
    {
        self.methods.insert(name.to_owned(), Box::new(f));
        self
    }

    pub fn build(self) -> Service {
        Service {
            protocol: self.protocol,
            methods: self.methods,
            cheap: self.cheap,
        }
    }
}

/// A service made by [`ServiceBuilder`].
pub struct Service {
    protocol: String,
    methods: HashMap<String, RawMethod>,
    cheap: HashSet<String>,
}

impl fmt::Debug for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Service")
            .field("protocol", &self.protocol)
            .field("methods", &self.methods.len())
            .finish()
    }
}

impl RpcService for Service {
    fn protocol(&self) -> &str {
        &self.protocol
    }

    fn call(
        &self,
        ctx: &CallContext,
        method: &str,
        request: Bytes,
    ) -> Result<Bytes, RemoteException> {
        match self.methods.get(method) {
            Some(m) => m(ctx, request),
            None => Err(no_such_method(&self.protocol, method)),
        }
    }

    fn is_cheap(&self, method: &str) -> bool {
        self.cheap.contains(method)
    }
}

/// Services by protocol name.
#[derive(Clone, Default)]
pub(crate) struct Registry {
    by_protocol: HashMap<String, Arc<dyn RpcService>>,
}

impl Registry {
    pub fn add(&mut self, service: Arc<dyn RpcService>) {
        self.by_protocol
            .insert(service.protocol().to_owned(), service);
    }

    pub fn dispatch(&self, ctx: &CallContext, request: Bytes) -> Result<Bytes, RemoteException> {
        match self.by_protocol.get(&ctx.protocol) {
            Some(s) => s.call(ctx, &ctx.method, request),
            None => Err(no_such_protocol(&ctx.protocol)),
        }
    }

    /// Whether the call may run on the reader (its service marked the method cheap).
    pub fn is_cheap(&self, protocol: &str, method: &str) -> bool {
        self.by_protocol
            .get(protocol)
            .is_some_and(|s| s.is_cheap(method))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrodfs_proto::hdfs::{GetFileInfoRequestProto, GetFileInfoResponseProto};

    fn ctx(method: &str) -> CallContext {
        CallContext::new("u", "p", method, SocketAddr::from(([127, 0, 0, 1], 1)))
    }

    #[test]
    fn typed_methods_decode_requests_and_encode_responses() {
        let s = ServiceBuilder::new("p")
            .method("getFileInfo", |ctx, req: GetFileInfoRequestProto| {
                assert_eq!(ctx.user, "u");
                if req.src == "/missing" {
                    return Err(RemoteException::new(JavaException::FileNotFound, "x"));
                }
                Ok(GetFileInfoResponseProto { fs: None })
            })
            .build();
        let c = ctx("getFileInfo");
        let req = GetFileInfoRequestProto { src: "/".into() };
        let out = s
            .call(&c, "getFileInfo", req.encode_to_vec().into())
            .unwrap();
        assert_eq!(GetFileInfoResponseProto::decode(out).unwrap().fs, None);
        let req = GetFileInfoRequestProto {
            src: "/missing".into(),
        };
        let e = s
            .call(&c, "getFileInfo", req.encode_to_vec().into())
            .unwrap_err();
        assert_eq!(e.exception, JavaException::FileNotFound);
        let e = s
            .call(&c, "getFileInfo", Bytes::from_static(&[0xff]))
            .unwrap_err();
        assert_eq!(e.class_name(), INVALID_PROTOCOL_BUFFER_CLASS);
        let e = s.call(&ctx("nope"), "nope", Bytes::new()).unwrap_err();
        assert_eq!(e.exception, JavaException::RpcNoSuchMethod);
    }

    #[test]
    fn registry_refuses_unknown_protocols() {
        let mut r = Registry::default();
        r.add(Arc::new(ServiceBuilder::new("p").build()));
        let mut c = ctx("m");
        c.protocol = "q".into();
        let e = r.dispatch(&c, Bytes::new()).unwrap_err();
        assert_eq!(e.exception, JavaException::RpcNoSuchProtocol);
        c.protocol = "p".into();
        let e = r.dispatch(&c, Bytes::new()).unwrap_err();
        assert_eq!(e.exception, JavaException::RpcNoSuchMethod);
    }
}
