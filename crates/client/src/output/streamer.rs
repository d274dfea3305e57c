//! The DataStreamer: one thread per output stream that takes packets off `dataQueue`
//! and sends them down a pipeline of DataNodes (Hadoop's `DataStreamer.run`).
//!
//! Stages of the current block:
//!
//! ```text
//! PIPELINE_SETUP_CREATE ──addBlock + WRITE_BLOCK──▶ DATA_STREAMING ──last packet──▶ PIPELINE_CLOSE
//!         ▲                                            ▲    │ error                     │ acked
//!         │                                            └────┘ recovery                  │
//!         └────────────────────────── endBlock ◀────────────────────────────────────────┘
//! PIPELINE_SETUP_APPEND (append to a partial last block) ──updateBlockForPipeline + WRITE_BLOCK──▶ DATA_STREAMING
//! ```
//!
//! Each turn of the loop: handle a pipeline error if one is recorded (see
//! [`super::recovery`]); wait for a packet, or — while streaming — send a heartbeat
//! after half the socket timeout of silence; set up a pipeline if the block has none;
//! before the last packet of a block wait until `ackQueue` is empty; move the packet
//! to `ackQueue` and write it (a failed write blames the first node); after the last
//! packet wait for its ack and end the block.

use super::packet::Packet;
use super::pipeline::{block_name, create_block_output_stream, Nodes, WriteBlockRequest};
use super::queue::{PipelineError, Queues};
use super::responder::ResponseProcessor;
use crate::config::ClientConf;
use crate::{Error, Result};
use ferrodfs_ipc::client::namenode::NamenodeProtocol;
use ferrodfs_ipc::JavaException;
use ferrodfs_proto::hdfs::op_write_block_proto::BlockConstructionStage;
use ferrodfs_proto::hdfs::{
    AbandonBlockRequestProto, AddBlockRequestProto, DatanodeInfoProto, ExtendedBlockProto,
    LocatedBlockProto,
};
use ferrodfs_transfer::checksum::DataChecksum;
use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long the streamer waits at a time outside DATA_STREAMING, and for acks.
const POLL: Duration = Duration::from_secs(1);

/// What the streamer of one file needs to know.
#[derive(Debug)]
pub struct WriteContext {
    pub nn: NamenodeProtocol,
    pub conf: Arc<ClientConf>,
    pub client_name: String,
    pub src: String,
    pub file_id: u64,
    pub replication: u16,
    pub checksum: DataChecksum,
}

/// How the stream starts.
#[derive(Debug)]
pub enum Start {
    /// A new file, or an append whose last block is full: the first packet asks for a
    /// block.
    NewBlock,
    /// An append continuing the partial last block.
    Append(Box<LocatedBlockProto>),
}

/// The streamer's state; runs on its own thread.
#[derive(Debug)]
pub struct DataStreamer {
    pub(super) ctx: Arc<WriteContext>,
    pub(super) queues: Arc<Queues>,
    pub(super) stage: BlockConstructionStage,
    /// The block being written (its `num_bytes` is updated at the end and on recovery).
    pub(super) block: Option<ExtendedBlockProto>,
    /// The last block finished, `previous` of the next `addBlock`.
    pub(super) previous: Option<ExtendedBlockProto>,
    pub(super) nodes: Nodes,
    pub(super) stream: Option<TcpStream>,
    pub(super) responder: Option<ResponseProcessor>,
    /// Offset in the block past the last byte sent.
    pub(super) bytes_sent: i64,
    /// Nodes not to be given for a new block (failed pipeline setups), each for
    /// `exclude_nodes_expiry`.
    pub(super) excluded: ExcludedNodes,
    /// Nodes dropped from the current block's pipeline.
    pub(super) failed: Vec<DatanodeInfoProto>,
    pub(super) is_append: bool,
    pub(super) last_acked_before_failure: i64,
    pub(super) recovery_count: u32,
    last_packet_at: Instant,
}

/// What the wait for work produced.
enum Work {
    Packet(Arc<Packet>),
    Heartbeat,
    /// A pipeline error is recorded: handle it first.
    Error,
    /// Closing and everything acknowledged.
    Done,
}

impl DataStreamer {
    /// Starts the streamer thread ("DataStreamer for file <src>"). It ends when the
    /// writer closes the queues and everything is acknowledged, or on a failure it
    /// cannot recover from; either way it stops the queues. Returns the last block of
    /// the file (for `complete`).
    pub fn spawn(
        ctx: Arc<WriteContext>,
        queues: Arc<Queues>,
        start: Start,
    ) -> std::io::Result<JoinHandle<Option<ExtendedBlockProto>>> {
        let mut streamer = DataStreamer {
            ctx: ctx.clone(),
            queues,
            stage: BlockConstructionStage::PipelineSetupCreate,
            block: None,
            previous: None,
            nodes: Nodes::default(),
            stream: None,
            responder: None,
            bytes_sent: 0,
            excluded: ExcludedNodes::new(ctx.conf.exclude_nodes_expiry),
            failed: Vec::new(),
            is_append: false,
            last_acked_before_failure: -1,
            recovery_count: 0,
            last_packet_at: Instant::now(),
        };
        if let Start::Append(lb) = start {
            let len = lb.b.num_bytes.unwrap_or(0) as i64;
            streamer.stage = BlockConstructionStage::PipelineSetupAppend;
            streamer.nodes = Nodes::of(&lb);
            streamer.block = Some(lb.b.clone());
            streamer.bytes_sent = len;
            streamer.is_append = true;
            streamer.queues.lock().bytes_acked = len;
        }
        thread::Builder::new()
            .name(format!("DataStreamer for file {}", ctx.src))
            .spawn(move || streamer.run())
    }

    fn run(mut self) -> Option<ExtendedBlockProto> {
        let result = self.run_loop();
        self.close_pipeline();
        if let Err(e) = &result {
            tracing::warn!(file = %self.ctx.src, error = %e, "DataStreamer failed");
        }
        self.queues.stop(result.err());
        self.previous.take().or(self.block.take())
    }

    fn run_loop(&mut self) -> Result<()> {
        loop {
            let error = self.queues.lock().error.take();
            if let Some(error) = error {
                self.process_datanode_error(error)?;
                continue;
            }
            let packet = match self.wait_for_work() {
                Work::Done => return Ok(()),
                Work::Error => continue,
                Work::Heartbeat => {
                    self.send(&Packet::heartbeat());
                    continue;
                }
                Work::Packet(p) => p,
            };
            match self.stage {
                BlockConstructionStage::PipelineSetupCreate => self.next_block_output_stream()?,
                BlockConstructionStage::PipelineSetupAppend => {
                    self.setup_pipeline_for_append_or_recovery(None, false)?;
                    self.init_data_streaming()?;
                }
                _ => {}
            }
            if packet.last_packet_in_block {
                if !self.wait_for_all_acked() {
                    continue;
                }
                self.stage = BlockConstructionStage::PipelineClose;
            }
            self.back_off_if_congested();
            self.queues.move_to_ack(&packet);
            if !self.send(&packet) {
                continue;
            }
            self.bytes_sent = self.bytes_sent.max(packet.last_byte_offset_block());
            if packet.last_packet_in_block {
                if !self.wait_for_all_acked() {
                    continue;
                }
                self.end_block();
            }
        }
    }

    fn wait_for_work(&self) -> Work {
        let half = self.ctx.conf.socket_timeout / 2;
        let mut s = self.queues.lock();
        loop {
            if s.error.is_some() {
                return Work::Error;
            }
            if let Some(p) = s.data.front() {
                return Work::Packet(p.clone());
            }
            if s.closing && s.ack.is_empty() {
                return Work::Done;
            }
            if self.stage == BlockConstructionStage::DataStreaming {
                let idle = self.last_packet_at.elapsed();
                if idle >= half {
                    return Work::Heartbeat;
                }
                s = self.queues.wait_timeout(s, half - idle);
            } else {
                s = self.queues.wait_timeout(s, POLL);
            }
        }
    }

    /// Waits until `ackQueue` is empty; false if a pipeline error came first.
    fn wait_for_all_acked(&self) -> bool {
        let mut s = self.queues.lock();
        while !s.ack.is_empty() && s.error.is_none() {
            s = self.queues.wait_timeout(s, POLL);
        }
        s.error.is_none()
    }

    /// Writes a packet to the pipeline; a failure blames the first node (Hadoop's
    /// `markFirstNodeIfNotMarked`) and returns false.
    fn send(&mut self, packet: &Packet) -> bool {
        let written = match self.stream.as_mut() {
            Some(stream) => stream.write_all(packet.wire()),
            None if packet.is_heartbeat() => return true,
            None => Err(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "no pipeline",
            )),
        };
        match written {
            Ok(()) => {
                self.last_packet_at = Instant::now();
                true
            }
            Err(e) => {
                tracing::warn!(file = %self.ctx.src, seqno = packet.seqno, error = %e, "writing packet failed");
                self.queues.set_error(PipelineError {
                    bad_node: Some(0),
                    restarting: None,
                    reason: format!("writing packet {}: {e}", packet.seqno),
                });
                false
            }
        }
    }

    /// Hadoop's `nextBlockOutputStream`: asks for a block and sets up its pipeline,
    /// abandoning the block and excluding the node to blame when setup fails.
    fn next_block_output_stream(&mut self) -> Result<()> {
        let attempts = self.ctx.conf.block_write_retries + 1;
        for attempt in 1..=attempts {
            let lb = self.locate_following_block()?;
            let mut block = lb.b.clone();
            block.num_bytes = Some(0);
            let nodes = Nodes::of(&lb);
            {
                let mut s = self.queues.lock();
                s.bytes_acked = 0;
                s.persist_blocks = true;
            }
            self.bytes_sent = 0;
            let req = WriteBlockRequest {
                block: &block,
                client_name: &self.ctx.client_name,
                stage: BlockConstructionStage::PipelineSetupCreate,
                latest_gs: 0,
                min_bytes_rcvd: 0,
                max_bytes_rcvd: 0,
                checksum: self.ctx.checksum,
            };
            match create_block_output_stream(&self.ctx.conf, &nodes, &req) {
                Ok(stream) => {
                    tracing::debug!(block = %block_name(&block), nodes = %nodes.names(), "pipeline set up");
                    self.block = Some(block);
                    self.nodes = nodes;
                    self.stream = Some(stream.stream);
                    self.failed.clear();
                    return self.init_data_streaming();
                }
                Err(f) => {
                    tracing::warn!(
                        block = %block_name(&block), attempt, error = %f.error,
                        "pipeline setup failed; abandoning the block"
                    );
                    let abandon = AbandonBlockRequestProto {
                        b: lb.b.clone(),
                        src: self.ctx.src.clone(),
                        holder: self.ctx.client_name.clone(),
                        file_id: Some(self.ctx.file_id),
                    };
                    self.ctx
                        .nn
                        .abandon_block(&abandon)
                        .map_err(|e| Error::rpc("abandonBlock", &self.ctx.src, e))?;
                    if let Some(bad) = nodes.nodes.get(f.bad_node) {
                        self.excluded.add(bad.clone());
                    }
                }
            }
        }
        Err(Error::CannotAllocateBlock {
            path: self.ctx.src.clone(),
            attempts,
        })
    }

    /// `addBlock(previous, excluded, fileId)`, retried with back-off while the
    /// NameNode says the previous block is not replicated yet.
    fn locate_following_block(&mut self) -> Result<LocatedBlockProto> {
        let conf = &self.ctx.conf;
        let mut delay = conf.locate_block_initial_delay;
        let mut retries = conf.locate_block_retries;
        let req = AddBlockRequestProto {
            src: self.ctx.src.clone(),
            client_name: self.ctx.client_name.clone(),
            previous: self.previous.clone(),
            exclude_nodes: self.excluded.current(),
            file_id: Some(self.ctx.file_id),
            favored_nodes: Vec::new(),
            flags: Vec::new(),
        };
        loop {
            match self.ctx.nn.add_block(&req) {
                Ok(resp) => return Ok(resp.block),
                Err(e) if e.is(&JavaException::NotReplicatedYet) && retries > 0 => {
                    tracing::info!(file = %self.ctx.src, ?delay, "previous block not replicated yet; retrying addBlock");
                    retries -= 1;
                    thread::sleep(delay);
                    delay *= 2;
                }
                Err(e) => return Err(Error::rpc("addBlock", &self.ctx.src, e)),
            }
        }
    }

    /// Starts the ResponseProcessor for the pipeline and moves to DATA_STREAMING.
    pub(super) fn init_data_streaming(&mut self) -> Result<()> {
        let (Some(stream), Some(block)) = (self.stream.as_ref(), self.block.as_ref()) else {
            return Err(Error::StreamClosed);
        };
        let responder = ResponseProcessor::start(
            stream.try_clone()?,
            self.queues.clone(),
            self.nodes.nodes.clone(),
            block_name(block),
            self.ctx.conf.datanode_restart_timeout,
            self.ctx.conf.slow_io_warning_threshold,
        )?;
        self.responder = Some(responder);
        self.stage = BlockConstructionStage::DataStreaming;
        self.last_packet_at = Instant::now();
        Ok(())
    }

    /// The block's last packet is acknowledged: close its pipeline and go back to
    /// PIPELINE_SETUP_CREATE.
    pub(super) fn end_block(&mut self) {
        if let Some(r) = self.responder.take() {
            r.join();
        }
        self.stream = None;
        let acked = {
            let mut s = self.queues.lock();
            std::mem::take(&mut s.bytes_acked)
        };
        if let Some(mut b) = self.block.take() {
            b.num_bytes = Some(acked as u64);
            tracing::debug!(block = %block_name(&b), bytes = acked, "block ended");
            self.previous = Some(b);
        }
        self.stage = BlockConstructionStage::PipelineSetupCreate;
        self.nodes = Nodes::default();
        self.bytes_sent = 0;
        self.failed.clear();
        self.is_append = false;
    }

    /// Closes the pipeline's socket and stops its ResponseProcessor.
    pub(super) fn close_pipeline(&mut self) {
        if let Some(r) = self.responder.take() {
            r.close();
        }
        if let Some(s) = self.stream.take() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Hadoop's `backOffIfNecessary`: after an ack signalled congestion, sleep a
    /// randomised time growing with each consecutive back-off: the first uniform in
    /// [0, mean), then from min(3·last, mean) spread by |3·last − mean|, capped at
    /// `dfs.client.congestion.backoff.max.time`; an uncongested ack resets it.
    fn back_off_if_congested(&mut self) {
        let t = {
            let mut s = self.queues.lock();
            if !std::mem::take(&mut s.congested) {
                return;
            }
            let last = s.last_congestion_backoff;
            let (mean, max) = (
                self.ctx.conf.congestion_backoff_mean,
                self.ctx.conf.congestion_backoff_max,
            );
            let range = (last * 3).abs_diff(mean);
            let base = (last * 3).min(mean);
            let t = (base + range.mul_f64(jitter())).min(max);
            s.last_congestion_backoff = t;
            t
        };
        tracing::info!(file = %self.ctx.src, backoff = ?t, "pipeline congested; backing off");
        thread::sleep(t);
    }
}

/// Hadoop's `excludedNodes` cache of a DataStreamer: nodes that failed pipeline
/// setup, each forgotten `expiry` after it was (last) added, so a DataNode that came
/// back is offered again to later blocks of a long-lived stream.
#[derive(Debug)]
pub struct ExcludedNodes {
    expiry: Duration,
    entries: Vec<(DatanodeInfoProto, Instant)>,
}

impl ExcludedNodes {
    pub fn new(expiry: Duration) -> ExcludedNodes {
        ExcludedNodes {
            expiry,
            entries: Vec::new(),
        }
    }

    /// Excludes `node` (again: its expiry restarts).
    pub fn add(&mut self, node: DatanodeInfoProto) {
        let key = exclude_key(&node);
        self.entries.retain(|(n, _)| exclude_key(n) != key);
        self.entries.push((node, Instant::now()));
    }

    /// The nodes still excluded; expired entries are dropped.
    pub fn current(&mut self) -> Vec<DatanodeInfoProto> {
        let expiry = self.expiry;
        self.entries.retain(|(_, at)| at.elapsed() < expiry);
        self.entries.iter().map(|(n, _)| n.clone()).collect()
    }
}

/// A node's identity in the cache: its UUID, else its transfer address.
fn exclude_key(node: &DatanodeInfoProto) -> String {
    if node.id.datanode_uuid.is_empty() {
        crate::datanode::node_name(node)
    } else {
        node.id.datanode_uuid.clone()
    }
}

/// A number in [0, 1) from the clock (no RNG crate needed for a back-off spread).
fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from(nanos % 1000) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(uuid: &str) -> DatanodeInfoProto {
        let mut n = DatanodeInfoProto::default();
        n.id.datanode_uuid = uuid.to_owned();
        n
    }

    #[test]
    fn excluded_nodes_expire() {
        let mut never = ExcludedNodes::new(Duration::from_secs(600));
        never.add(node("a"));
        never.add(node("a"));
        never.add(node("b"));
        assert_eq!(never.current().len(), 2);
        let mut at_once = ExcludedNodes::new(Duration::ZERO);
        at_once.add(node("a"));
        assert!(at_once.current().is_empty());
    }
}
