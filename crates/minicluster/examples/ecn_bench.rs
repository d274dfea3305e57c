//! Benchmark (issue 16, part 2): write throughput of 8 concurrent writers on a
//! cluster whose first DataNode has a slow disk (its write bandwidth limited with
//! `DataNode::set_disk_write_bandwidth`: this host has no cgroup v2 `io.max` to
//! throttle a real device), with the ECN signal off and on, alternating rounds in the
//! same run. Prints aggregate MB/s, the max/min ratio of the writers' own throughputs
//! (fairness), and the congested acks counted by the DataNodes and by the writers.
//!
//!     cargo run --release -p ferrodfs-minicluster --example ecn_bench [rounds]

use ferrodfs_client::{ClientConf, CreateOptions, DfsClient};
use ferrodfs_datanode::xceiver::ecn::EcnConfig;
use ferrodfs_minicluster::{MiniCluster, MiniClusterConfig};
use std::io::Write;
use std::time::{Duration, Instant};

const WRITERS: usize = 8;
/// ECN on, judged by the disk write queue alone: the load-average rule
/// (`dfs.pipeline.congestion.ratio` × CPUs) says nothing about this node on a shared
/// build host whose load comes from other work.
const QUEUE_ONLY: EcnConfig = EcnConfig {
    enabled: true,
    congestion_ratio: 1e9,
};
const MIB: usize = 1024 * 1024;
const PER_WRITER: usize = 4 * MIB;
/// The slow disk: 16 MiB/s for the whole node.
const BANDWIDTH: u64 = 16 * MIB as u64;
/// `dfs.client.congestion.backoff.mean.time` for the writers: Hadoop's 5 s default
/// idles a disk that drains a writer's packet in milliseconds (0.54x of ECN off in
/// a first run); 100 ms is on the scale of this disk's queue.
const BACKOFF_MEAN: Duration = Duration::from_millis(100);

struct Round {
    mb_per_s: f64,
    fairness: f64,
    dn_congested: u64,
    client_congested: u64,
}

fn round(cluster: &MiniCluster, ecn: bool, n: usize) -> Round {
    for i in 0..3 {
        cluster.datanode(i).expect("datanode").set_ecn(EcnConfig {
            enabled: ecn,
            ..QUEUE_ONLY
        });
    }
    let dn_before: u64 = (0..3)
        .map(|i| cluster.datanode(i).expect("datanode").ecn_congested_acks())
        .sum();
    let client_before = ferrodfs_client::output::responder::congested_acks();
    let data: Vec<u8> = (0..PER_WRITER).map(|i| (i * 7 % 251) as u8).collect();
    let start = Instant::now();
    let times: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|w| {
                let data = &data;
                let client = DfsClient::new(
                    cluster.namenode_addr(),
                    ClientConf {
                        user: ferrodfs_ipc::client::current_user(),
                        congestion_backoff_mean: BACKOFF_MEAN,
                        congestion_backoff_max: BACKOFF_MEAN * 10,
                        ..ClientConf::default()
                    },
                );
                s.spawn(move || {
                    let t = Instant::now();
                    let mut out = client
                        .create_with(
                            &format!("/bench/{n}/{w}"),
                            CreateOptions {
                                block_size: Some(2 * MIB as u64),
                                replication: Some(3),
                                ..CreateOptions::default()
                            },
                        )
                        .expect("create");
                    for p in data.chunks(256 * 1024) {
                        out.write_all(p).expect("write");
                        out.hflush().expect("hflush");
                    }
                    out.close().expect("close");
                    t.elapsed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("writer"))
            .collect()
    });
    let total = start.elapsed();
    let rates: Vec<f64> = times
        .iter()
        .map(|t| PER_WRITER as f64 / t.as_secs_f64())
        .collect();
    let max = rates.iter().cloned().fold(f64::MIN, f64::max);
    let min = rates.iter().cloned().fold(f64::MAX, f64::min);
    let dn_after: u64 = (0..3)
        .map(|i| cluster.datanode(i).expect("datanode").ecn_congested_acks())
        .sum();
    Round {
        mb_per_s: (WRITERS * PER_WRITER) as f64 / 1e6 / total.as_secs_f64(),
        fairness: max / min,
        dn_congested: dn_after - dn_before,
        client_congested: ferrodfs_client::output::responder::congested_acks() - client_before,
    }
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let cluster = MiniCluster::start(MiniClusterConfig {
        datanodes: 3,
        ..MiniClusterConfig::default()
    })
    .expect("cluster");
    cluster
        .wait_for_live_datanodes(3, Duration::from_secs(30))
        .expect("datanodes");
    cluster
        .datanode(0)
        .expect("datanode")
        .set_disk_write_bandwidth(BANDWIDTH);
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        for ecn in [false, true] {
            let x = round(&cluster, ecn, r * 2 + usize::from(ecn));
            println!(
                "round {r} ecn {}: {:.1} MB/s, max/min per writer {:.2}, congested acks: datanodes {}, writers {}",
                if ecn { "on " } else { "off" },
                x.mb_per_s,
                x.fairness,
                x.dn_congested,
                x.client_congested
            );
            if ecn {
                on.push(x)
            } else {
                off.push(x)
            }
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let (mut a, mut b) = (
        off.iter().map(|r| r.mb_per_s).collect::<Vec<_>>(),
        on.iter().map(|r| r.mb_per_s).collect::<Vec<_>>(),
    );
    let (mut fa, mut fb) = (
        off.iter().map(|r| r.fairness).collect::<Vec<_>>(),
        on.iter().map(|r| r.fairness).collect::<Vec<_>>(),
    );
    let (ma, mb) = (median(&mut a), median(&mut b));
    println!(
        "median: ecn off {ma:.1} MB/s (max/min {:.2}), ecn on {mb:.1} MB/s (max/min {:.2}); on/off {:.2}x",
        median(&mut fa),
        median(&mut fb),
        mb / ma
    );
    cluster.shutdown().expect("shutdown");
}
