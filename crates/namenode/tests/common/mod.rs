//! Shared helpers for the tests that go through the real RPC path.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;

use ferrodfs_ipc::client::datanode::DatanodeProtocolProxy;
use ferrodfs_ipc::client::namenode::NamenodeProtocol;
use ferrodfs_ipc::{ClientConfig, RpcClient};
use ferrodfs_namenode::server::{NameNodeServer, NameNodeServerConfig};
use ferrodfs_namenode::NameNode;
use tempfile::TempDir;

/// The superuser of test NameNodes: the user running the tests, as real clients
/// (which send the OS user) expect.
pub fn su() -> String {
    ferrodfs_ipc::client::current_user()
}

/// A formatted name dir and a NameNode serving on a loopback port.
pub struct TestNameNode {
    pub dir: TempDir,
    pub server: Option<NameNodeServer>,
    pub config: NameNodeServerConfig,
}

impl TestNameNode {
    pub fn start() -> TestNameNode {
        Self::start_with(|_| {})
    }

    pub fn start_with(f: impl FnOnce(&mut NameNodeServerConfig)) -> TestNameNode {
        let dir = tempfile::tempdir().unwrap();
        let mut config = NameNodeServerConfig::for_test(dir.path(), &su());
        f(&mut config);
        NameNode::format(&config.namenode, None).unwrap();
        let server = NameNodeServer::start(config.clone()).unwrap();
        TestNameNode {
            dir,
            server: Some(server),
            config,
        }
    }

    pub fn server(&self) -> &NameNodeServer {
        self.server.as_ref().unwrap()
    }

    pub fn addr(&self) -> SocketAddr {
        self.server().rpc_addr()
    }

    pub fn uri(&self) -> String {
        format!("hdfs://{}", self.addr())
    }

    /// Clean shutdown and a new server on the same name dir (a new port).
    pub fn restart(&mut self) {
        self.server.take().unwrap().shutdown().unwrap();
        self.server = Some(NameNodeServer::start(self.config.clone()).unwrap());
    }

    pub fn name_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn client(&self, user: &str) -> NamenodeProtocol {
        client(self.addr(), user)
    }

    pub fn datanode_proxy(&self) -> DatanodeProtocolProxy {
        DatanodeProtocolProxy::new(RpcClient::new(config(&su())), self.addr())
    }
}

pub fn config(user: &str) -> ClientConfig {
    ClientConfig {
        user: user.to_owned(),
        ..ClientConfig::default()
    }
}

pub fn client(addr: SocketAddr, user: &str) -> NamenodeProtocol {
    NamenodeProtocol::new(RpcClient::new(config(user)), addr)
}

/// The Java class of a failed call.
pub fn class_of<T: std::fmt::Debug>(r: ferrodfs_ipc::Result<T>) -> String {
    match r {
        Err(e) => e
            .java_exception()
            .map(|j| j.class_name().to_owned())
            .unwrap_or_else(|| format!("not remote: {e}")),
        Ok(v) => panic!("expected an exception, got {v:?}"),
    }
}
