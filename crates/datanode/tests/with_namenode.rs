//! A NameNode and three DataNodes that register with it over DatanodeProtocol, in one
//! process on loopback: registration, heartbeats, block reports, and a file written
//! and read back through all of them by the `hdfs-native` crate.

use ferrodfs_datanode::{DataNode, DataNodeConfig};
use ferrodfs_namenode::namespace::Caller;
use ferrodfs_namenode::server::{NameNodeServer, NameNodeServerConfig};
use ferrodfs_namenode::NameNode;
use std::time::{Duration, Instant};

fn user() -> String {
    ferrodfs_ipc::client::current_user()
}

struct Cluster {
    nn: Option<NameNodeServer>,
    dns: Vec<DataNode>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn start(datanodes: usize) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let name_dir = dir.path().join("name");
        let mut config = NameNodeServerConfig::for_test(&name_dir, &user());
        config.namenode.heartbeat_interval = Duration::from_millis(200);
        NameNode::format(&config.namenode, None).unwrap();
        let nn = NameNodeServer::start(config).unwrap();
        let mut dns = Vec::new();
        for i in 0..datanodes {
            let mut c = DataNodeConfig::new(vec![dir.path().join(format!("data{i}"))]);
            c.namenode = Some(nn.rpc_addr());
            c.heartbeat_interval = Duration::from_millis(200);
            dns.push(DataNode::start(c).unwrap());
        }
        let cluster = Cluster {
            nn: Some(nn),
            dns,
            _dir: dir,
        };
        cluster.wait_for(|nn| nn.get_fs_stats().live_datanodes == datanodes as u64);
        cluster
    }

    fn nn(&self) -> &NameNodeServer {
        self.nn.as_ref().unwrap()
    }

    fn wait_for(&self, ok: impl Fn(&NameNode) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ok(self.nn().namenode()) {
            assert!(Instant::now() < deadline, "condition not reached in 20 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for dn in self.dns.drain(..) {
            dn.shutdown();
        }
        if let Some(nn) = self.nn.take() {
            let _ = nn.shutdown();
        }
    }
}

#[test]
fn datanodes_register_heartbeat_and_report_capacity() {
    let cluster = Cluster::start(3);
    let stats = cluster.nn().namenode().get_fs_stats();
    assert_eq!(stats.live_datanodes, 3);
    assert!(stats.capacity > 0, "{stats:?}");
    for dn in &cluster.dns {
        let st = dn.actor().unwrap().state();
        assert!(st.registered);
        assert!(st.block_reports >= 1);
    }
    let hb = cluster.dns[0].actor().unwrap().state().heartbeats;
    cluster.wait_for(|_| cluster.dns[0].actor().unwrap().state().heartbeats > hb + 1);
}

#[test]
fn hdfs_native_writes_and_reads_through_three_datanodes() {
    let cluster = Cluster::start(3);
    let url = format!("hdfs://{}", cluster.nn().rpc_addr());
    // Three blocks and a bit, in odd-sized writes.
    let block_size = 1024 * 1024u64;
    let data: Vec<u8> = (0..(3 * block_size as usize + 12345))
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = hdfs_native::ClientBuilder::new()
            .with_url(url)
            .build()
            .unwrap();
        let options = hdfs_native::WriteOptions {
            block_size: Some(block_size),
            replication: Some(3),
            ..Default::default()
        };
        let mut w = client.create("/f.bin", &options).await.unwrap();
        for chunk in data.chunks(70_001) {
            w.write_bytes(bytes::Bytes::copy_from_slice(chunk))
                .await
                .unwrap();
        }
        w.close().await.unwrap();

        let status = client.get_file_info("/f.bin").await.unwrap();
        assert_eq!(status.length, data.len());
        let r = client.read("/f.bin").await.unwrap();
        let back = r.read_range(0, data.len()).await.unwrap();
        assert!(back[..] == data[..], "content differs");
        let tail = r.read_range(block_size as usize - 10, 20).await.unwrap();
        assert_eq!(
            &tail[..],
            &data[block_size as usize - 10..block_size as usize + 10]
        );
    });
    // Every block has three finalized replicas on three different DataNodes.
    let located = cluster
        .nn()
        .namenode()
        .get_block_locations(&Caller::user(&user()), "/f.bin", 0, u64::MAX)
        .unwrap();
    assert_eq!(located.blocks.len(), 4);
    for b in &located.blocks {
        assert_eq!(b.locations.len(), 3, "{b:?}");
    }
}
