//! Helpers shared by the MiniCluster integration tests (each test binary compiles this
//! module and uses a subset of it).
#![allow(dead_code)]

use ferrodfs_client::{ClientConf, DfsClient, DfsOutputStream};
use ferrodfs_minicluster::MiniCluster;
use std::io::{Read, Write};
use std::time::Duration;

pub const MIB: usize = 1024 * 1024;
/// Deadline of every wait (generous: CI machines are shared).
pub const WAIT: Duration = Duration::from_secs(30);

/// Deterministic bytes that differ at every offset of interest.
pub fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 131 + seed as usize + i / 251) % 253) as u8)
        .collect()
}

/// Logs to the test output when `RUST_LOG` is set (e.g. `RUST_LOG=info`).
pub fn init_logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// Our client, as the process's user, with default settings.
pub fn client(cluster: &MiniCluster) -> DfsClient {
    DfsClient::new(
        cluster.namenode_addr(),
        ClientConf {
            user: ferrodfs_ipc::client::current_user(),
            ..ClientConf::default()
        },
    )
}

/// Writes `data` in writes of `piece` bytes (odd sizes cross chunk and packet edges).
pub fn write_in_pieces(out: &mut DfsOutputStream, data: &[u8], piece: usize) {
    for p in data.chunks(piece) {
        out.write_all(p).unwrap();
    }
}

/// The whole of `path`, read with our client.
pub fn read_all(client: &DfsClient, path: &str) -> Vec<u8> {
    let mut back = Vec::new();
    client.open(path).unwrap().read_to_end(&mut back).unwrap();
    back
}

/// `back == data`, reporting the first differing byte rather than two huge vectors.
pub fn assert_same(back: &[u8], data: &[u8], what: &str) {
    assert_eq!(back.len(), data.len(), "{what}: length");
    if let Some(i) = back.iter().zip(data).position(|(a, b)| a != b) {
        panic!("{what}: first difference at byte {i}");
    }
}
