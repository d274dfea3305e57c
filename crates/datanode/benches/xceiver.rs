//! Transfer-server throughput on loopback, each figure beside a baseline from
//! the same run (a small harness: a few long runs say more than criterion's
//! many short ones here).
//!
//! * Pipeline write: a 64 MiB block through 3 in-process DataNodes (CRC32C
//!   verified on every node, data and checksums written, replica fsynced and
//!   finalized), packets prebuilt by the client. Baseline: the physical
//!   minimum, a 3-hop loopback TCP relay of the same bytes where every hop
//!   computes CRC32C per 512-byte chunk, writes to a file and fsyncs it at the
//!   end; also a plain 3-hop relay (no CRC, no file).
//! * READ_BLOCK of a finalized 64 MiB replica (page cache warm), with
//!   `sendfile` and with read+write. Baseline: one loopback TCP stream of the
//!   same number of bytes from memory.
//!
//! Run: `cargo bench -p ferrodfs-datanode --bench xceiver`.

#[path = "../tests/util/mod.rs"]
mod util;

use std::io::{BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrodfs_datanode::{DataNode, DataNodeConfig};
use ferrodfs_proto::hdfs::{BlockOpResponseProto, Status};
use ferrodfs_transfer::ack::PipelineAck;
use ferrodfs_transfer::checksum::{ChecksumType, DataChecksum};
use ferrodfs_transfer::op::{read_delimited, write_op, Op};
use ferrodfs_transfer::packet::{write_packet, PacketHeader, PacketReader};
use util::*;

const BLOCK: usize = 64 << 20;
const PACKET: usize = 126 * 512;
const RUNS: usize = 5;

fn mb_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The client's packets for a whole block (seqno from 0), and the last one.
fn packets(data: &[u8]) -> Vec<Vec<u8>> {
    let sum = DataChecksum::new(ChecksumType::Crc32c, 512).unwrap();
    let mut out = Vec::new();
    let mut off = 0;
    let mut seqno = 0;
    loop {
        let n = PACKET.min(data.len() - off);
        let d = &data[off..off + n];
        let h = PacketHeader {
            offset_in_block: off as i64,
            seqno,
            last_packet_in_block: n == 0,
            data_len: n as i32,
            sync_block: false,
        };
        let mut buf = Vec::new();
        write_packet(&mut buf, &h, &sum.compute(d), d).unwrap();
        out.push(buf);
        seqno += 1;
        off += n;
        if n == 0 {
            return out;
        }
    }
}

fn start(dir: PathBuf, transfer_to: bool) -> TestNode {
    let (tx, rx) = std::sync::mpsc::channel();
    let mut conf = DataNodeConfig::new(vec![dir.clone()]);
    conf.events = Arc::new(tx);
    conf.xceiver.transfer_to = transfer_to;
    let dn = DataNode::start(conf).unwrap();
    dn.dataset().add_block_pool(&ns()).unwrap();
    TestNode {
        dn: Some(dn),
        dir,
        events: rx,
    }
}

fn pipeline_write(dns: &[TestNode], id: i64, pkts: &[Vec<u8>]) -> Duration {
    let b = block(id, 1);
    let t = Instant::now();
    let s = connect(dns[0].addr());
    let op = write_op_proto(&b, &[dns[1].info(), dns[2].info()], &WriteStyle::java());
    write_op(&mut &s, Op::WriteBlock, &op).unwrap();
    let mut input = BufReader::new(s.try_clone().unwrap());
    let setup: BlockOpResponseProto = read_delimited(&mut input, "setup").unwrap();
    assert_eq!(setup.status, Status::Success as i32);
    let n = pkts.len();
    let acker = std::thread::spawn(move || {
        for _ in 0..n {
            let ack = PipelineAck::read_from(&mut input).unwrap();
            assert!(ack.is_success() && ack.replies.len() == 3);
        }
    });
    for p in pkts {
        (&s).write_all(p).unwrap();
    }
    acker.join().unwrap();
    t.elapsed()
}

/// A 3-hop relay of `wire`; every hop optionally CRC32Cs 512-byte chunks
/// and writes (and at the end fsyncs) a file.
fn relay(wire: &[Vec<u8>], dirs: &[PathBuf], work: bool) -> Duration {
    let listeners: Vec<TcpListener> = (0..3)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let addrs: Vec<_> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
    let mut hops = Vec::new();
    for (i, l) in listeners.into_iter().enumerate() {
        let next = addrs.get(i + 1).copied();
        let path = dirs[i].join(format!("relay-{i}"));
        hops.push(std::thread::spawn(move || hop(l, next, &path, work)));
    }
    let t = Instant::now();
    let mut s = TcpStream::connect(addrs[0]).unwrap();
    for p in wire {
        s.write_all(p).unwrap();
    }
    s.shutdown(Shutdown::Write).unwrap();
    let mut ack = [0u8; 1];
    s.read_exact(&mut ack).unwrap();
    let d = t.elapsed();
    for h in hops {
        h.join().unwrap();
    }
    d
}

fn hop(l: TcpListener, next: Option<std::net::SocketAddr>, path: &Path, work: bool) {
    let (mut up, _) = l.accept().unwrap();
    let mut down = next.map(|a| TcpStream::connect(a).unwrap());
    let mut file = work.then(|| std::fs::File::create(path).unwrap());
    let mut buf = vec![0u8; 128 * 1024];
    let mut sink = 0u32;
    loop {
        let n = up.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        if let Some(d) = down.as_mut() {
            d.write_all(&buf[..n]).unwrap();
        }
        if let Some(f) = file.as_mut() {
            for c in buf[..n].chunks(512) {
                sink ^= crc32c::crc32c(c);
            }
            f.write_all(&buf[..n]).unwrap();
        }
    }
    std::hint::black_box(sink);
    if let Some(f) = &file {
        f.sync_all().unwrap();
    }
    if let Some(mut d) = down {
        d.shutdown(Shutdown::Write).unwrap();
        let mut ack = [0u8; 1];
        d.read_exact(&mut ack).unwrap();
    }
    up.write_all(&[1]).unwrap();
    let _ = std::fs::remove_file(path);
}

fn read_block_raw(addr: std::net::SocketAddr, id: i64, len: u64) -> Duration {
    let b = block(id, 1);
    let t = Instant::now();
    let s = connect(addr);
    let mut op_conn = &s;
    let op = ferrodfs_proto::hdfs::OpReadBlockProto {
        header: ferrodfs_proto::hdfs::ClientOperationHeaderProto {
            base_header: ferrodfs_proto::hdfs::BaseHeaderProto {
                block: block_proto(&b, len),
                token: None,
                trace_info: None,
            },
            client_name: "bench".into(),
        },
        offset: 0,
        len,
        send_checksums: Some(true),
        caching_strategy: None,
    };
    write_op(&mut op_conn, Op::ReadBlock, &op).unwrap();
    // A small buffer: packet bodies bypass it (no extra copy), like the baseline.
    let mut input = BufReader::with_capacity(8 * 1024, s.try_clone().unwrap());
    let r: BlockOpResponseProto = read_delimited(&mut input, "resp").unwrap();
    assert_eq!(r.status, Status::Success as i32);
    let mut reader = PacketReader::new();
    let mut got = 0u64;
    loop {
        let p = reader.read(&mut input).unwrap();
        got += p.data.len() as u64;
        if p.header.last_packet_in_block {
            break;
        }
    }
    assert_eq!(got, len);
    t.elapsed()
}

fn stream_baseline(len: usize) -> Duration {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let buf = vec![7u8; 64 * 1024];
        let mut left = len;
        while left > 0 {
            let n = left.min(buf.len());
            s.write_all(&buf[..n]).unwrap();
            left -= n;
        }
    });
    let t = Instant::now();
    let mut s = TcpStream::connect(addr).unwrap();
    let mut buf = vec![0u8; 256 * 1024];
    let mut got = 0;
    while got < len {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        got += n;
    }
    let d = t.elapsed();
    server.join().unwrap();
    d
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let data = pattern(BLOCK, 1);
    let pkts = packets(&data);

    // Pipeline write vs relays.
    let dns: Vec<TestNode> = (0..3)
        .map(|i| start(tmp.path().join(format!("dn{i}")), true))
        .collect();
    let dirs: Vec<PathBuf> = dns.iter().map(|n| n.dir.clone()).collect();
    let mut w = Vec::new();
    let mut base = Vec::new();
    let mut plain = Vec::new();
    for i in 0..RUNS {
        w.push(pipeline_write(&dns, 1_000 + i as i64, &pkts));
        base.push(relay(&pkts, &dirs, true));
        plain.push(relay(&pkts, &dirs, false));
        for n in &dns {
            n.dn().invalidate(BP, &[1_000 + i as i64]).unwrap();
        }
    }
    let (w, base, plain) = (median(w), median(base), median(plain));
    println!(
        "pipeline write 3 replicas, 64 MiB: {:7.1} MB/s | relay+crc32c+file+fsync baseline {:7.1} MB/s | ratio {:.2} | plain relay {:7.1} MB/s | ratio {:.2}",
        mb_s(BLOCK, w),
        mb_s(BLOCK, base),
        base.as_secs_f64() / w.as_secs_f64(),
        mb_s(BLOCK, plain),
        plain.as_secs_f64() / w.as_secs_f64()
    );

    // READ_BLOCK vs one TCP stream.
    let b = block(7, 1);
    let r = write_block(dns[0].addr(), &[], &b, &data, &WriteStyle::java());
    assert!(r.acks.iter().all(|a| a.is_success()));
    drop(dns);
    let reader_copy = start(tmp.path().join("dn0"), false);
    let mut copy = Vec::new();
    for _ in 0..RUNS {
        copy.push(read_block_raw(reader_copy.addr(), 7, BLOCK as u64));
    }
    drop(reader_copy);
    let reader = start(tmp.path().join("dn0"), true);
    let mut zc = Vec::new();
    let mut sb = Vec::new();
    for _ in 0..RUNS {
        zc.push(read_block_raw(reader.addr(), 7, BLOCK as u64));
        sb.push(stream_baseline(BLOCK));
    }
    let (zc, copy, sb) = (median(zc), median(copy), median(sb));
    println!(
        "READ_BLOCK 64 MiB sendfile: {:7.1} MB/s | read+write: {:7.1} MB/s | one TCP stream baseline {:7.1} MB/s | ratio sendfile {:.2}, read+write {:.2}",
        mb_s(BLOCK, zc),
        mb_s(BLOCK, copy),
        mb_s(BLOCK, sb),
        sb.as_secs_f64() / zc.as_secs_f64(),
        sb.as_secs_f64() / copy.as_secs_f64()
    );
}
