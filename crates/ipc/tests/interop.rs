//! Real clients complete the RPC handshake against our server: hdfs-native (Rust), the Go
//! `hdfs` command and Hadoop's Java FsShell, calling a `ClientNamenodeProtocol` test
//! service that answers `getFileInfo`, `getListing` and `getServerDefaults` for a root
//! directory that is always empty.

use std::sync::{Arc, Mutex};

use ferrodfs_ipc::server::{CallContext, Server, ServiceBuilder};
use ferrodfs_proto::hdfs::hdfs_file_status_proto::FileType;
use ferrodfs_proto::hdfs::{
    DirectoryListingProto, FsPermissionProto, FsServerDefaultsProto, GetFileInfoRequestProto,
    GetFileInfoResponseProto, GetListingRequestProto, GetListingResponseProto,
    GetServerDefaultsRequestProto, GetServerDefaultsResponseProto, HdfsFileStatusProto,
};
use ferrodfs_proto::protocol::CLIENT_NAMENODE_PROTOCOL;

/// Every (user, method) the service saw.
type Log = Arc<Mutex<Vec<(String, String)>>>;

fn root_status() -> HdfsFileStatusProto {
    HdfsFileStatusProto {
        file_type: FileType::IsDir as i32,
        // Empty in getFileInfo replies: hdfs-native appends it to the requested path.
        path: Vec::new(),
        length: 0,
        permission: FsPermissionProto { perm: 0o755 },
        owner: "root".into(),
        group: "supergroup".into(),
        modification_time: 1_700_000_000_000,
        access_time: 0,
        block_replication: Some(0),
        blocksize: Some(0),
        file_id: Some(16385),
        children_num: Some(0),
        ..Default::default()
    }
}

fn start_namenode() -> (Server, Log) {
    let log: Log = Arc::default();
    let (l1, l2, l3) = (log.clone(), log.clone(), log.clone());
    let note = |log: &Log, ctx: &CallContext| {
        log.lock()
            .unwrap()
            .push((ctx.user.clone(), ctx.method.clone()));
    };
    let service = ServiceBuilder::new(CLIENT_NAMENODE_PROTOCOL)
        .method("getFileInfo", move |ctx, req: GetFileInfoRequestProto| {
            note(&l1, ctx);
            Ok(GetFileInfoResponseProto {
                // A missing path is answered without `fs`.
                fs: (req.src == "/").then(root_status),
            })
        })
        .method("getListing", move |ctx, req: GetListingRequestProto| {
            note(&l2, ctx);
            Ok(GetListingResponseProto {
                dir_list: (req.src == "/").then(|| DirectoryListingProto {
                    partial_listing: Vec::new(),
                    remaining_entries: 0,
                }),
            })
        })
        .method(
            "getServerDefaults",
            move |ctx, _req: GetServerDefaultsRequestProto| {
                note(&l3, ctx);
                Ok(GetServerDefaultsResponseProto {
                    server_defaults: FsServerDefaultsProto {
                        block_size: 128 * 1024 * 1024,
                        bytes_per_checksum: 512,
                        write_packet_size: 64 * 1024,
                        replication: 1,
                        file_buffer_size: 4096,
                        encrypt_data_transfer: Some(false),
                        trash_interval: Some(0),
                        checksum_type: Some(2),
                        ..Default::default()
                    },
                })
            },
        )
        .build();
    let server = Server::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .handlers(4)
        .service(service)
        .start()
        .unwrap();
    (server, log)
}

fn methods(log: &Log) -> Vec<String> {
    log.lock().unwrap().iter().map(|(_, m)| m.clone()).collect()
}

/// THE done-when test: hdfs-native completes calls against our server.
#[test]
fn hdfs_native_client_completes_calls() {
    let (server, log) = start_namenode();
    let url = format!("hdfs://{}", server.local_addr());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = hdfs_native::ClientBuilder::new()
            .with_url(url)
            .build()
            .unwrap();
        let st = client.get_file_info("/").await.unwrap();
        assert!(st.isdir);
        assert_eq!(st.path, "/");
        assert_eq!(st.owner, "root");
        assert_eq!(st.permission, 0o755);
        let missing = client.get_file_info("/nope").await;
        assert!(
            matches!(missing, Err(hdfs_native::HdfsError::FileNotFound(_))),
            "{missing:?}"
        );
        let listing = client.list_status("/", false).await.unwrap();
        assert!(listing.is_empty());
        // Many concurrent calls on hdfs-native's one multiplexed connection.
        let client = Arc::new(client);
        let calls: Vec<_> = (0..64)
            .map(|_| {
                let c = Arc::clone(&client);
                tokio::spawn(async move { c.get_file_info("/").await })
            })
            .collect();
        for call in calls {
            assert!(call.await.unwrap().unwrap().isdir);
        }
    });
    let seen = methods(&log);
    assert!(seen.iter().filter(|m| *m == "getFileInfo").count() >= 66);
    assert!(seen.contains(&"getListing".to_string()));
    assert!(server.metrics().calls_served >= 67);
}

#[test]
fn go_hdfs_ls_root() {
    let (server, log) = start_namenode();
    let out = ferrodfs_testkit::go_hdfs(server.local_addr(), "gopher", &["ls", "/"]);
    out.expect_success("hdfs ls /");
    let log = log.lock().unwrap();
    assert!(
        log.iter().any(|(u, m)| u == "gopher" && m == "getListing"),
        "{log:?}"
    );
}

#[test]
fn java_fs_shell_ls_and_stat_root() {
    let (server, log) = start_namenode();
    let fs = format!("hdfs://{}", server.local_addr());
    let out = ferrodfs_testkit::java_fs_shell(&fs, "duke", &[], &["-ls", "/"]);
    out.expect_success("hadoop fs -ls /");
    let out = ferrodfs_testkit::java_fs_shell(&fs, "duke", &[], &["-stat", "%F", "/"]);
    let stdout = out.expect_success("hadoop fs -stat %F /");
    assert!(stdout.contains("directory"), "{stdout}");
    let log = log.lock().unwrap();
    assert!(
        log.iter().any(|(u, m)| u == "duke" && m == "getFileInfo"),
        "{log:?}"
    );
    assert!(log.iter().any(|(_, m)| m == "getListing"), "{log:?}");
}
