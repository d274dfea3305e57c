//! The write path: [`DfsOutputStream`] and the threads behind it.
//!
//! * [`packet`]: the packetizer (chunks with CRC32C, packets, block boundaries);
//! * [`queue`]: `dataQueue` + `ackQueue` and the pipeline's error state;
//! * [`pipeline`]: WRITE_BLOCK / TRANSFER_BLOCK set-up against DataNodes;
//! * [`streamer`]: the DataStreamer thread;
//! * [`responder`]: the ResponseProcessor thread of each block;
//! * [`recovery`]: pipeline recovery and the append set-up.
//!
//! The writer thread (the caller of [`std::io::Write::write`]) only cuts bytes into
//! packets and queues them; it blocks when
//! `dfs.client.write.max-packets-in-flight` packets are queued or unacknowledged.

pub mod packet;
pub mod pipeline;
pub mod queue;
mod recovery;
pub mod responder;
pub mod streamer;

use crate::lease::OpenFileGuard;
use crate::{Error, Result};
use ferrodfs_proto::hdfs::{CompleteRequestProto, ExtendedBlockProto, FsyncRequestProto};
use packet::Packetizer;
use queue::Queues;
use std::io;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use streamer::DataStreamer;
pub use streamer::{Start, WriteContext};

/// An open file being written: `create` or `append` of [`crate::DfsClient`].
///
/// Bytes written are acknowledged by every DataNode of the pipeline asynchronously;
/// [`DfsOutputStream::hflush`] waits for them (and makes them visible to new
/// readers), [`DfsOutputStream::close`] finishes the file. [`io::Write::flush`] is
/// `hflush`. Dropping an open stream closes it, logging a failure.
#[derive(Debug)]
pub struct DfsOutputStream {
    ctx: Arc<WriteContext>,
    packetizer: Packetizer,
    queues: Arc<Queues>,
    streamer: Option<JoinHandle<Option<ExtendedBlockProto>>>,
    /// Bytes written since open (for `pos`).
    written: u64,
    /// Acked length of the current block last reported with `fsync`.
    last_synced_len: i64,
    closed: bool,
    _open: OpenFileGuard,
}

impl DfsOutputStream {
    /// Starts the DataStreamer. `bytes_in_block` is the length of the partial block
    /// continued by an append (0 otherwise).
    pub(crate) fn start(
        ctx: WriteContext,
        block_size: u64,
        start: Start,
        open: OpenFileGuard,
    ) -> Result<DfsOutputStream> {
        let bpc = u64::from(ctx.checksum.bytes_per_checksum());
        if block_size == 0 || block_size % bpc != 0 {
            return Err(Error::InvalidArgument(format!(
                "block size {block_size} is not a multiple of bytes per checksum {bpc}"
            )));
        }
        let bytes_in_block = match &start {
            Start::Append(lb) => lb.b.num_bytes.unwrap_or(0),
            Start::NewBlock => 0,
        };
        let ctx = Arc::new(ctx);
        let queues = Arc::new(Queues::new(ctx.conf.max_packets_in_flight));
        let packetizer = Packetizer::new(
            ctx.checksum,
            ctx.conf.write_packet_size,
            block_size,
            bytes_in_block,
        );
        let streamer = DataStreamer::spawn(ctx.clone(), queues.clone(), start)?;
        Ok(DfsOutputStream {
            ctx,
            packetizer,
            queues,
            streamer: Some(streamer),
            written: 0,
            last_synced_len: -1,
            closed: false,
            _open: open,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &str {
        &self.ctx.src
    }

    /// The file's inode id.
    pub fn file_id(&self) -> u64 {
        self.ctx.file_id
    }

    /// Bytes written through this stream.
    pub fn written(&self) -> u64 {
        self.written
    }

    fn check_open(&self) -> Result<()> {
        if self.closed {
            Err(Error::StreamClosed)
        } else {
            Ok(())
        }
    }

    /// Writes all of `buf` (queued for the pipeline; blocks while the queues are full).
    pub fn write_bytes(&mut self, buf: &[u8]) -> Result<()> {
        self.check_open()?;
        let queues = &self.queues;
        self.packetizer.write(buf, &mut |p| queues.enqueue(p))?;
        self.written += buf.len() as u64;
        Ok(())
    }

    /// Hadoop's `hflush`: sends what is buffered and waits until every DataNode of the
    /// pipeline has acknowledged all bytes written so far; new readers then see them.
    /// Reports the block's length to the NameNode (`fsync`) when it changed.
    pub fn hflush(&mut self) -> Result<()> {
        self.flush_or_sync(false)
    }

    /// Hadoop's `hsync`: `hflush`, and the DataNodes sync the block to disk first.
    pub fn hsync(&mut self) -> Result<()> {
        self.flush_or_sync(true)
    }

    fn flush_or_sync(&mut self, sync: bool) -> Result<()> {
        self.check_open()?;
        if let Some(p) = self.packetizer.flush(sync) {
            self.queues.enqueue(p)?;
        }
        let seqno = {
            let mut s = self.queues.lock();
            s.hflushed = true;
            s.last_queued_seqno
        };
        if seqno < 0 {
            // Nothing was ever written: no block to report.
            return Ok(());
        }
        self.queues.wait_for_acked(seqno)?;
        let (len, new_block) = {
            let mut s = self.queues.lock();
            (s.bytes_acked, std::mem::take(&mut s.persist_blocks))
        };
        // Hadoop's client calls fsync only after a new block; ferrodfs readers take the
        // length of a block under construction from the NameNode, so report every
        // change.
        if new_block || len != self.last_synced_len {
            self.ctx
                .nn
                .fsync(&FsyncRequestProto {
                    src: self.ctx.src.clone(),
                    client: self.ctx.client_name.clone(),
                    last_block_length: Some(len),
                    file_id: Some(self.ctx.file_id),
                })
                .map_err(|e| Error::rpc("fsync", &self.ctx.src, e))?;
            self.last_synced_len = len;
        }
        Ok(())
    }

    /// Finishes the file: sends the rest and the block's last packet, waits for their
    /// acks, stops the streamer, then calls `complete` until the NameNode agrees
    /// (retried with back-off while the last block lacks replicas).
    pub fn close(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        let mut result = Ok(());
        for p in self.packetizer.finish() {
            if let Err(e) = self.queues.enqueue(p) {
                result = Err(e);
                break;
            }
        }
        let waited = self.queues.close_and_wait();
        let last = self.streamer.take().and_then(|h| h.join().ok()).flatten();
        result?;
        waited?;
        self.complete(last)
    }

    fn complete(&self, last: Option<ExtendedBlockProto>) -> Result<()> {
        let conf = &self.ctx.conf;
        let req = CompleteRequestProto {
            src: self.ctx.src.clone(),
            client_name: self.ctx.client_name.clone(),
            last,
            file_id: Some(self.ctx.file_id),
        };
        let mut delay = conf.locate_block_initial_delay;
        for attempt in 0..=conf.locate_block_retries {
            let done = self
                .ctx
                .nn
                .complete(&req)
                .map_err(|e| Error::rpc("complete", &self.ctx.src, e))?
                .result;
            if done {
                return Ok(());
            }
            if attempt < conf.locate_block_retries {
                tracing::info!(file = %self.ctx.src, ?delay, "complete returned false; retrying");
                thread::sleep(delay);
                delay *= 2;
            }
        }
        Err(Error::CompleteFailed {
            path: self.ctx.src.clone(),
        })
    }
}

impl io::Write for DfsOutputStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_bytes(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        Ok(self.write_bytes(buf)?)
    }

    /// `hflush`.
    fn flush(&mut self) -> io::Result<()> {
        Ok(self.hflush()?)
    }
}

impl Drop for DfsOutputStream {
    fn drop(&mut self) {
        if !self.closed {
            if let Err(e) = self.close() {
                tracing::warn!(file = %self.ctx.src, error = %e, "closing a dropped output stream failed");
            }
        }
    }
}
