//! The NameNode on the wire: Hadoop's `ClientNamenodeProtocol` and `DatanodeProtocol`
//! mapped onto [`NameNode`](crate::NameNode).
//!
//! * [`client_protocol`] — `org.apache.hadoop.hdfs.protocol.ClientProtocol`, what clients
//!   call ([`ClientProtocolHandler`]).
//! * [`datanode_protocol`] — `org.apache.hadoop.hdfs.server.protocol.DatanodeProtocol`,
//!   what DataNodes call ([`DatanodeProtocolHandler`]).
//! * [`convert`] — proto ↔ namesystem types, and errors → [`RemoteException`] through the
//!   crate's Java class table ([`crate::EXCEPTION_CLASSES`]).
//! * [`block_list`] — the two encodings of a full block report (`BlockListAsLongs`).
//! * [`groups`] — the caller's groups (simple auth: the local account database).
//! * [`proxy_users`] — `hadoop.proxyuser.*`: which connections may impersonate whom.
//! * [`version`] — Hadoop's version ordering (the minimum DataNode version).
//! * [`retry_cache`] — answers retried `@AtMostOnce` calls (create, append, rename,
//!   rename2, delete, concat) with their first answer.
//!
//! Each handler has one typed method per RPC taking a [`CallInfo`] (who is calling; a
//! connection impersonating another user is refused with `AuthorizationException` before
//! any method runs unless [`proxy_users`] allows it) and
//! the request message, so the mapping is testable without sockets; `service()` wraps the
//! methods into an [`ferrodfs_ipc::server::Service`] for the RPC server. A method the
//! service lacks is answered `RpcNoSuchMethodException` by the service.

pub mod block_list;
pub mod client_protocol;
pub mod convert;
pub mod datanode_protocol;
pub mod groups;
pub mod proxy_users;
pub mod retry_cache;
pub mod version;
pub mod xattr_protocol;

use std::net::SocketAddr;

pub use client_protocol::{ClientProtocolHandler, ServerDefaults};
pub use datanode_protocol::DatanodeProtocolHandler;

use ferrodfs_ipc::RemoteException;

/// The result of one RPC method: the reply, or the exception to send back.
pub type RpcResult<T> = std::result::Result<T, RemoteException>;

/// Who is calling, as the RPC layer knows it (Hadoop's `Server.getRemoteUser()` and
/// `Server.getRemoteIp()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallInfo {
    /// The effective user of the connection (simple auth).
    pub user: String,
    /// The peer's address.
    pub remote_addr: Option<SocketAddr>,
}

impl CallInfo {
    pub fn new(user: impl Into<String>, remote_addr: Option<SocketAddr>) -> CallInfo {
        CallInfo {
            user: user.into(),
            remote_addr,
        }
    }

    /// The peer's IP as text (`clientMachine`), empty if unknown.
    pub fn remote_ip(&self) -> String {
        self.remote_addr
            .map(|a| a.ip().to_string())
            .unwrap_or_default()
    }
}

impl From<&ferrodfs_ipc::server::CallContext> for CallInfo {
    fn from(ctx: &ferrodfs_ipc::server::CallContext) -> CallInfo {
        CallInfo::new(ctx.user.clone(), Some(ctx.remote_addr))
    }
}

/// Registers handler methods on a [`ferrodfs_ipc::server::ServiceBuilder`]:
/// `register!(builder, handler; "rpcName" => method, ...)`.
macro_rules! register {
    ($builder:expr, $handler:expr; $($name:literal => $method:ident),* $(,)?) => {{
        let mut b = $builder;
        $(
            let h = ::std::sync::Arc::clone(&$handler);
            b = b.method($name, move |ctx: &::ferrodfs_ipc::server::CallContext, req| {
                h.$method(&h.call_info(ctx)?, req)
            });
        )*
        b
    }};
}
pub(crate) use register;

/// Like [`register!`], for `@AtMostOnce` methods: each call goes through the handler's
/// retry cache (`retry_cache()`), which keeps the encoded response of a call's first
/// successful attempt for its retries.
macro_rules! register_at_most_once {
    ($builder:expr, $handler:expr; $($name:literal => $method:ident),* $(,)?) => {{
        let mut b = $builder;
        $(
            let h = ::std::sync::Arc::clone(&$handler);
            b = b.raw_method($name, move |ctx: &::ferrodfs_ipc::server::CallContext, request| {
                let run = || {
                    let req = ::prost::Message::decode(request).map_err(|e| {
                        ::ferrodfs_ipc::RemoteException::new(
                            ::ferrodfs_ipc::JavaException::Other(
                                ::ferrodfs_ipc::server::INVALID_PROTOCOL_BUFFER_CLASS.to_owned(),
                            ),
                            format!("undecodable request to {}: {e}", ctx.method),
                        )
                    })?;
                    h.$method(&h.call_info(ctx)?, req)
                        .map(|resp| ::bytes::Bytes::from(::prost::Message::encode_to_vec(&resp)))
                };
                match h.retry_cache() {
                    Some(cache) => cache.run(ctx, run),
                    None => run(),
                }
            });
        )*
        b
    }};
}
pub(crate) use register_at_most_once;
