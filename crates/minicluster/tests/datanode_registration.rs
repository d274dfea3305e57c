//! DataNodes register with the NameNode over DatanodeProtocol, heartbeat and send
//! block reports; a file written by `hdfs-native` through them ends with three
//! finalized replicas of every block on three different DataNodes. (Moved here from
//! the DataNode crate, which had its own small cluster for it.)

use ferrodfs_minicluster::{MiniCluster, MiniClusterConfig};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn cluster() -> MiniCluster {
    MiniCluster::start(MiniClusterConfig {
        heartbeat_interval: Duration::from_millis(200),
        ..MiniClusterConfig::default()
    })
    .unwrap()
}

#[test]
fn datanodes_register_heartbeat_and_report_capacity() {
    let cluster = cluster();
    let stats = cluster.namenode().get_fs_stats();
    assert_eq!(stats.live_datanodes, 3);
    assert!(stats.capacity > 0, "{stats:?}");
    for i in 0..cluster.datanode_count() {
        let st = cluster.datanode(i).unwrap().actor().unwrap().state();
        assert!(st.registered);
        assert!(st.block_reports >= 1);
    }
    let heartbeats = |c: &MiniCluster| c.datanode(0).unwrap().actor().unwrap().state().heartbeats;
    let hb = heartbeats(&cluster);
    cluster
        .wait_for(WAIT, "two more heartbeats", |c| heartbeats(c) > hb + 1)
        .unwrap();
}

#[test]
fn hdfs_native_writes_and_reads_through_three_datanodes() {
    let cluster = cluster();
    // Three blocks and a bit, in odd-sized writes.
    let block_size = 1024 * 1024u64;
    let data: Vec<u8> = (0..(3 * block_size as usize + 12345))
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = hdfs_native::ClientBuilder::new()
            .with_url(cluster.default_fs())
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
    assert_eq!(cluster.block_locations("/f.bin").unwrap().blocks.len(), 4);
    cluster.wait_for_replication("/f.bin", 3, WAIT).unwrap();
}
