//! A hostile peer on the transfer port, from outside: raw sockets against a
//! DataNode running in its own process (this test binary re-executed with
//! [`CHILD_DIR`] set, see `child_datanode`). Malformed and oversized op
//! headers and packets get an error reply or a close; slow peers are cut at
//! the socket timeout however they dribble; a full
//! `dfs.datanode.max.transfer.threads` is a clean refusal. After each attack
//! the process is still alive, still serves reads and writes, and the data it
//! acknowledged before is intact.

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use ferrodfs_datanode::DataNode;
use ferrodfs_datanode::DataNodeConfig;
use ferrodfs_proto::hdfs::{BlockOpResponseProto, Status};
use ferrodfs_proto::Message;
use ferrodfs_transfer::op::{op_header, read_delimited, write_op, Op};
use ferrodfs_transfer::packet::{write_packet, PacketHeader};
use util::*;

/// Set in a child process: run a DataNode in this directory instead of tests.
const CHILD_DIR: &str = "FERRODFS_HOSTILE_DN_DIR";
/// `socket timeout ms, keepalive ms, max transfer threads` for the child.
const CHILD_LIMITS: &str = "FERRODFS_HOSTILE_DN_LIMITS";
/// How long a test waits for anything the DataNode should do.
const PATIENCE: Duration = Duration::from_secs(20);

/// Not a test: the body of the DataNode child process. Prints `XFER <addr>`
/// once listening and runs until its stdin closes (the parent ended).
#[test]
#[ignore = "runs only as the child process of the other tests"]
fn child_datanode() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let limits: Vec<u64> = std::env::var(CHILD_LIMITS)
        .unwrap()
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    let mut conf = DataNodeConfig::new(vec![dir.into()]);
    conf.xceiver.socket_timeout = Duration::from_millis(limits[0]);
    conf.xceiver.keepalive_timeout = Duration::from_millis(limits[1]);
    conf.xceiver.max_transfer_threads = limits[2] as usize;
    let dn = DataNode::start(conf).unwrap();
    dn.dataset().add_block_pool(&ns()).unwrap();
    println!("XFER {}", dn.xfer_addr());
    std::io::stdout().flush().unwrap();
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    dn.shutdown();
}

/// A DataNode in its own process; killed when dropped.
struct ChildNode {
    child: Child,
    stdin: Option<ChildStdin>,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl ChildNode {
    fn start(socket_timeout_ms: u64, keepalive_ms: u64, max_threads: usize) -> ChildNode {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_datanode", "--ignored", "--nocapture"])
            .arg("--test-threads=1")
            .env(CHILD_DIR, dir.path())
            .env(
                CHILD_LIMITS,
                format!("{socket_timeout_ms},{keepalive_ms},{max_threads}"),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let addr = loop {
            line.clear();
            assert!(out.read_line(&mut line).unwrap() > 0, "child exited");
            // libtest prints "test child_datanode ... " before it.
            if let Some(at) = line.find("XFER ") {
                break line[at + 5..].trim().parse().unwrap();
            }
        };
        // Keep draining the child's stdout so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut out, &mut std::io::sink());
        });
        ChildNode {
            child,
            stdin,
            addr,
            _dir: dir,
        }
    }

    /// Still running (not aborted, not panicked out).
    fn assert_alive(&mut self) {
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "the DataNode process died"
        );
    }
}

impl Drop for ChildNode {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dial(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s
}

/// Reads until the DataNode closes the connection (EOF or reset), within
/// [`PATIENCE`]; returns what came before the close.
fn until_closed(s: &mut TcpStream) -> Vec<u8> {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("connection not closed after {:?}: {e}", started.elapsed()),
        }
    }
}

/// Writes a good block and checks it reads back.
fn write_and_check(addr: SocketAddr, id: i64, len: usize) -> Vec<u8> {
    let b = block(id, 1001);
    let data = pattern(len, id as u8);
    let r = write_block(addr, &[], &b, &data, &WriteStyle::java());
    assert_eq!(r.setup.status, Status::Success as i32);
    assert_eq!(r.acks.len(), r.sent.len());
    assert!(r.acks.iter().all(|a| a.is_success()), "{:?}", r.acks);
    assert_eq!(read_block(addr, &b, 0, len as u64).data.unwrap(), data);
    data
}

/// A WRITE_BLOCK set up for `block_id`, its SUCCESS reply read: packets next.
fn open_write(addr: SocketAddr, block_id: i64) -> TcpStream {
    let mut s = dial(addr);
    let op = write_op_proto(&block(block_id, 1001), &[], &WriteStyle::java());
    write_op(&mut s, Op::WriteBlock, &op).unwrap();
    let r: BlockOpResponseProto = read_delimited(&mut s, "setup").unwrap();
    assert_eq!(r.status, Status::Success as i32);
    s
}

fn packet(h: &PacketHeader, sums: &[u8], data: &[u8]) -> Vec<u8> {
    let mut wire = Vec::new();
    write_packet(&mut wire, h, sums, data).unwrap();
    wire
}

#[test]
fn malformed_op_headers_and_packets_are_refused_and_the_node_carries_on() {
    let mut dn = ChildNode::start(20_000, 4_000, 4096);
    let addr = dn.addr;
    let good = write_and_check(addr, 1_073_741_825, 200_000);

    // Op headers: a reply and a close, or a close.
    let mut s = dial(addr);
    s.write_all(&[0, 27, 0x51]).unwrap();
    let r: BlockOpResponseProto = read_delimited(&mut s, "bad version").unwrap();
    assert_eq!(r.status, Status::Error as i32);
    until_closed(&mut s);
    let mut s = dial(addr);
    s.write_all(&[0, 28, 0xee]).unwrap();
    let r: BlockOpResponseProto = read_delimited(&mut s, "unknown op").unwrap();
    assert_eq!(r.status, Status::ErrorUnsupported as i32);
    until_closed(&mut s);
    for request in [
        // A request length of 2^35 (a 5-byte varint), then nothing.
        vec![0x80, 0x80, 0x80, 0x80, 0x7f],
        // An 11-byte varint.
        vec![0xff; 11],
        // 1 MiB + 1 claimed.
        vec![0x81, 0x80, 0x40],
        // 8 bytes claimed and sent, not an OpReadBlockProto.
        vec![0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    ] {
        let mut s = dial(addr);
        s.write_all(&op_header(Op::ReadBlock)).unwrap();
        s.write_all(&request).unwrap();
        assert!(until_closed(&mut s).is_empty(), "{request:?}");
    }
    dn.assert_alive();

    // Packets on an open WRITE_BLOCK: each ends the write with a close.
    let sum = ferrodfs_transfer::checksum::DataChecksum::CRC32C_512;
    let data = pattern(1000, 9);
    let sums = sum.compute(&data);
    let ok = |seqno: i64, offset: i64| PacketHeader {
        offset_in_block: offset,
        seqno,
        data_len: data.len() as i32,
        ..Default::default()
    };
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("payload 2 GiB", vec![0x7f, 0xff, 0xff, 0xff, 0, 25]),
        ("payload over 16 MiB", {
            let mut w = ((16 << 20) as u32).to_be_bytes().to_vec();
            w.extend_from_slice(&[0, 25]);
            w
        }),
        ("payload below 4", vec![0, 0, 0, 2, 0, 25]),
        ("no header", vec![0, 0, 0, 4, 0, 0]),
        ("header length 0xffff", vec![0, 0, 0, 4, 0xff, 0xff]),
        ("undecodable header", {
            let mut w = packet(&ok(0, 0), &sums, &data);
            w[6..31].fill(0xff);
            w
        }),
        ("data length beyond the payload", {
            let mut w = packet(&ok(0, 0), &sums, &data);
            w[3] -= 100;
            w.truncate(w.len() - 100);
            w
        }),
        ("negative offset", packet(&ok(0, -512), &sums, &data)),
        (
            "checksums for half the data",
            packet(&ok(0, 0), &sums[..4], &data),
        ),
        ("replayed seqno", {
            let mut w = packet(&ok(0, 0), &sums, &data);
            w.extend_from_slice(&packet(&ok(0, 1000), &sum.compute(&data), &data));
            w
        }),
        (
            "offset past the bytes received",
            packet(&ok(0, 1 << 20), &sums, &data),
        ),
    ];
    // Checksums that do not match the data: ERROR_CHECKSUM, then the close.
    let mut corrupt = packet(&ok(0, 0), &sums, &data);
    let n = corrupt.len();
    corrupt[n - 1] ^= 1;
    cases.push(("corrupt data", corrupt));
    for (i, (what, bytes)) in cases.iter().enumerate() {
        let id = 1_073_741_900 + i as i64;
        let mut s = open_write(addr, id);
        s.write_all(bytes).unwrap();
        let _ = s.shutdown(std::net::Shutdown::Write);
        let reply = until_closed(&mut s);
        // The DataNode acks nothing after the bad packet, and never SUCCESS for it.
        let acks = ferrodfs_transfer::ack::PipelineAck::decode(&reply);
        if let Ok((ack, _)) = acks {
            assert!(
                !ack.is_success() || ack.seqno == 0 && *what == "replayed seqno",
                "{what}: {ack:?}"
            );
        }
        let rr = read_block(addr, &block(id, 1001), 0, data.len() as u64);
        if *what == "replayed seqno" {
            // The first packet was good and acknowledged: it stays readable.
            assert_eq!(rr.data.unwrap(), data, "{what}");
        } else {
            // Nothing was acknowledged, nothing is readable.
            assert_ne!(rr.response.status, Status::Success as i32, "{what}");
        }
        dn.assert_alive();
    }

    // Still serving; the acknowledged block is intact.
    let b = block(1_073_741_825, 1001);
    assert_eq!(
        read_block(addr, &b, 0, good.len() as u64).data.unwrap(),
        good
    );
    write_and_check(addr, 1_073_741_826, 70_000);
    dn.assert_alive();
}

#[test]
fn slowloris_connections_are_closed_at_the_socket_timeout() {
    const TIMEOUT: Duration = Duration::from_millis(2000);
    const PEERS: usize = 50;
    let mut dn = ChildNode::start(TIMEOUT.as_millis() as u64, 1000, 4096);
    let addr = dn.addr;
    let good = write_and_check(addr, 1_073_741_825, 100_000);

    // 48 peers trickle a READ_BLOCK request a byte a second; 2 trickle a
    // packet into an open WRITE_BLOCK.
    let mut request = op_header(Op::ReadBlock).to_vec();
    let op = ferrodfs_proto::hdfs::OpReadBlockProto {
        header: write_op_proto(&block(1_073_741_825, 1001), &[], &WriteStyle::java()).header,
        offset: 0,
        len: 100,
        send_checksums: Some(true),
        caching_strategy: None,
    };
    op.encode_length_delimited(&mut request).unwrap();
    let data = pattern(5000, 1);
    let sums = ferrodfs_transfer::checksum::DataChecksum::CRC32C_512.compute(&data);
    let slow_packet = packet(
        &PacketHeader {
            data_len: data.len() as i32,
            ..Default::default()
        },
        &sums,
        &data,
    );
    let started = Instant::now();
    let mut peers: Vec<(TcpStream, &[u8], Option<Duration>)> = (0..PEERS)
        .map(|i| {
            if i < 2 {
                (
                    open_write(addr, 1_073_742_000 + i as i64),
                    &slow_packet[..],
                    None,
                )
            } else {
                (dial(addr), &request[..], None)
            }
        })
        .collect();
    for (s, _, _) in &peers {
        s.set_nonblocking(true).unwrap();
    }
    let mut sent = 0;
    while peers.iter().any(|p| p.2.is_none()) && started.elapsed() < PATIENCE {
        for (s, bytes, closed) in peers.iter_mut().filter(|p| p.2.is_none()) {
            let mut probe = [0u8; 64];
            let gone = match s.read(&mut probe) {
                Ok(0) => true,
                Ok(_) => false,
                Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
            };
            let gone = gone || s.write_all(&bytes[sent..sent + 1]).is_err();
            if gone {
                *closed = Some(started.elapsed());
            }
        }
        sent += 1;
        // Meanwhile a normal client is served.
        if sent == 1 {
            assert_eq!(
                read_block(addr, &block(1_073_741_825, 1001), 0, 100_000)
                    .data
                    .unwrap(),
                good
            );
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let slowest = peers.iter().map(|p| p.2.expect("peer never closed")).max();
    // Each peer's unit (op header and request, or a packet) started as it
    // connected; the close is seen at the next probe, a second or so later.
    assert!(
        slowest.unwrap() <= TIMEOUT + Duration::from_millis(2500),
        "slowest close after {slowest:?}"
    );
    assert!(sent < request.len() && sent < slow_packet.len());
    dn.assert_alive();
    assert_eq!(
        read_block(addr, &block(1_073_741_825, 1001), 0, 100_000)
            .data
            .unwrap(),
        good
    );
}

#[test]
fn a_full_xceiver_pool_refuses_with_an_error_reply() {
    const MAX: usize = 4;
    let mut dn = ChildNode::start(20_000, 4_000, MAX);
    let addr = dn.addr;
    let good = write_and_check(addr, 1_073_741_825, 10_000);

    // Idle connections take every slot (once the threads of the write and
    // read above have seen their connections end).
    std::thread::sleep(Duration::from_millis(500));
    let idle: Vec<TcpStream> = (0..MAX).map(|_| dial(addr)).collect();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let rr = read_block(addr, &block(1_073_741_825, 1001), 0, 100);
    assert!(started.elapsed() < Duration::from_secs(5), "no hang");
    assert_eq!(rr.response.status, Status::Error as i32);
    let msg = rr.response.message.unwrap();
    assert!(
        msg.contains("exceeds the limit of concurrent xceivers: 4"),
        "{msg}"
    );
    // Several more at once: each refused, none hangs.
    let refused: Vec<TcpStream> = (0..10).map(|_| dial(addr)).collect();
    for mut s in refused {
        let r: BlockOpResponseProto = read_delimited(&mut s, "refusal").unwrap();
        assert_eq!(r.status, Status::Error as i32);
        until_closed(&mut s);
    }
    dn.assert_alive();

    // A slot frees when a connection ends; then the node serves again.
    drop(idle);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let rr = read_block(addr, &block(1_073_741_825, 1001), 0, good.len() as u64);
        if rr.response.status == Status::Success as i32 {
            assert_eq!(rr.data.unwrap(), good);
            break;
        }
        assert!(Instant::now() < deadline, "slots never freed");
        std::thread::sleep(Duration::from_millis(100));
    }
    dn.assert_alive();
}
