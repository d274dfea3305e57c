//! Issue 10, NameNode side, black-box: a `ferrodfs namenode` process (service RPC port,
//! `dfs.hosts` naming the three real DataNodes, address space capped at 4x the VmPeak it
//! reached serving a real write) and three `ferrodfs datanode` processes; raw RPC clients
//! then try every attack of the issue — impostor DataNodes, DatanodeProtocol calls from
//! strangers, another user's block recovery, peer-chosen allocation sizes, admin calls
//! from non-admins, an unauthorised proxy connection — and each gets Hadoop's exception
//! class, changes nothing, and leaves the servers serving real clients.

mod common;
use common::{free_port, vm_peak_kib, Procs};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferrodfs_client::{ClientConf, DfsClient};
use ferrodfs_ipc::client::datanode::DatanodeProtocolProxy;
use ferrodfs_ipc::client::namenode::NamenodeProtocol;
use ferrodfs_ipc::frame::{FrameBuilder, Preamble, CONNECTION_CONTEXT_CALL_ID};
use ferrodfs_ipc::{ClientConfig, RetryPolicy, RpcClient};
use ferrodfs_proto::common::rpc_request_header_proto::OperationProto;
use ferrodfs_proto::common::{
    IpcConnectionContextProto, RequestHeaderProto, RpcKindProto, RpcRequestHeaderProto,
    RpcResponseHeaderProto, UserInformationProto,
};
use ferrodfs_proto::hdfs::datanode::*;
use ferrodfs_proto::hdfs::*;
use ferrodfs_testkit::run_with_timeout;

const BIN: &str = env!("CARGO_BIN_EXE_ferrodfs");
const MALLORY: &str = "mallory";
const UNREGISTERED: &str = "org.apache.hadoop.hdfs.protocol.UnregisteredNodeException";
const DISALLOWED: &str = "org.apache.hadoop.hdfs.server.protocol.DisallowedDatanodeException";
const INCORRECT_VERSION: &str = "org.apache.hadoop.hdfs.server.common.IncorrectVersionException";
const ACCESS: &str = "org.apache.hadoop.security.AccessControlException";
const AUTHORIZATION: &str = "org.apache.hadoop.security.authorize.AuthorizationException";
const IO: &str = "java.io.IOException";
/// The transfer port the impostor claims (in no host list).
const IMPOSTOR_PORT: u32 = 50010;

/// Starts `cmd` and waits for its first stdout line, which must contain `want`.
fn spawn(mut cmd: Command, want: &str) -> Child {
    let mut child = cmd
        .env_remove("HADOOP_CONF_DIR")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains(want), "{cmd:?} printed {line:?}");
    child
}

fn d(args: &mut Vec<String>, kv: String) {
    args.push("-D".into());
    args.push(kv);
}

struct Cluster {
    rpc: SocketAddr,
    service: SocketAddr,
    nn_args: Vec<String>,
    dn_ports: Vec<u16>,
}

impl Cluster {
    fn new(dir: &Path) -> Cluster {
        let (rpc, service) = (free_port(), free_port());
        let dn_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let hosts = dir.join("dfs.hosts");
        let list: String = dn_ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}\n"))
            .collect();
        std::fs::write(&hosts, format!("# the three real DataNodes\n{list}")).unwrap();
        let mut nn_args = vec!["namenode".to_string()];
        for kv in [
            format!("dfs.namenode.name.dir={}", dir.join("name").display()),
            format!("dfs.namenode.rpc-address=127.0.0.1:{rpc}"),
            format!("dfs.namenode.servicerpc-address=127.0.0.1:{service}"),
            format!("dfs.hosts={}", hosts.display()),
            "dfs.heartbeat.interval=1".into(),
            "dfs.namenode.safemode.extension=0".into(),
        ] {
            d(&mut nn_args, kv);
        }
        let mut format = nn_args.clone();
        format.push("-format".into());
        let out = Command::new(BIN)
            .args(&format)
            .env_remove("HADOOP_CONF_DIR")
            .output()
            .unwrap();
        assert!(out.status.success(), "format failed: {out:?}");
        Cluster {
            rpc: SocketAddr::from(([127, 0, 0, 1], rpc)),
            service: SocketAddr::from(([127, 0, 0, 1], service)),
            nn_args,
            dn_ports,
        }
    }

    /// The NameNode, optionally with `ulimit -v` (KiB) applied before it starts.
    fn namenode(&self, limit_kib: Option<u64>) -> Child {
        let cmd = match limit_kib {
            None => {
                let mut c = Command::new(BIN);
                c.args(&self.nn_args);
                c
            }
            Some(kib) => {
                let mut c = Command::new("bash");
                c.arg("-c")
                    .arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\""))
                    .arg(BIN)
                    .args(&self.nn_args);
                c
            }
        };
        spawn(cmd, "listening on 127.0.0.1:")
    }

    fn datanode(&self, dir: &Path, i: usize) -> Child {
        let mut args = vec!["datanode".to_string()];
        for kv in [
            format!(
                "dfs.datanode.data.dir={}",
                dir.join(format!("data{i}")).display()
            ),
            format!("dfs.datanode.address=127.0.0.1:{}", self.dn_ports[i]),
            "dfs.datanode.ipc.address=127.0.0.1:0".into(),
            format!("fs.defaultFS=hdfs://{}", self.rpc),
            format!("dfs.namenode.servicerpc-address={}", self.service),
            "dfs.heartbeat.interval=1".into(),
        ] {
            d(&mut args, kv);
        }
        let mut c = Command::new(BIN);
        c.args(&args);
        spawn(c, "listening on 127.0.0.1:")
    }
}

fn rpc(user: &str) -> RpcClient {
    RpcClient::new(ClientConfig {
        user: user.to_owned(),
        call_timeout: Some(Duration::from_secs(20)),
        retry: RetryPolicy::NONE,
        call_retry: RetryPolicy::NONE,
        ..ClientConfig::default()
    })
}

fn me() -> String {
    ferrodfs_ipc::client::current_user()
}

/// The Java class of a call's error (panics if the call succeeded).
fn class_of<T: std::fmt::Debug>(r: ferrodfs_ipc::Result<T>) -> String {
    match r {
        Err(ferrodfs_ipc::Error::Remote(e)) | Err(ferrodfs_ipc::Error::Fatal(e)) => {
            e.class_name().to_owned()
        }
        other => panic!("expected a remote exception, got {other:?}"),
    }
}

fn live_datanodes(nn: &NamenodeProtocol) -> Vec<DatanodeInfoProto> {
    nn.get_datanode_report(&GetDatanodeReportRequestProto {
        r#type: DatanodeReportTypeProto::Live as i32,
    })
    .map(|r| r.di)
    .unwrap_or_default()
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn dfs_client(addr: SocketAddr) -> DfsClient {
    let conf = ClientConf {
        user: me(),
        ..ClientConf::default()
    };
    DfsClient::connect(&format!("hdfs://{addr}"), conf).unwrap()
}

fn read_all(c: &DfsClient, path: &str) -> Vec<u8> {
    let mut out = Vec::new();
    c.open(path).unwrap().read_to_end(&mut out).unwrap();
    out
}

fn payload(n: usize, seed: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 31 + seed) % 251) as u8).collect()
}

/// A registration as an impostor would send it.
fn registration(info: &StorageInfoProto, uuid: &str, version: &str) -> DatanodeRegistrationProto {
    DatanodeRegistrationProto {
        datanode_id: DatanodeIdProto {
            ip_addr: "127.0.0.1".into(),
            host_name: "impostor".into(),
            datanode_uuid: uuid.into(),
            xfer_port: IMPOSTOR_PORT,
            info_port: 50075,
            ipc_port: 50020,
            info_secure_port: Some(0),
        },
        storage_info: info.clone(),
        keys: ExportedBlockKeysProto::default(),
        software_version: version.into(),
    }
}

/// One call over a hand-made connection whose context names `real` as the real user
/// behind `effective`: the response header.
fn proxy_call(addr: SocketAddr, real: &str, effective: &str) -> RpcResponseHeaderProto {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let header = |call_id: i32| RpcRequestHeaderProto {
        rpc_kind: Some(RpcKindProto::RpcProtocolBuffer as i32),
        rpc_op: Some(OperationProto::RpcFinalPacket as i32),
        call_id,
        client_id: vec![7; 16],
        retry_count: Some(-1),
        ..Default::default()
    };
    let protocol = ferrodfs_proto::protocol::CLIENT_NAMENODE;
    s.write_all(&Preamble::SIMPLE.encode()).unwrap();
    s.write_all(
        &FrameBuilder::new()
            .message(&header(CONNECTION_CONTEXT_CALL_ID))
            .message(&IpcConnectionContextProto {
                user_info: Some(UserInformationProto {
                    effective_user: Some(effective.into()),
                    real_user: Some(real.into()),
                }),
                protocol: Some(protocol.name.into()),
            })
            .finish(),
    )
    .unwrap();
    s.write_all(
        &FrameBuilder::new()
            .message(&header(0))
            .message(&RequestHeaderProto {
                method_name: "getFileInfo".into(),
                declaring_class_protocol_name: protocol.name.into(),
                client_protocol_version: protocol.version,
            })
            .message(&GetFileInfoRequestProto { src: "/".into() })
            .finish(),
    )
    .unwrap();
    let mut body = ferrodfs_ipc::frame::read_frame(&mut s, 1 << 20).unwrap();
    ferrodfs_ipc::frame::take_message(&mut body, "RpcResponseHeaderProto").unwrap()
}

#[test]
fn impostors_strangers_and_hostile_sizes_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::new(dir.path());
    let mut nn_proc = Procs(vec![cluster.namenode(None)]);
    let _dns = Procs((0..3).map(|i| cluster.datanode(dir.path(), i)).collect());
    let su_nn = NamenodeProtocol::new(rpc(&me()), cluster.rpc);
    wait_until("3 live DataNodes", || live_datanodes(&su_nn).len() == 3);

    // The NameNode's normal size: VmPeak after serving a real write and read.
    let client = dfs_client(cluster.rpc);
    let warm = payload(3 << 20, 1);
    let mut w = client.create("/warm.bin", true).unwrap();
    w.write_all(&warm).unwrap();
    w.close().unwrap();
    assert!(read_all(&client, "/warm.bin") == warm);
    let peak = vm_peak_kib(nn_proc.0[0].id());
    let limit = 4 * peak;
    eprintln!("NameNode VmPeak {peak} KiB; restarting it with ulimit -v {limit}");
    let mut old = nn_proc.0.pop().unwrap();
    old.kill().unwrap();
    old.wait().unwrap();
    nn_proc.0.push(cluster.namenode(Some(limit)));
    wait_until("3 DataNodes back", || live_datanodes(&su_nn).len() == 3);
    wait_until("safe mode off", || {
        su_nn
            .set_safe_mode(&SetSafeModeRequestProto {
                action: SafeModeActionProto::SafemodeGet as i32,
                checked: None,
            })
            .is_ok_and(|r| !r.result)
    });
    let real_dns = live_datanodes(&su_nn);
    let real_uuid = real_dns[0].id.datanode_uuid.clone();

    // A victim's open file, hflushed, and mallory's own directory.
    let client = dfs_client(cluster.rpc);
    client.mkdirs("/victim", 0o755).unwrap();
    let first = payload(100_000, 2);
    let mut victim = client.create("/victim/open.bin", true).unwrap();
    victim.write_all(&first).unwrap();
    victim.hflush().unwrap();
    su_nn
        .mkdirs(&MkdirsRequestProto {
            src: "/tmp".into(),
            masked: FsPermissionProto { perm: 0o777 },
            create_parent: true,
            unmasked: None,
        })
        .unwrap();
    let locations = |nn: &NamenodeProtocol| {
        nn.get_block_locations(&GetBlockLocationsRequestProto {
            src: "/victim/open.bin".into(),
            offset: 0,
            length: u64::MAX,
        })
        .unwrap()
        .locations
        .unwrap()
    };
    let before = locations(&su_nn);
    let victim_block = before
        .last_block
        .clone()
        .or_else(|| before.blocks.last().cloned())
        .expect("the open file has a block");
    let info = |nn: &NamenodeProtocol| {
        nn.get_file_info(&GetFileInfoRequestProto {
            src: "/victim/open.bin".into(),
        })
        .unwrap()
        .fs
        .unwrap()
    };
    let victim_len = info(&su_nn).length;

    let version = |addr| {
        DatanodeProtocolProxy::new(rpc(MALLORY), addr)
            .version_request(&VersionRequestProto {})
            .unwrap()
            .info
            .storage_info
    };
    let ids = version(cluster.rpc);
    for addr in [cluster.rpc, cluster.service] {
        let dn = DatanodeProtocolProxy::new(rpc(MALLORY), addr);
        // 1. Impostor registrations.
        let mut zero = ids.clone();
        zero.namespce_id = 0;
        zero.cluster_id.clear();
        let mut wrong = ids.clone();
        wrong.cluster_id = "CID-not-this-one".into();
        for (info, version, want) in [
            (&zero, "3.3.4", UNREGISTERED),
            (&wrong, "3.3.4", UNREGISTERED),
            (&ids, "1.0.0", INCORRECT_VERSION),
            (&ids, "3.3.4", DISALLOWED),
        ] {
            let r = dn.register_datanode(&RegisterDatanodeRequestProto {
                registration: registration(info, "impostor-uuid", version),
            });
            assert_eq!(class_of(r), want, "registration {info:?} {version}");
        }
        // 2. DatanodeProtocol calls from an unregistered node.
        let hb = |info: &StorageInfoProto, uuid: &str| {
            dn.send_heartbeat(&HeartbeatRequestProto {
                registration: registration(info, uuid, "3.3.4"),
                reports: vec![StorageReportProto {
                    storage_uuid: "DS-impostor".into(),
                    capacity: Some(1 << 40),
                    remaining: Some(1 << 40),
                    ..Default::default()
                }],
                ..Default::default()
            })
        };
        assert_eq!(class_of(hb(&zero, "impostor-uuid")), UNREGISTERED);
        // Hadoop's answer to a heartbeat from an unknown node: register first.
        let reply = hb(&ids, "impostor-uuid").unwrap();
        assert_eq!(reply.cmds.len(), 1);
        assert_eq!(
            reply.cmds[0].cmd_type,
            datanode_command_proto::Type::RegisterCommand as i32
        );
        // A real node's uuid from another user is not that node.
        assert_eq!(class_of(hb(&ids, &real_uuid)), UNREGISTERED);
        // 64 Mi blocks claimed in 8 bytes, from a stranger: refused before decoding.
        let huge_report = |uuid: &str| BlockReportRequestProto {
            registration: registration(&ids, uuid, "3.3.4"),
            block_pool_id: victim_block.b.pool_id.clone(),
            reports: vec![StorageBlockReportProto {
                storage: DatanodeStorageProto {
                    storage_uuid: "DS-impostor".into(),
                    ..Default::default()
                },
                blocks: vec![],
                number_of_blocks: Some(64 << 20),
                blocks_buffers: vec![vec![0; 8]],
            }],
            context: None,
        };
        assert_eq!(
            class_of(dn.block_report(&huge_report("impostor-uuid"))),
            UNREGISTERED
        );
        assert_eq!(
            class_of(dn.block_report(&huge_report(&real_uuid))),
            UNREGISTERED
        );
        // The same from the DataNodes' own user and host (an insider with a real
        // node's identity): the claimed count is bounded by the bytes sent.
        let insider = DatanodeProtocolProxy::new(rpc(&me()), addr);
        match insider.block_report(&huge_report(&real_uuid)) {
            Err(ferrodfs_ipc::Error::Remote(e)) => {
                assert_eq!(e.class_name(), IO);
                assert!(
                    e.message
                        .contains("more blocks claimed than the buffers hold"),
                    "{e}"
                );
            }
            other => panic!("an oversized report was accepted: {other:?}"),
        }

        // 3. Someone else's block recovery.
        for delete_block in [false, true] {
            let commit = CommitBlockSynchronizationRequestProto {
                block: victim_block.b.clone(),
                new_gen_stamp: victim_block.b.generation_stamp + 1,
                new_length: 1 << 30,
                close_file: true,
                delete_block,
                new_taragets: vec![],
                new_target_storages: vec![],
            };
            assert_eq!(
                class_of(dn.commit_block_synchronization(&commit)),
                UNREGISTERED
            );
            // Even from the DataNodes' user and host: no recovery was issued for it.
            assert_eq!(class_of(insider.commit_block_synchronization(&commit)), IO);
        }
        assert_eq!(
            class_of(dn.report_bad_blocks(
                &ferrodfs_proto::hdfs::datanode::ReportBadBlocksRequestProto {
                    blocks: vec![victim_block.clone()],
                }
            )),
            UNREGISTERED
        );
    }

    // 4. A peer-chosen allocation size: 2^31-1 additional DataNodes.
    let mallory = NamenodeProtocol::new(rpc(MALLORY), cluster.rpc);
    let created = mallory
        .create(&CreateRequestProto {
            src: "/tmp/m.bin".into(),
            masked: FsPermissionProto { perm: 0o644 },
            client_name: "DFSClient_mallory".into(),
            create_flag: 1,
            create_parent: false,
            replication: 3,
            block_size: 1 << 20,
            ..Default::default()
        })
        .unwrap();
    let lb = mallory
        .add_block(&AddBlockRequestProto {
            src: "/tmp/m.bin".into(),
            client_name: "DFSClient_mallory".into(),
            file_id: created.fs.and_then(|f| f.file_id),
            ..Default::default()
        })
        .unwrap()
        .block;
    let more = mallory
        .get_additional_datanode(&GetAdditionalDatanodeRequestProto {
            src: "/tmp/m.bin".into(),
            blk: lb.b.clone(),
            existings: lb.locs[..1].to_vec(),
            excludes: vec![],
            num_additional_nodes: i32::MAX as u32,
            client_name: "DFSClient_mallory".into(),
            ..Default::default()
        })
        .unwrap();
    assert!(
        more.block.locs.len() <= 3,
        "{} locations",
        more.block.locs.len()
    );

    // 5. Admin calls from a non-admin.
    assert_eq!(
        class_of(mallory.get_datanode_report(&GetDatanodeReportRequestProto {
            r#type: DatanodeReportTypeProto::All as i32,
        })),
        ACCESS
    );
    let safe_mode = |nn: &NamenodeProtocol, action: SafeModeActionProto| {
        nn.set_safe_mode(&SetSafeModeRequestProto {
            action: action as i32,
            checked: None,
        })
    };
    assert_eq!(
        class_of(safe_mode(&mallory, SafeModeActionProto::SafemodeEnter)),
        ACCESS
    );
    assert!(
        !safe_mode(&mallory, SafeModeActionProto::SafemodeGet)
            .unwrap()
            .result
    );

    // 6. A proxy connection with no hadoop.proxyuser.* configuration.
    let resp = proxy_call(cluster.rpc, MALLORY, &me());
    assert_eq!(resp.exception_class_name.as_deref(), Some(AUTHORIZATION));
    assert_eq!(
        resp.error_msg.as_deref(),
        Some(format!("User: {MALLORY} is not allowed to impersonate {}", me()).as_str())
    );

    // Nothing changed: the NameNode runs, the victim's file is open with its length and
    // locations, the impostor is nowhere; the admin tools and real clients work.
    assert!(
        nn_proc.0[0].try_wait().unwrap().is_none(),
        "the NameNode died"
    );
    let now = info(&su_nn);
    assert_eq!(now.length, victim_len);
    assert!(
        !su_nn
            .is_file_closed(&IsFileClosedRequestProto {
                src: "/victim/open.bin".into()
            })
            .unwrap()
            .result
    );
    let after = locations(&su_nn);
    let block_after = after
        .last_block
        .or_else(|| after.blocks.last().cloned())
        .unwrap();
    assert_eq!(block_after.b, victim_block.b);
    for loc in &block_after.locs {
        assert!(
            cluster.dn_ports.contains(&(loc.id.xfer_port as u16)),
            "{loc:?}"
        );
    }
    let fs = format!("hdfs://{}", cluster.rpc);
    let report = run_with_timeout(
        {
            let mut c = Command::new(BIN);
            c.args(["dfsadmin", "-fs", &fs, "-report"])
                .env_remove("HADOOP_CONF_DIR");
            c
        },
        Duration::from_secs(60),
    );
    let text = report.expect_success("dfsadmin -report");
    assert!(text.contains("Live datanodes (3):"), "{text}");
    assert!(!text.contains(&format!(":{IMPOSTOR_PORT}")), "{text}");
    let refresh = run_with_timeout(
        {
            let mut c = Command::new(BIN);
            c.args(["dfsadmin", "-fs", &fs, "-refreshNodes"])
                .env_remove("HADOOP_CONF_DIR");
            c
        },
        Duration::from_secs(60),
    );
    assert!(refresh
        .expect_success("dfsadmin -refreshNodes")
        .contains("Refresh nodes successful"));
    assert_eq!(live_datanodes(&su_nn).len(), 3);

    let second = payload(50_000, 3);
    victim.write_all(&second).unwrap();
    victim.close().unwrap();
    let whole: Vec<u8> = first.iter().chain(&second).copied().collect();
    assert!(
        read_all(&client, "/victim/open.bin") == whole,
        "victim's bytes"
    );
    assert!(read_all(&client, "/warm.bin") == warm, "earlier file");
    let local = dir.path().join("after.bin");
    let fresh = payload(2 << 20, 4);
    std::fs::write(&local, &fresh).unwrap();
    let put = run_with_timeout(
        {
            let mut c = Command::new(BIN);
            c.args([
                "dfs",
                "-fs",
                &fs,
                "-put",
                local.to_str().unwrap(),
                "/after.bin",
            ])
            .env_remove("HADOOP_CONF_DIR");
            c
        },
        Duration::from_secs(60),
    );
    put.expect_success("dfs -put");
    assert!(
        read_all(&client, "/after.bin") == fresh,
        "put after the attacks"
    );
    assert!(
        nn_proc.0[0].try_wait().unwrap().is_none(),
        "the NameNode died"
    );
}
