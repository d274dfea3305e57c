//! Regenerates the seed corpora under `crates/fuzz/corpus/` from real traffic:
//!
//! ```text
//! cargo run --release -p ferrodfs-fuzz --example capture_corpus [-- <corpus dir>]
//! ```
//!
//! It starts a NameNode and three DataNodes in this process, puts recording TCP proxies
//! in front of all of them, and runs the real clients through the proxies: the Go `hdfs`
//! command (`/usr/bin/hdfs`), Hadoop 3.3.4's Java FsShell (jars fetched by
//! `ferrodfs-testkit`) and `hdfs-native`. The DataNodes talk to the NameNode through
//! the proxy too, so DatanodeProtocol traffic is recorded; the NameNode's proxy connects
//! from 127.0.0.2, so the NameNode registers every DataNode at 127.0.0.2 (it takes a
//! DataNode's IP from its connection) and clients and upstream DataNodes reach them
//! through a second proxy on 127.0.0.2 at each DataNode's port (the DataNodes listen on
//! 127.0.0.1). Each recorded connection is split into inputs for the targets that read
//! such bytes (see `corpus/README.md`); the NameNode's own edit-log segments and an
//! image of the namespace the clients built seed the file-format targets.

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use ferrodfs_datanode::{DataNode, DataNodeConfig};
use ferrodfs_fuzz::targets::namenode::{CLIENT_METHODS, DATANODE_METHODS};
use ferrodfs_fuzz::targets::rpc;
use ferrodfs_namenode::server::{NameNodeServer, NameNodeServerConfig};
use ferrodfs_namenode::NameNode;
use ferrodfs_proto::hdfs::OpWriteBlockProto;
use ferrodfs_proto::protocol::{CLIENT_NAMENODE_PROTOCOL, DATANODE_PROTOCOL};
use ferrodfs_transfer::checksum::{BlockMetadataHeader, DataChecksum};
use ferrodfs_transfer::op::{read_delimited, read_op_header, Op};

/// Largest corpus file (the mutator's input limit).
const MAX_SEED: usize = 64 * 1024;
/// Most files per target and client.
const MAX_PER_SOURCE: usize = 12;
/// The address the DataNodes' proxies listen on (and the NameNode proxy connects from).
const PROXY_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const USER: &str = "fuzzer";

/// One recorded connection.
#[derive(Debug, Default, Clone)]
struct Recording {
    /// Who was talking: `go`, `java`, `native` (clients) or `datanode`.
    source: String,
    /// `nn` for the NameNode's port, `dn` for a DataNode's transfer port.
    server: &'static str,
    c2s: Vec<u8>,
    s2c: Vec<u8>,
}

#[derive(Default)]
struct Recorder {
    label: Mutex<String>,
    done: Mutex<Vec<Recording>>,
}

/// Copies `from` to `to`, keeping the first bytes, until either side closes.
fn pump(mut from: TcpStream, mut to: TcpStream) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if kept.len() < 4 * MAX_SEED {
            kept.extend_from_slice(&buf[..n]);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    kept
}

/// A TCP connection to `upstream` from `source` (port chosen by the kernel).
fn connect_from(source: Option<IpAddr>, upstream: SocketAddr) -> std::io::Result<TcpStream> {
    use rustix::net::{AddressFamily, SocketType};
    let Some(ip) = source else {
        return TcpStream::connect(upstream);
    };
    let fd = rustix::net::socket(AddressFamily::INET, SocketType::STREAM, None)?;
    rustix::net::bind(&fd, &SocketAddr::new(ip, 0))?;
    rustix::net::connect(&fd, &upstream)?;
    Ok(TcpStream::from(fd))
}

/// Listens on `listen` and forwards to `upstream`, recording both directions.
fn start_proxy(
    listen: SocketAddr,
    upstream: SocketAddr,
    source: Option<IpAddr>,
    server: &'static str,
    rec: Arc<Recorder>,
) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind(listen).with_context(|| format!("bind {listen}"))?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(up) = connect_from(source, upstream) else {
                continue;
            };
            let rec = Arc::clone(&rec);
            let label = rec.label.lock().map(|l| l.clone()).unwrap_or_default();
            std::thread::spawn(move || {
                let (c1, u1) = match (client.try_clone(), up.try_clone()) {
                    (Ok(c), Ok(u)) => (c, u),
                    _ => return,
                };
                let back = std::thread::spawn(move || pump(u1, c1));
                let c2s = pump(client, up);
                let s2c = back.join().unwrap_or_default();
                if let Ok(mut done) = rec.done.lock() {
                    done.push(Recording {
                        source: label,
                        server,
                        c2s,
                        s2c,
                    });
                }
            });
        }
    });
    Ok(addr)
}

/// Seeds per target, deduplicated, at most [`MAX_PER_SOURCE`] per (target, source).
#[derive(Default)]
struct Corpus {
    files: BTreeMap<&'static str, Vec<(String, Vec<u8>)>>,
    seen: HashSet<Vec<u8>>,
}

impl Corpus {
    fn add(&mut self, target: &'static str, source: &str, mut bytes: Vec<u8>) {
        bytes.truncate(MAX_SEED);
        if bytes.len() < 2 || !self.seen.insert([target.as_bytes(), &bytes].concat()) {
            return;
        }
        let list = self.files.entry(target).or_default();
        let n = list.iter().filter(|(s, _)| s.starts_with(source)).count();
        if n < MAX_PER_SOURCE {
            list.push((format!("{source}-{n:02}"), bytes));
        }
    }

    fn write(&self, dir: &Path) -> anyhow::Result<()> {
        for (target, files) in &self.files {
            let d = dir.join(target);
            if d.exists() {
                for e in std::fs::read_dir(&d)?.flatten() {
                    if !e.file_name().to_string_lossy().starts_with("README") {
                        std::fs::remove_file(e.path())?;
                    }
                }
            }
            std::fs::create_dir_all(&d)?;
            for (name, bytes) in files {
                std::fs::write(d.join(name), bytes)?;
            }
            println!("{target}: {} files", files.len());
        }
        Ok(())
    }
}

fn split_rpc(c: &mut Corpus, r: &Recording) {
    let mut stream = vec![0u8];
    stream.extend_from_slice(&r.c2s);
    c.add("rpc_connection", &r.source, stream.clone());
    c.add("namenode_rpc", &r.source, stream);
    if r.c2s.len() > 7 {
        let mut frames = vec![0u8];
        frames.extend_from_slice(&r.c2s[7..]);
        c.add("rpc_frame", &r.source, frames);
    }
    let mut answers = vec![0u8];
    answers.extend_from_slice(&r.s2c);
    c.add("rpc_frame", &format!("{}-answers", r.source), answers);
    let mut calls = Vec::new();
    rpc::for_each_event(&[&[0u8][..], &r.c2s].concat(), |call| calls.push(call));
    for call in calls {
        let (target, methods) = if call.protocol == CLIENT_NAMENODE_PROTOCOL {
            ("client_protocol", CLIENT_METHODS)
        } else if call.protocol == DATANODE_PROTOCOL {
            ("datanode_protocol", DATANODE_METHODS)
        } else {
            continue;
        };
        let Some(i) = methods.iter().position(|m| *m == call.method) else {
            continue;
        };
        if call.method == "blockReport" {
            c.add("block_report", &r.source, call.request.to_vec());
        }
        let mut seed = vec![i as u8];
        seed.extend_from_slice(&call.request);
        c.add(target, &format!("{}-{}", r.source, call.method), seed);
    }
}

fn split_transfer(c: &mut Corpus, r: &Recording) {
    c.add("transfer_op", &r.source, r.c2s.clone());
    let mut rest = &r.c2s[..];
    if let Ok(Some(Op::WriteBlock)) = read_op_header(&mut rest) {
        if let Ok(op) = read_delimited::<OpWriteBlockProto>(&mut rest, "write block") {
            let checksum = ferrodfs_transfer::checksum::ChecksumType::from_id(
                op.requested_checksum.r#type as u8,
            )
            .and_then(|t| DataChecksum::new(t, op.requested_checksum.bytes_per_checksum))
            .unwrap_or(DataChecksum::CRC32C_512);
            let mut packets = BlockMetadataHeader::new(checksum).encode().to_vec();
            packets.extend_from_slice(rest);
            c.add("transfer_packet", &r.source, packets);
            c.add("pipeline_ack", &r.source, r.s2c.clone());
        }
    }
}

fn run_clients(rec: &Recorder, nn: SocketAddr, work: &Path) -> anyhow::Result<()> {
    let set = |l: &str| {
        if let Ok(mut label) = rec.label.lock() {
            *label = l.to_owned();
        }
    };
    let small = work.join("small.txt");
    std::fs::write(&small, b"hello, ferrodfs fuzz corpus\n".repeat(40))?;
    let big = work.join("big.bin");
    std::fs::write(
        &big,
        (0..150_000u32).map(|i| (i * 7) as u8).collect::<Vec<u8>>(),
    )?;
    let (small_s, big_s) = (small.display().to_string(), big.display().to_string());

    set("go");
    let go = |args: &[&str]| {
        let out = ferrodfs_testkit::go_hdfs(nn, USER, args);
        println!("go hdfs {args:?}: ok={}", out.success());
        if !out.success() {
            println!("  {}", out.stderr.trim());
        }
    };
    go(&["mkdir", "-p", "/go/dir"]);
    go(&["put", &small_s, "/go/small"]);
    go(&["put", &big_s, "/go/big"]);
    go(&["cat", "/go/small"]);
    go(&["ls", "-l", "/go"]);
    go(&["mv", "/go/small", "/go/dir/moved"]);
    go(&["du", "-s", "/go"]);
    go(&["checksum", "/go/big"]);
    go(&["chmod", "700", "/go/dir"]);
    go(&["touch", "/go/empty"]);
    go(&["df"]);
    go(&["get", "/go/big", &work.join("go-big").display().to_string()]);
    go(&["rm", "-r", "/go/dir"]);

    set("java");
    let uri = format!("hdfs://{nn}");
    let java = |args: &[&str]| {
        let out = ferrodfs_testkit::java_fs_shell(&uri, USER, &[], args);
        println!("java FsShell {args:?}: ok={}", out.success());
        if !out.success() {
            println!("  {}", out.stderr.lines().last().unwrap_or_default());
        }
    };
    java(&["-mkdir", "-p", "/java/dir"]);
    java(&["-put", &small_s, "/java/small"]);
    java(&["-put", &big_s, "/java/big"]);
    java(&["-cat", "/java/small"]);
    java(&["-ls", "/java"]);
    java(&["-appendToFile", &small_s, "/java/small"]);
    java(&["-checksum", "/java/big"]);
    java(&["-count", "/java"]);
    java(&["-mv", "/java/small", "/java/dir/moved"]);
    java(&["-stat", "/java/big"]);
    java(&["-rm", "-r", "/java/dir"]);

    go(&["mkdir", "-p", "/native"]);
    go(&["chmod", "777", "/native"]);
    set("native");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let client = hdfs_native::ClientBuilder::new().with_url(&uri).build()?;
    let big_bytes = std::fs::read(&big)?;
    rt.block_on(async {
        let mut w = client
            .create("/native/big", hdfs_native::WriteOptions::default())
            .await?;
        w.write_bytes(bytes::Bytes::from(big_bytes)).await?;
        w.close().await?;
        let r = client.read("/native/big").await?;
        let _ = r.read_range(0, r.file_length()).await?;
        let _ = client.list_status("/native", false).await?;
        client
            .rename("/native/big", "/native/renamed", false)
            .await?;
        client.delete("/native/renamed", true).await?;
        Ok::<_, hdfs_native::HdfsError>(())
    })?;
    println!("hdfs-native: ok");
    set("done");
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let out_dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    let work = tempfile::tempdir()?;
    let rec = Arc::new(Recorder::default());
    *rec.label.lock().map_err(|_| anyhow::anyhow!("lock"))? = "datanode".into();

    // The clients run as USER, the NameNode's superuser; hdfs-native runs as the OS
    // user, whose home the superuser makes writable.
    let config = NameNodeServerConfig::for_test(&work.path().join("name"), USER);
    NameNode::format(&config.namenode, None)?;
    let server = NameNodeServer::start(config)?;
    let nn_proxy = start_proxy(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        server.rpc_addr(),
        Some(IpAddr::V4(PROXY_IP)),
        "nn",
        Arc::clone(&rec),
    )?;

    let mut datanodes = Vec::new();
    for i in 0..3 {
        let mut c = DataNodeConfig::new(vec![work.path().join(format!("data{i}"))]);
        c.namenode = Some(nn_proxy);
        c.heartbeat_interval = Duration::from_millis(300);
        let dn = DataNode::start(c)?;
        let port = dn.xfer_addr().port();
        start_proxy(
            SocketAddr::new(IpAddr::V4(PROXY_IP), port),
            dn.xfer_addr(),
            None,
            "dn",
            Arc::clone(&rec),
        )?;
        datanodes.push(dn);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while server.namenode().get_fs_stats().live_datanodes < 3 {
        if std::time::Instant::now() > deadline {
            bail!("DataNodes did not register");
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    run_clients(&rec, nn_proxy, work.path())?;

    // Stop the DataNodes (closing their NameNode connections), then let the pumps finish.
    for dn in datanodes {
        dn.shutdown();
    }
    std::thread::sleep(Duration::from_secs(1));
    let nn = Arc::clone(server.namenode());
    let image = nn.with_namesystem(|fs| ferrodfs_namenode::image::save(fs, 0));
    server.shutdown()?;

    let mut corpus = Corpus::default();
    let recordings = rec.done.lock().map(|d| d.clone()).unwrap_or_default();
    println!("{} connections recorded", recordings.len());
    for r in &recordings {
        match r.server {
            "nn" => split_rpc(&mut corpus, r),
            _ => split_transfer(&mut corpus, r),
        }
    }
    files_seeds(&mut corpus, &work.path().join("name"), &image)?;
    corpus.write(&out_dir)?;
    Ok(())
}

/// Seeds for the NameNode's file formats from the files the run left.
fn files_seeds(c: &mut Corpus, name_dir: &Path, image: &[u8]) -> anyhow::Result<()> {
    use ferrodfs_namenode::editlog::segment::{FRAME_HEADER_LEN, SEGMENT_HEADER_LEN};
    // The image as written, and its body for the checksum-fixing mode.
    c.add("image", "namenode", [&[0u8][..], image].concat());
    if image.len() > 12 {
        c.add(
            "image",
            "namenode-body",
            [&[1u8][..], &image[8..image.len() - 4]].concat(),
        );
    }
    let mut segments: Vec<PathBuf> = Vec::new();
    for e in walk(name_dir) {
        if e.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("edits_"))
        {
            segments.push(e);
        }
    }
    segments.sort();
    for path in segments {
        let data = std::fs::read(&path)?;
        c.add("editlog_segment", "namenode", [&[0u8][..], &data].concat());
        c.add(
            "editlog_segment",
            "namenode-torn",
            [&[1u8][..], &data].concat(),
        );
        // Records, re-framed by the harness (mode 2), and each op alone.
        let mut framed = vec![2u8];
        let mut pos = SEGMENT_HEADER_LEN;
        while pos + FRAME_HEADER_LEN <= data.len() {
            let len = u32::from_le_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]])
                as usize;
            let Some(payload) = data.get(pos + FRAME_HEADER_LEN..pos + FRAME_HEADER_LEN + len)
            else {
                break;
            };
            if payload.len() > 8 {
                c.add("editlog_op", "namenode", payload[8..].to_vec());
            }
            framed.extend_from_slice(&(len as u16).to_le_bytes());
            framed.extend_from_slice(payload);
            pos += FRAME_HEADER_LEN + len;
        }
        c.add("editlog_segment", "namenode-framed", framed);
    }
    Ok(())
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
