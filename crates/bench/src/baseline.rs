//! The physical minimum of a replicated write and of a read, over loopback TCP and
//! real files (the DataNode bench's relay, grown to whole files of many blocks).
//!
//! **Write** ([`relay_write`]): the sender cuts the bytes into packets of 126 chunks
//! of 512 bytes (64512 data bytes, cut at block ends, as a client does), computes a
//! CRC32C per chunk and sends `[u32 data length][checksums][data]` frames to hop 1.
//! Each of the `hops` relay threads forwards every frame downstream first, then
//! verifies every chunk against its checksum, appends data and checksums to the
//! block's data and meta files, and at each block end (and at the stream's end)
//! fsyncs both and starts new files. At the end a one-byte ack travels back from the
//! last hop; the time is from the first byte sent to that ack.
//!
//! **Read** ([`stream_read`]): one thread sends, per block file written by the first
//! hop, `[u64 data length]`, the meta file and the data file with `sendfile`;
//! the receiver reads the checksums and then the data in
//! 256 KiB pieces, verifying every chunk.
//!
//! What the baseline leaves out compared with HDFS: protobuf headers, acks per
//! packet, the NameNode calls, and the wait at each block's end (a client waits
//! for the last packet's ack — the DataNodes' fsync — before the next block).

use crate::{Error, Pattern, Result};
use ferrodfs_transfer::checksum::DataChecksum;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Bytes per checksum.
pub const BPC: usize = 512;
/// Data bytes in a full packet (126 chunks, as Hadoop's 64 KiB packets).
pub const PACKET_DATA: usize = 126 * BPC;

/// CRC32C per `BPC` bytes, computed and verified as the DataNodes and our client do
/// (three chunks at a time on SSE4.2), so the baseline is like for like.
const CHECKSUM: DataChecksum = DataChecksum::CRC32C_512;
const MAX_FRAME: usize = 4 + PACKET_DATA / BPC * 4 + PACKET_DATA;

/// Relays `size` bytes of `source` through `hops` hops, block files of `block_size` under
/// `dir/hop<i>/`; returns the time to the final ack. The files stay (for
/// [`stream_read`]); the caller removes `dir`.
pub fn relay_write(
    source: &Pattern,
    size: u64,
    block_size: u64,
    hops: usize,
    dir: &Path,
) -> Result<Duration> {
    if hops == 0 {
        return Err(Error::BaselineFrame { what: "no hops" });
    }
    let listeners = (0..hops)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    let addrs = listeners
        .iter()
        .map(TcpListener::local_addr)
        .collect::<std::io::Result<Vec<_>>>()?;
    let mut threads: Vec<JoinHandle<Result<()>>> = Vec::new();
    for (i, l) in listeners.into_iter().enumerate() {
        let next = addrs.get(i + 1).copied();
        let hop_dir = dir.join(format!("hop{i}"));
        std::fs::create_dir_all(&hop_dir)?;
        threads.push(
            std::thread::Builder::new()
                .name(format!("relay hop {i}"))
                .spawn(move || hop(l, next, &hop_dir, block_size))?,
        );
    }
    let sent = send(source, size, block_size, addrs[0]);
    let mut result = sent;
    for t in threads {
        // A failed hop also fails the sender; the hop's error says more.
        if let Err(e) = t.join().map_err(|_| Error::ThreadPanicked)? {
            result = Err(e);
        }
    }
    result
}

fn send(source: &Pattern, size: u64, block_size: u64, to: SocketAddr) -> Result<Duration> {
    let start = Instant::now();
    let mut s = TcpStream::connect(to)?;
    let mut frame = Vec::with_capacity(MAX_FRAME);
    let mut off = 0u64;
    while off < size {
        let in_block = off % block_size;
        let n = (PACKET_DATA as u64)
            .min(block_size - in_block)
            .min(size - off) as usize;
        let data = source.at(off, n);
        frame.clear();
        frame.extend_from_slice(&(n as u32).to_be_bytes());
        let sums_len = CHECKSUM.checksums_len(n);
        frame.resize(4 + sums_len, 0);
        CHECKSUM
            .compute_into(data, &mut frame[4..])
            .map_err(|_| Error::BaselineFrame {
                what: "checksum buffer",
            })?;
        frame.extend_from_slice(data);
        s.write_all(&frame)?;
        off += n as u64;
    }
    s.write_all(&0u32.to_be_bytes())?;
    s.shutdown(Shutdown::Write)?;
    let mut ack = [0u8; 1];
    s.read_exact(&mut ack)?;
    Ok(start.elapsed())
}

/// The data and meta file of block `k` under `dir`.
pub fn block_files(dir: &Path, k: u64) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("blk_{k}")),
        dir.join(format!("blk_{k}.meta")),
    )
}

fn hop(l: TcpListener, next: Option<SocketAddr>, dir: &Path, block_size: u64) -> Result<()> {
    let (mut up, _) = l.accept()?;
    let mut down = next.map(TcpStream::connect).transpose()?;
    let mut buf = vec![0u8; MAX_FRAME];
    let mut block = 0u64;
    let mut in_block = 0u64;
    let mut offset = 0u64;
    let mut files: Option<(File, BufWriter<File>)> = None;
    loop {
        up.read_exact(&mut buf[..4])?;
        let n = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if n > PACKET_DATA {
            return Err(Error::BaselineFrame {
                what: "packet too long",
            });
        }
        let sums_len = n.div_ceil(BPC) * 4;
        let frame = &mut buf[..4 + sums_len + n];
        up.read_exact(&mut frame[4..])?;
        if let Some(d) = down.as_mut() {
            d.write_all(frame)?;
        }
        if n == 0 {
            break;
        }
        let (sums, data) = frame[4..].split_at(sums_len);
        CHECKSUM
            .verify(data, sums, offset)
            .map_err(|_| Error::BaselineChecksum { offset })?;
        offset += n as u64;
        if files.is_none() {
            let (d, m) = block_files(dir, block);
            files = Some((File::create(d)?, BufWriter::new(File::create(m)?)));
        }
        if let Some((d, m)) = files.as_mut() {
            d.write_all(data)?;
            m.write_all(sums)?;
        }
        in_block += n as u64;
        if in_block == block_size {
            if let Some((d, m)) = files.take() {
                sync_block(d, m)?;
            }
            block += 1;
            in_block = 0;
        }
    }
    if let Some((d, m)) = files.take() {
        sync_block(d, m)?;
    }
    if let Some(mut d) = down {
        d.shutdown(Shutdown::Write)?;
        let mut ack = [0u8; 1];
        d.read_exact(&mut ack)?;
    }
    up.write_all(&[1])?;
    Ok(())
}

fn sync_block(data: File, meta: BufWriter<File>) -> Result<()> {
    data.sync_all()?;
    let meta = meta.into_inner().map_err(|e| e.into_error())?;
    meta.sync_all()?;
    Ok(())
}

/// Streams the block files the first hop of [`relay_write`] left in `dir/hop0`
/// (`size` bytes in all) over one loopback TCP connection and verifies every chunk
/// on the receiving side; returns the time from connect to the last byte verified.
pub fn stream_read(dir: &Path, size: u64, block_size: u64) -> Result<Duration> {
    let hop0 = dir.join("hop0");
    let blocks = size.div_ceil(block_size);
    let l = TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?;
    let server = std::thread::Builder::new()
        .name("baseline reader".into())
        .spawn(move || -> Result<()> {
            let (mut s, _) = l.accept()?;
            for k in 0..blocks {
                let (d, m) = block_files(&hop0, k);
                let data = File::open(d)?;
                let meta = File::open(m)?;
                s.write_all(&data.metadata()?.len().to_be_bytes())?;
                send_file(&s, &meta)?;
                send_file(&s, &data)?;
            }
            s.write_all(&0u64.to_be_bytes())?;
            Ok(())
        })?;
    let start = Instant::now();
    let received = receive(addr);
    let elapsed = start.elapsed();
    let served = server.join().map_err(|_| Error::ThreadPanicked)?;
    let got = received?;
    served?;
    if got != size {
        return Err(Error::ShortRead {
            peer: "baseline",
            got,
            want: size,
        });
    }
    Ok(elapsed)
}

/// All of `file` to `to` with `sendfile` (no copy through user space).
fn send_file(to: &TcpStream, file: &File) -> Result<()> {
    let mut left = file.metadata()?.len();
    let mut offset = 0u64;
    while left > 0 {
        let chunk = left.min(1 << 30) as usize;
        let n = rustix::fs::sendfile(to, file, Some(&mut offset), chunk)
            .map_err(std::io::Error::from)?;
        if n == 0 {
            return Err(Error::BaselineFrame {
                what: "file shorter than its length",
            });
        }
        left -= n as u64;
    }
    Ok(())
}

fn receive(addr: SocketAddr) -> Result<u64> {
    const PIECE: usize = 512 * BPC;
    let mut s = TcpStream::connect(addr)?;
    let mut buf = vec![0u8; PIECE];
    let mut sums = Vec::new();
    let mut total = 0u64;
    loop {
        let mut len = [0u8; 8];
        s.read_exact(&mut len)?;
        let len = u64::from_be_bytes(len);
        if len == 0 {
            return Ok(total);
        }
        let chunks =
            usize::try_from(len.div_ceil(BPC as u64)).map_err(|_| Error::BaselineFrame {
                what: "block too long",
            })?;
        sums.resize(chunks * 4, 0);
        s.read_exact(&mut sums)?;
        // PIECE is a whole number of chunks, so each piece has its own checksums.
        let mut sums_left = sums.chunks(PIECE / BPC * 4);
        let mut left = len;
        while left > 0 {
            let n = (PIECE as u64).min(left) as usize;
            let piece = &mut buf[..n];
            s.read_exact(piece)?;
            let piece_sums = sums_left.next().ok_or(Error::BaselineFrame {
                what: "fewer checksums than chunks",
            })?;
            CHECKSUM
                .verify(piece, piece_sums, total)
                .map_err(|_| Error::BaselineChecksum { offset: total })?;
            total += n as u64;
            left -= n as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_then_stream_moves_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let pattern = Pattern::new();
        let size = 3 * 100 * 1024 + 77;
        let data = pattern.file_bytes(size);
        // Blocks of 100 KiB: four block files per hop, the last partial.
        relay_write(&pattern, size, 100 * 1024, 3, dir.path()).unwrap();
        for hop in 0..3 {
            let got: Vec<u8> = (0..4)
                .flat_map(|k| {
                    std::fs::read(block_files(&dir.path().join(format!("hop{hop}")), k).0).unwrap()
                })
                .collect();
            assert!(got == data, "hop {hop} stored other bytes");
        }
        stream_read(dir.path(), size, 100 * 1024).unwrap();
        // A flipped byte on disk is caught by the reader.
        let (d, _) = block_files(&dir.path().join("hop0"), 1);
        let mut bytes = std::fs::read(&d).unwrap();
        bytes[10] ^= 1;
        std::fs::write(&d, bytes).unwrap();
        assert!(matches!(
            stream_read(dir.path(), size, 100 * 1024),
            Err(Error::BaselineChecksum { offset }) if offset == 100 * 1024
        ));
    }
}
