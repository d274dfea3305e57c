//! Shared helpers for the integration tests.
#![allow(dead_code)]

use ferrodfs_namenode::datanodes::DatanodeId;
use ferrodfs_namenode::image;
use ferrodfs_namenode::namespace::Caller;
use ferrodfs_namenode::{NameNode, NameNodeConfig};

pub const SU: &str = "hdfs";

pub fn config(dir: &std::path::Path) -> NameNodeConfig {
    NameNodeConfig {
        name_dir: dir.to_owned(),
        superuser: SU.into(),
        min_block_size: 0,
        safemode_extension: std::time::Duration::ZERO,
        ..NameNodeConfig::default()
    }
}

pub fn su() -> Caller {
    Caller::user(SU).with_client("DFSClient_test", "127.0.0.1")
}

pub fn dn(n: u8) -> DatanodeId {
    DatanodeId {
        uuid: format!("dn-{n}"),
        ip_addr: format!("127.0.0.{n}"),
        host_name: format!("h{n}"),
        xfer_port: 9866,
        info_port: 9864,
        info_secure_port: 0,
        ipc_port: 9867,
    }
}

/// The persistent state of a NameNode, as bytes: two NameNodes with equal snapshots have
/// equal namespaces, block lists, lengths, stamps, leases holders and id counters.
pub fn snapshot(nn: &NameNode) -> Vec<u8> {
    nn.with_namesystem(|fs| image::save(fs, 0))
}
