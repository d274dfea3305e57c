//! Clients nobody here wrote — the Go `hdfs` command, Hadoop's Java FsShell, the
//! `hdfs-native` crate — and our own `DfsClient` write and read files on an in-process
//! cluster of one NameNode and three DataNodes, and read back each other's files.

use ferrodfs_client::{ClientConf, CreateOptions, DfsClient};
use ferrodfs_minicluster::{MiniCluster, MiniClusterConfig};
use ferrodfs_testkit::{go_hdfs, java_fs_shell};
use std::io::{Read, Write};

fn user() -> String {
    ferrodfs_ipc::client::current_user()
}

/// Deterministic bytes that differ at every offset of interest.
fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 131 + seed as usize) % 251) as u8)
        .collect()
}

fn our_client(cluster: &MiniCluster) -> DfsClient {
    let conf = ClientConf {
        user: user(),
        ..ClientConf::default()
    };
    DfsClient::new(cluster.namenode_addr(), conf)
}

fn read_all(client: &DfsClient, path: &str) -> Vec<u8> {
    let mut input = client.open(path).unwrap();
    let mut back = Vec::new();
    input.read_to_end(&mut back).unwrap();
    back
}

#[test]
fn go_hdfs_put_cat_ls_mv_rm() {
    let cluster = MiniCluster::start(MiniClusterConfig::default()).unwrap();
    let nn = cluster.namenode_addr();
    let me = user();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("go.bin");
    let data = payload(3 * 1024 * 1024 + 777, 1);
    std::fs::write(&local, &data).unwrap();

    go_hdfs(nn, &me, &["mkdir", "-p", "/go"]).expect_success("hdfs mkdir");
    go_hdfs(nn, &me, &["put", local.to_str().unwrap(), "/go/a.bin"]).expect_success("hdfs put");
    let ls = go_hdfs(nn, &me, &["ls", "-l", "/go"]);
    assert!(ls.expect_success("hdfs ls").contains("a.bin"), "{ls:?}");

    let got = dir.path().join("back.bin");
    go_hdfs(nn, &me, &["get", "/go/a.bin", got.to_str().unwrap()]).expect_success("hdfs get");
    assert!(
        std::fs::read(&got).unwrap() == data,
        "Go get returned other bytes"
    );

    // The Go client writes CRC32 (not CRC32C) chunks: our client must read them.
    assert!(read_all(&our_client(&cluster), "/go/a.bin") == data);

    go_hdfs(nn, &me, &["mv", "/go/a.bin", "/go/b.bin"]).expect_success("hdfs mv");
    go_hdfs(nn, &me, &["rm", "/go/b.bin"]).expect_success("hdfs rm");
    let ls = go_hdfs(nn, &me, &["ls", "/go"]);
    assert!(!ls.expect_success("hdfs ls").contains(".bin"), "{ls:?}");
}

#[test]
fn java_fs_shell_put_cat_get_rm() {
    let cluster = MiniCluster::start(MiniClusterConfig::default()).unwrap();
    let fs = cluster.default_fs();
    let me = user();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("java.bin");
    let data = payload(2 * 1024 * 1024 + 99, 2);
    std::fs::write(&local, &data).unwrap();
    let conf: &[(&str, &str)] = &[("dfs.blocksize", "1048576"), ("dfs.replication", "3")];

    java_fs_shell(&fs, &me, conf, &["-mkdir", "-p", "/j"]).expect_success("-mkdir");
    java_fs_shell(
        &fs,
        &me,
        conf,
        &["-put", local.to_str().unwrap(), "/j/a.bin"],
    )
    .expect_success("-put");
    let got = dir.path().join("back.bin");
    java_fs_shell(&fs, &me, conf, &["-get", "/j/a.bin", got.to_str().unwrap()])
        .expect_success("-get");
    assert!(
        std::fs::read(&got).unwrap() == data,
        "Java -get returned other bytes"
    );

    // Written by Java (CRC32C, 1 MiB blocks: three blocks), read by us.
    assert!(read_all(&our_client(&cluster), "/j/a.bin") == data);
    let located = cluster.namenode().get_fs_stats();
    assert!(located.blocks >= 3, "{located:?}");

    let ls = java_fs_shell(&fs, &me, conf, &["-ls", "/j"]);
    assert!(ls.expect_success("-ls").contains("/j/a.bin"), "{ls:?}");
    java_fs_shell(&fs, &me, conf, &["-rm", "-r", "/j"]).expect_success("-rm -r");
}

#[test]
fn our_client_and_hdfs_native_read_each_other() {
    let cluster = MiniCluster::start(MiniClusterConfig::default()).unwrap();
    let ours = our_client(&cluster);
    let data = payload(2 * 1024 * 1024 + 4321, 3);

    let mut out = ours
        .create_with(
            "/ours.bin",
            CreateOptions {
                block_size: Some(1024 * 1024),
                ..CreateOptions::default()
            },
        )
        .unwrap();
    for chunk in data.chunks(50_000) {
        out.write_all(chunk).unwrap();
    }
    out.close().unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let theirs = payload(1024 * 1024 + 17, 4);
    rt.block_on(async {
        let client = hdfs_native::ClientBuilder::new()
            .with_url(cluster.default_fs())
            .build()
            .unwrap();
        let r = client.read("/ours.bin").await.unwrap();
        let back = r.read_range(0, data.len()).await.unwrap();
        assert!(
            back[..] == data[..],
            "hdfs-native read other bytes than we wrote"
        );

        let options = hdfs_native::WriteOptions {
            block_size: Some(512 * 1024),
            ..Default::default()
        };
        let mut w = client.create("/theirs.bin", &options).await.unwrap();
        w.write_bytes(bytes::Bytes::from(theirs.clone()))
            .await
            .unwrap();
        w.close().await.unwrap();
    });
    assert!(
        read_all(&ours, "/theirs.bin") == theirs,
        "we read other bytes than hdfs-native wrote"
    );
}

/// Java reading a file that is still being written asks the DataNode's IPC port for
/// the replica's visible length (ClientDatanodeProtocol, opened with a SASL NEGOTIATE
/// even with simple auth) and sees everything the writer has hflushed.
#[test]
fn java_reads_a_file_still_being_written() {
    let cluster = MiniCluster::start(MiniClusterConfig::default()).unwrap();
    let ours = our_client(&cluster);
    let data = payload(200_000, 5);
    let mut out = ours.create("/open.bin", false).unwrap();
    out.write_all(&data).unwrap();
    out.hflush().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let got = dir.path().join("open.bin");
    java_fs_shell(
        &cluster.default_fs(),
        &user(),
        &[],
        &["-get", "/open.bin", got.to_str().unwrap()],
    )
    .expect_success("-get of an open file");
    assert!(
        std::fs::read(&got).unwrap() == data,
        "Java read other bytes than were hflushed"
    );
    out.close().unwrap();
}
