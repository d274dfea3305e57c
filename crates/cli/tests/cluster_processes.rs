//! Issue 5's done-when, as separate processes: `ferrodfs namenode` and three
//! `ferrodfs datanode`s, configured only through Hadoop's keys on the command line,
//! accept files written by the Go `hdfs` command and by `hdfs-native`, and serve them
//! back byte for byte to both.

mod common;
use common::{free_port, Procs};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use ferrodfs_ipc::client::namenode::NamenodeProtocol;
use ferrodfs_ipc::{ClientConfig, RetryPolicy, RpcClient};
use ferrodfs_proto::hdfs::{DatanodeReportTypeProto, GetDatanodeReportRequestProto};
use ferrodfs_testkit::go_hdfs;

const BIN: &str = env!("CARGO_BIN_EXE_ferrodfs");

/// Runs `ferrodfs <args>` and waits for its first stdout line, which must contain `want`.
fn spawn(args: &[String], want: &str) -> Child {
    common::spawn_until_line(Command::new(BIN).args(args).env("RUST_LOG", "warn"), want)
}

fn d(kv: String) -> [String; 2] {
    ["-D".to_string(), kv]
}

fn start_cluster(dir: &Path, port: u16) -> Procs {
    let name = format!("dfs.namenode.name.dir={}", dir.join("name").display());
    let rpc = format!("dfs.namenode.rpc-address=127.0.0.1:{port}");
    let mut format = vec!["namenode".to_string()];
    format.extend(d(name.clone()));
    format.extend(d(rpc.clone()));
    format.push("-format".into());
    let out = Command::new(BIN)
        .args(&format)
        .env_remove("HADOOP_CONF_DIR")
        .output()
        .unwrap();
    assert!(out.status.success(), "format failed: {out:?}");

    let mut procs = Procs(Vec::new());
    let mut nn = vec!["namenode".to_string()];
    nn.extend(d(name));
    nn.extend(d(rpc));
    nn.extend(d("dfs.heartbeat.interval=1".into()));
    procs.0.push(spawn(&nn, "listening on 127.0.0.1:"));
    for i in 0..3 {
        let mut dn = vec!["datanode".to_string()];
        dn.extend(d(format!(
            "dfs.datanode.data.dir={}",
            dir.join(format!("data{i}")).display()
        )));
        dn.extend(d("dfs.datanode.address=127.0.0.1:0".into()));
        // Three DataNodes on one host need their own IPC ports too, as in Hadoop.
        dn.extend(d("dfs.datanode.ipc.address=127.0.0.1:0".into()));
        dn.extend(d(format!("fs.defaultFS=hdfs://127.0.0.1:{port}")));
        dn.extend(d("dfs.heartbeat.interval=1".into()));
        procs.0.push(spawn(&dn, "listening on 127.0.0.1:"));
    }
    procs
}

fn wait_for_live_datanodes(addr: SocketAddr, n: usize) {
    let cfg = ClientConfig {
        call_timeout: Some(Duration::from_secs(10)),
        retry: RetryPolicy::NONE,
        ..ClientConfig::default()
    };
    let nn = NamenodeProtocol::new(RpcClient::new(cfg), addr);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let live = nn
            .get_datanode_report(&GetDatanodeReportRequestProto {
                r#type: DatanodeReportTypeProto::Live as i32,
            })
            .map(|r| r.di.len())
            .unwrap_or(0);
        if live == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {live} of {n} DataNodes registered"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn separate_processes_serve_go_and_hdfs_native_files() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let _procs = start_cluster(dir.path(), port);
    wait_for_live_datanodes(addr, 3);
    let me = ferrodfs_ipc::client::current_user();

    // Go writes (CRC32 chunks), Go and hdfs-native read.
    let go_data: Vec<u8> = (0..3_000_001usize).map(|i| (i * 7 % 253) as u8).collect();
    let local = dir.path().join("go.bin");
    std::fs::write(&local, &go_data).unwrap();
    go_hdfs(addr, &me, &["put", local.to_str().unwrap(), "/go.bin"]).expect_success("hdfs put");
    let back = dir.path().join("go.back");
    go_hdfs(addr, &me, &["get", "/go.bin", back.to_str().unwrap()]).expect_success("hdfs get");
    assert!(
        std::fs::read(&back).unwrap() == go_data,
        "Go read back other bytes"
    );

    // hdfs-native writes (CRC32C, 3 replicas), hdfs-native and Go read.
    let native_data: Vec<u8> = (0..2_500_000usize).map(|i| (i * 13 % 241) as u8).collect();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = hdfs_native::ClientBuilder::new()
            .with_url(format!("hdfs://{addr}"))
            .build()
            .unwrap();
        let r = client.read("/go.bin").await.unwrap();
        let got = r.read_range(0, go_data.len()).await.unwrap();
        assert!(
            got[..] == go_data[..],
            "hdfs-native read other bytes than Go wrote"
        );

        let options = hdfs_native::WriteOptions {
            block_size: Some(1 << 20),
            ..Default::default()
        };
        let mut w = client.create("/native.bin", &options).await.unwrap();
        w.write_bytes(bytes::Bytes::from(native_data.clone()))
            .await
            .unwrap();
        w.close().await.unwrap();
    });
    let back = dir.path().join("native.back");
    go_hdfs(addr, &me, &["get", "/native.bin", back.to_str().unwrap()]).expect_success("hdfs get");
    assert!(
        std::fs::read(&back).unwrap() == native_data,
        "Go read other bytes than hdfs-native wrote"
    );
}
