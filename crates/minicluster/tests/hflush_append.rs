//! hflush visibility and append, between our client and `hdfs-native`, on an
//! in-process cluster (1 MiB blocks, so files span several blocks and appends
//! continue partial ones).

use bytes::Bytes;
use ferrodfs_client::{CreateOptions, DfsClient, DfsOutputStream};
use ferrodfs_minicluster::{MiniCluster, MiniClusterConfig};

mod common;
use common::*;

/// Size of the client's writes: odd, so they cross chunk and packet edges.
const PIECE: usize = 77_777;

fn start() -> MiniCluster {
    init_logs();
    MiniCluster::start(MiniClusterConfig::default()).unwrap()
}

fn create(client: &DfsClient, path: &str) -> DfsOutputStream {
    client
        .create_with(
            path,
            CreateOptions {
                block_size: Some(MIB as u64),
                ..CreateOptions::default()
            },
        )
        .unwrap()
}

fn native(cluster: &MiniCluster) -> hdfs_native::Client {
    hdfs_native::ClientBuilder::new()
        .with_url(cluster.default_fs())
        .build()
        .unwrap()
}

fn native_options() -> hdfs_native::WriteOptions {
    hdfs_native::WriteOptions {
        block_size: Some(MIB as u64),
        replication: Some(3),
        ..Default::default()
    }
}

async fn native_read(client: &hdfs_native::Client, path: &str) -> Vec<u8> {
    let r = client.read(path).await.unwrap();
    r.read_range(0, r.file_length()).await.unwrap().to_vec()
}

async fn native_write(w: &mut hdfs_native::file::FileWriter, data: &[u8]) {
    for piece in data.chunks(70_001) {
        w.write_bytes(Bytes::copy_from_slice(piece)).await.unwrap();
    }
}

/// Every byte written before `hflush` returned is visible to a reader opened after
/// it, across blocks and inside a partial chunk; `hdfs-native` sees the hflushed
/// length in the file status and reads the complete blocks (as Hadoop's NameNode
/// reports an open file: its length without the block under construction).
#[test]
fn hflushed_bytes_are_visible_to_new_readers() {
    let cluster = start();
    let c = client(&cluster);
    let data = payload(2 * MIB + 100_000, 1);
    let mut out = create(&c, "/flushed.bin");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let nat = native(&cluster);
    // Three hflush points: inside the second block (mid-chunk), further on in the
    // same block, and inside the third block.
    let mut written = 0;
    for end in [MIB + 333, MIB + 500_001, 2 * MIB + 12_345] {
        write_in_pieces(&mut out, &data[written..end], PIECE);
        written = end;
        out.hflush().unwrap();
        let reader = client(&cluster);
        assert_same(
            &read_all(&reader, "/flushed.bin"),
            &data[..end],
            "our reader after hflush",
        );
        rt.block_on(async {
            let status = nat.get_file_info("/flushed.bin").await.unwrap();
            assert_eq!(status.length, end, "hdfs-native's file status");
            let complete = end / MIB * MIB;
            let back = native_read(&nat, "/flushed.bin").await;
            assert!(back.len() >= complete, "{} < {complete}", back.len());
            assert_same(&back, &data[..back.len()], "hdfs-native read after hflush");
        });
    }
    write_in_pieces(&mut out, &data[written..], PIECE);
    out.close().unwrap();
    assert_same(&read_all(&c, "/flushed.bin"), &data, "after close");
    rt.block_on(async {
        assert_same(
            &native_read(&nat, "/flushed.bin").await,
            &data,
            "hdfs-native after close",
        );
    });
}

/// Appends continue partial last blocks (and full ones with a new block), by our
/// client and by `hdfs-native`, on files written by either.
#[test]
fn appends_between_our_client_and_hdfs_native() {
    let cluster = start();
    let c = client(&cluster);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let nat = native(&cluster);

    // Ours: create, append (into the partial block and across into a new one).
    let mut expect = payload(MIB + 1000, 2);
    let mut out = create(&c, "/ours.bin");
    write_in_pieces(&mut out, &expect, PIECE);
    out.close().unwrap();
    let more = payload(MIB + 7, 3);
    let mut out = c.append("/ours.bin").unwrap();
    write_in_pieces(&mut out, &more, PIECE);
    out.close().unwrap();
    expect.extend_from_slice(&more);
    assert_same(&read_all(&c, "/ours.bin"), &expect, "our append to ours");

    // hdfs-native appends to ours; we read it.
    let theirs_more = payload(300_001, 4);
    rt.block_on(async {
        let mut w = nat.append("/ours.bin").await.unwrap();
        native_write(&mut w, &theirs_more).await;
        w.close().await.unwrap();
    });
    expect.extend_from_slice(&theirs_more);
    assert_same(
        &read_all(&c, "/ours.bin"),
        &expect,
        "hdfs-native's append to ours",
    );

    // hdfs-native creates; we append (once into its partial block, once after a
    // file that ends exactly on a block boundary); it reads.
    let mut theirs = payload(MIB + 4321, 5);
    let mut full = payload(MIB, 6);
    rt.block_on(async {
        for (path, data) in [("/theirs.bin", &theirs), ("/full.bin", &full)] {
            let mut w = nat.create(path, native_options()).await.unwrap();
            native_write(&mut w, data).await;
            w.close().await.unwrap();
        }
    });
    for (path, data, seed) in [("/theirs.bin", &mut theirs, 7), ("/full.bin", &mut full, 8)] {
        let more = payload(200_000, seed);
        let mut out = c.append(path).unwrap();
        write_in_pieces(&mut out, &more, PIECE);
        out.close().unwrap();
        data.extend_from_slice(&more);
    }
    rt.block_on(async {
        assert_same(
            &native_read(&nat, "/theirs.bin").await,
            &theirs,
            "our append to theirs",
        );
        assert_same(
            &native_read(&nat, "/full.bin").await,
            &full,
            "our append to a full block",
        );
        assert_same(
            &native_read(&nat, "/ours.bin").await,
            &expect,
            "hdfs-native reads ours",
        );
    });
    assert_same(&read_all(&c, "/theirs.bin"), &theirs, "we read theirs");
    assert_same(&read_all(&c, "/full.bin"), &full, "we read full");
}

/// `hdfs-native` writes a multi-block file with an hsync in the middle (our reader
/// sees the synced bytes while the file is open) and an append, reads, lists,
/// renames and deletes it; we read what it wrote. And the other way round: we
/// write with an hflush and an append, `hdfs-native` reads, lists, renames and
/// deletes.
#[test]
fn hdfs_native_and_our_client_share_files() {
    let cluster = start();
    let c = client(&cluster);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let nat = native(&cluster);
    let data = payload(2 * MIB + MIB / 2 + 99, 9);
    let tail = payload(400_000, 10);
    let synced = MIB + 250_000;

    rt.block_on(async {
        nat.mkdirs("/n", 0o755, true).await.unwrap();
        let mut w = nat.create("/n/a.bin", native_options()).await.unwrap();
        native_write(&mut w, &data[..synced]).await;
        w.hsync().await.unwrap();
        assert_same(
            &read_all(&c, "/n/a.bin"),
            &data[..synced],
            "our read after hsync",
        );
        native_write(&mut w, &data[synced..]).await;
        w.close().await.unwrap();
        let mut w = nat.append("/n/a.bin").await.unwrap();
        native_write(&mut w, &tail).await;
        w.close().await.unwrap();
    });
    let mut all = data.clone();
    all.extend_from_slice(&tail);
    assert_same(
        &read_all(&c, "/n/a.bin"),
        &all,
        "our read of hdfs-native's file",
    );
    rt.block_on(async {
        assert_same(
            &native_read(&nat, "/n/a.bin").await,
            &all,
            "hdfs-native reads its own",
        );
        let listed = nat.list_status("/n", false).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].length, all.len());
        nat.rename("/n/a.bin", "/n/b.bin", false).await.unwrap();
    });
    assert_same(
        &read_all(&c, "/n/b.bin"),
        &all,
        "our read after hdfs-native's rename",
    );
    rt.block_on(async {
        assert!(nat.delete("/n/b.bin", false).await.unwrap());
    });
    assert!(!c.exists("/n/b.bin").unwrap());

    // Ours → hdfs-native.
    let mut out = create(&c, "/o/a.bin");
    write_in_pieces(&mut out, &data[..synced], PIECE);
    out.hflush().unwrap();
    write_in_pieces(&mut out, &data[synced..], PIECE);
    out.close().unwrap();
    let mut out = c.append("/o/a.bin").unwrap();
    write_in_pieces(&mut out, &tail, PIECE);
    out.close().unwrap();
    rt.block_on(async {
        assert_same(
            &native_read(&nat, "/o/a.bin").await,
            &all,
            "hdfs-native reads ours",
        );
        let listed = nat.list_status("/o", false).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].length, all.len());
        nat.rename("/o/a.bin", "/o/b.bin", false).await.unwrap();
        assert_same(&native_read(&nat, "/o/b.bin").await, &all, "after rename");
    });
    assert_same(&read_all(&c, "/o/b.bin"), &all, "our read after the rename");
    rt.block_on(async {
        assert!(nat.delete("/o", true).await.unwrap());
    });
    assert!(!c.exists("/o").unwrap());
}
