//! WRITE_BLOCK (`DataXceiver.writeBlock` + `BlockReceiver`).
//!
//! 1. Open the replica for the stage: PIPELINE_SETUP_CREATE → new RBW;
//!    PIPELINE_SETUP_APPEND → reopen the FINALIZED replica; *_RECOVERY →
//!    recover it with the new generation stamp (`latestGenerationStamp`);
//!    PIPELINE_CLOSE_RECOVERY → finalize it, no data follows; TRANSFER_* and
//!    any request from a DataNode (empty client name) → a TEMPORARY replica.
//! 2. Connect the mirror (the first of the remaining targets), send it the
//!    op with the targets after it, and for a client pipeline relay its
//!    answer: the reply upstream is `{status, firstBadLink}` (`firstBadLink`
//!    always present: 5 bytes, which the Go client needs).
//! 3. Packets: each is forwarded to the mirror first, then verified against
//!    the requested checksum (translated to the replica's own when they
//!    differ) and written; `syncBlock` fsyncs before the ack; the last packet
//!    finalizes the replica before its ack. Acks go upstream from the
//!    [`responder`](super::responder) thread. Header `numBytes` is never taken
//!    as the amount of data; packets may start at seqno 0 (Java) or 1 (Go).
//! 4. Transfers and DataNode-initiated writes have no acks: the replica is
//!    finalized (or, for TRANSFER_RBW, made RBW) at the end, and a transfer
//!    answers one final `{SUCCESS}`.

use std::io::{BufReader, Read};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use ferrodfs_proto::hdfs::op_write_block_proto::BlockConstructionStage as Stage;
use ferrodfs_proto::hdfs::{BlockOpResponseProto, OpWriteBlockProto, Status};
use ferrodfs_transfer::checksum::DataChecksum;
use ferrodfs_transfer::op::{read_delimited, write_delimited, write_op, Op};
use ferrodfs_transfer::packet::{PacketDecoder, PacketHeader, PacketRules, SeqnoOrder};

use super::oob::{UpstreamAcks, WriterEntry};
use super::responder::{self, MirrorIn, Pending};
use super::server::{Input, Next, INPUT_BUFFER_SIZE};
use super::{
    block_from_proto, checksum_from_proto, connect, net_err, proto_err, send_error, status_of,
    xfer_addr_of, Ctx, READ_TIMEOUT_EXTENSION, WRITE_TIMEOUT_EXTENSION,
};
use crate::events::BlockEvent;
use crate::storage::{ExtendedBlock, ReplicaInfo, ReplicaState, ReplicaWriter};
use crate::{Error, Result};

/// The packet decoder of one WRITE_BLOCK: every packet read whole (lengths,
/// header, checksums, data) into one reused buffer, so it can be forwarded to
/// the mirror as it came, after `ferrodfs_transfer`'s checks (lengths, header,
/// checksum bytes for the data at the requested `bytesPerChecksum`, seqnos
/// increasing).
pub(crate) fn packet_decoder(requested: &DataChecksum) -> PacketDecoder {
    PacketDecoder::new(PacketRules::new(Some(*requested), SeqnoOrder::Increasing))
}

/// Reads the next packet from a connection: the whole packet within the
/// socket timeout (`dfs.client.socket-timeout`; a client with nothing to send
/// heartbeats at half of it).
fn next_packet(ctx: &Ctx, pkt: &mut PacketDecoder, input: &mut Input) -> Result<PacketHeader> {
    input
        .get_mut()
        .start(ctx.conf.socket_timeout)
        .map_err(net_err("set read timeout", ""))?;
    read_packet(pkt, input)
}

/// Reads the next packet into `pkt`.
pub(crate) fn read_packet(pkt: &mut PacketDecoder, input: &mut impl Read) -> Result<PacketHeader> {
    match pkt.read(input) {
        Ok(h) => Ok(*h),
        Err(e) => Err(proto_err("read packet")(e)),
    }
}

/// Splits `data` at `offset` into pieces ending at chunk boundaries of the
/// block (a packet starting inside a chunk carries a checksum over only the
/// bytes up to the next boundary) and computes their checksums.
pub(crate) fn piece_checksums(sum: &DataChecksum, offset: u64, data: &[u8]) -> Vec<u8> {
    let head = head_len(sum, offset, data.len());
    let mut out = sum.compute(&data[..head]);
    out.extend_from_slice(&sum.compute(&data[head..]));
    out
}

/// Verifies pieces as [`piece_checksums`] cuts them.
fn verify_pieces(sum: &DataChecksum, offset: u64, data: &[u8], sums: &[u8]) -> Result<()> {
    let head = head_len(sum, offset, data.len());
    let head_sums = if head > 0 { sum.checksum_size() } else { 0 };
    let bad = |e: ferrodfs_transfer::Error| match e.mismatch_offset() {
        Some(offset) => Error::PacketChecksum {
            block_id: 0,
            offset,
        },
        None => Error::Protocol {
            what: "packet checksums",
            source: e,
        },
    };
    let (s_head, s_rest) = sums.split_at_checked(head_sums).ok_or(Error::Protocol {
        what: "packet checksums",
        source: ferrodfs_transfer::Error::ChecksumLength {
            expected: head_sums,
            actual: sums.len(),
        },
    })?;
    sum.verify(&data[..head], s_head, offset).map_err(bad)?;
    sum.verify(&data[head..], s_rest, offset + head as u64)
        .map_err(bad)
}

fn head_len(sum: &DataChecksum, offset: u64, len: usize) -> usize {
    let bpc = u64::from(sum.bytes_per_checksum());
    if offset % bpc == 0 {
        0
    } else {
        ((bpc - offset % bpc) as usize).min(len)
    }
}

/// A parsed WRITE_BLOCK.
struct Request {
    op: OpWriteBlockProto,
    block: ExtendedBlock,
    stage: Stage,
    requested: DataChecksum,
    is_client: bool,
    is_transfer: bool,
}

impl Request {
    fn parse(op: OpWriteBlockProto) -> Result<Request> {
        let block = block_from_proto(&op.header.base_header.block);
        let stage = Stage::try_from(op.stage).map_err(|_| Error::InvalidRequest {
            what: "unknown block construction stage",
        })?;
        let requested = checksum_from_proto(&op.requested_checksum)?;
        let is_client = !op.header.client_name.is_empty();
        let is_transfer = matches!(stage, Stage::TransferRbw | Stage::TransferFinalized);
        Ok(Request {
            op,
            block,
            stage,
            requested,
            is_client,
            is_transfer,
        })
    }

    /// Acks flow per packet only in a client's pipeline.
    fn has_responder(&self) -> bool {
        self.is_client && !self.is_transfer
    }
}

/// What step 1 produced.
enum Opened {
    Writer(ReplicaWriter),
    Closed(ReplicaInfo),
    /// A copy (replication, TRANSFER_FINALIZED) of a replica this node already
    /// holds finalized with the same generation stamp and length: it reached the
    /// node before the NameNode heard of it (e.g. a file appended right after
    /// `close`, whose last block's third replica is not reported yet). The packets
    /// are read and dropped, and the copy succeeds.
    AlreadyHeld(ReplicaInfo),
}

fn open_replica(ctx: &Ctx, req: &Request) -> Result<Opened> {
    let ds = &ctx.ds;
    let b = &req.block;
    let new_gs = req.op.latest_generation_stamp;
    if !req.is_client || req.is_transfer {
        if req.stage != Stage::TransferRbw && req.op.targets.is_empty() {
            if let Some(r) = ds.get_replica(&b.pool_id, b.block_id) {
                if r.state == ReplicaState::Finalized
                    && r.gen_stamp == b.gen_stamp
                    && r.num_bytes == b.num_bytes
                {
                    return Ok(Opened::AlreadyHeld(r));
                }
            }
        }
        return ds
            .create_temporary(b, req.requested, b.num_bytes)
            .map(Opened::Writer);
    }
    let w = match req.stage {
        Stage::PipelineSetupCreate => ds.create_rbw(b, req.requested, b.num_bytes)?,
        Stage::PipelineSetupAppend => ds.append(b, new_gs, req.op.min_bytes_rcvd)?,
        Stage::PipelineSetupStreamingRecovery => {
            ds.recover_rbw(b, new_gs, req.op.min_bytes_rcvd, req.op.max_bytes_rcvd)?
        }
        Stage::PipelineSetupAppendRecovery => {
            let r = ds
                .get_replica(&b.pool_id, b.block_id)
                .ok_or(Error::ReplicaNotFound {
                    block_id: b.block_id,
                })?;
            if r.state == ReplicaState::Finalized {
                if r.gen_stamp < b.gen_stamp || r.gen_stamp > new_gs {
                    return Err(Error::GenStampMismatch {
                        block_id: b.block_id,
                        found: r.gen_stamp,
                        expected: b.gen_stamp,
                        op: "append recovery",
                    });
                }
                let at = ExtendedBlock {
                    gen_stamp: r.gen_stamp,
                    ..b.clone()
                };
                ds.append(&at, new_gs, req.op.min_bytes_rcvd)?
            } else {
                ds.recover_rbw(b, new_gs, req.op.min_bytes_rcvd, req.op.max_bytes_rcvd)?
            }
        }
        Stage::PipelineCloseRecovery => {
            return ds
                .recover_close(b, new_gs, req.op.min_bytes_rcvd)
                .map(Opened::Closed)
        }
        Stage::DataStreaming
        | Stage::PipelineClose
        | Stage::TransferRbw
        | Stage::TransferFinalized => {
            return Err(Error::InvalidRequest {
                what: "construction stage not valid in a WRITE_BLOCK request",
            })
        }
    };
    Ok(Opened::Writer(w))
}

/// The op to send the mirror: same request, targets after the mirror.
fn mirror_op(op: &OpWriteBlockProto) -> OpWriteBlockProto {
    let mut fwd = op.clone();
    fwd.targets = op.targets.iter().skip(1).cloned().collect();
    if let Some((first, rest)) = op.target_storage_types.split_first() {
        fwd.storage_type = Some(*first);
        fwd.target_storage_types = rest.to_vec();
    }
    if let Some((first, rest)) = op.target_storage_ids.split_first() {
        fwd.storage_id = Some(first.clone());
        fwd.target_storage_ids = rest.to_vec();
    }
    if let Some((first, rest)) = op.target_pinnings.split_first() {
        fwd.pinning = Some(*first);
        fwd.target_pinnings = rest.to_vec();
    }
    fwd
}

struct Mirror {
    stream: TcpStream,
    addr: String,
}

/// Connects the mirror and sends it the op; for a client pipeline reads its
/// connect ack. `Err((status, firstBadLink, error))` when the pipeline cannot
/// be built.
fn setup_mirror(
    ctx: &Ctx,
    req: &Request,
) -> std::result::Result<Option<Mirror>, (Status, String, Error)> {
    let Some(node) = req.op.targets.first() else {
        return Ok(None);
    };
    let addr = xfer_addr_of(node);
    let n = req.op.targets.len() as u32;
    let read_timeout = ctx.conf.socket_timeout + READ_TIMEOUT_EXTENSION * n;
    let write_timeout = ctx.conf.write_timeout + WRITE_TIMEOUT_EXTENSION * n;
    let bad = |e: Error| (Status::Error, addr.clone(), e);
    let stream = connect(node, read_timeout, write_timeout).map_err(bad)?;
    write_op(&mut &stream, Op::WriteBlock, &mirror_op(&req.op))
        .map_err(net_err("send WRITE_BLOCK to mirror", &addr))
        .map_err(bad)?;
    if req.has_responder() {
        let ack: BlockOpResponseProto = read_delimited(&mut &stream, "mirror connect ack")
            .map_err(proto_err("read mirror connect ack"))
            .map_err(bad)?;
        let status = Status::try_from(ack.status).unwrap_or(Status::Error);
        if status != Status::Success {
            let link = ack.first_bad_link.unwrap_or_default();
            return Err((
                status,
                link,
                Error::Mirror {
                    mirror: addr,
                    status,
                },
            ));
        }
    }
    Ok(Some(Mirror { stream, addr }))
}

fn write_response(out: &TcpStream, status: Status, first_bad_link: String) -> Result<()> {
    let resp = BlockOpResponseProto {
        status: status as i32,
        first_bad_link: Some(first_bad_link),
        ..Default::default()
    };
    write_delimited(&mut &*out, &resp).map_err(net_err("write response", ""))
}

/// Serves one WRITE_BLOCK.
pub(crate) fn write_block(
    ctx: &Ctx,
    input: &mut Input,
    out: &TcpStream,
    peer: &str,
) -> Result<Next> {
    let op: OpWriteBlockProto =
        read_delimited(input, "OpWriteBlockProto").map_err(proto_err("read WRITE_BLOCK"))?;
    let req = match Request::parse(op) {
        Ok(r) => r,
        Err(e) => {
            let _ = send_error(&mut &*out, status_of(&e), format!("WRITE_BLOCK: {e}"));
            return Err(e);
        }
    };
    tracing::debug!(peer, block = req.block.block_id, stage = ?req.stage,
        targets = req.op.targets.len(), client = %req.op.header.client_name, "WRITE_BLOCK");

    // 1. The replica.
    let opened = match open_replica(ctx, &req) {
        Ok(o) => o,
        Err(e) => {
            tracing::info!(peer, block = req.block.block_id, error = %e, "WRITE_BLOCK refused");
            if req.has_responder() {
                let _ = send_error(
                    &mut &*out,
                    status_of(&e),
                    format!("WRITE_BLOCK {}: {e}", req.block.block_id),
                );
            }
            return Err(e);
        }
    };
    // 2. The mirror.
    let mirror = match setup_mirror(ctx, &req) {
        Ok(m) => m,
        Err((status, link, e)) => {
            if req.is_client {
                tracing::info!(peer, block = req.block.block_id, error = %e, "pipeline set-up failed");
                if req.has_responder() {
                    let _ = write_response(out, status, link);
                }
                abandon(ctx, &req, opened);
                return Err(e);
            }
            // A DataNode-initiated write goes on without its mirror.
            tracing::info!(block = req.block.block_id, error = %e, "continuing without mirror");
            None
        }
    };
    let _mirror_guard = mirror.as_ref().and_then(|m| ctx.conns.register(&m.stream));
    if req.has_responder() {
        write_response(out, Status::Success, String::new())?;
    }

    let writer = match opened {
        Opened::Closed(info) => {
            received(ctx, &req.block.pool_id, &info);
            return Ok(Next::KeepOpen);
        }
        Opened::AlreadyHeld(info) => {
            tracing::info!(
                peer,
                block = req.block.block_id,
                "copy of a replica already held; dropping its packets"
            );
            drain_packets(ctx, input, &req.requested)?;
            if req.is_transfer {
                write_response(out, Status::Success, String::new())?;
            }
            received(ctx, &req.block.pool_id, &info);
            return Ok(Next::KeepOpen);
        }
        Opened::Writer(w) => w,
    };
    if req.has_responder() {
        if let Some(info) = ctx.ds.get_replica(&req.block.pool_id, req.block.block_id) {
            ctx.events.on_block_event(BlockEvent::Receiving {
                pool_id: req.block.pool_id.clone(),
                block_id: info.block_id,
                gen_stamp: info.gen_stamp,
                num_bytes: info.bytes_on_disk,
                storage_id: info.storage_id,
            });
        }
    }

    // 3. Packets.
    let result = if req.has_responder() {
        receive_with_acks(ctx, &req, input, out, writer, mirror.as_ref())
    } else {
        receive_transfer(ctx, &req, input, out, writer, mirror.as_ref())
    };
    if let Some(m) = &mirror {
        let _ = m.stream.shutdown(Shutdown::Both);
    }
    result
}

/// Reads and drops packets up to the one marked last in the block.
fn drain_packets(ctx: &Ctx, input: &mut Input, requested: &DataChecksum) -> Result<()> {
    let mut pkt = packet_decoder(requested);
    loop {
        if next_packet(ctx, &mut pkt, input)?.last_packet_in_block {
            return Ok(());
        }
    }
}

/// Undoes a replica opened for a write that never started: a new TEMPORARY
/// or RBW replica is deleted; recovered ones stay for the next recovery.
fn abandon(ctx: &Ctx, req: &Request, opened: Opened) {
    if let Opened::Writer(w) = opened {
        let fresh = !req.is_client || req.is_transfer || req.stage == Stage::PipelineSetupCreate;
        let id = w.block_id();
        drop(w);
        if fresh {
            let _ = ctx.ds.invalidate(&req.block.pool_id, &[id]);
        }
    }
}

fn received(ctx: &Ctx, pool_id: &str, info: &ReplicaInfo) {
    tracing::info!(
        block = info.block_id,
        gs = info.gen_stamp,
        len = info.num_bytes,
        "received block"
    );
    ctx.events.on_block_event(BlockEvent::Received {
        pool_id: pool_id.to_string(),
        block_id: info.block_id,
        gen_stamp: info.gen_stamp,
        num_bytes: info.num_bytes,
        storage_id: info.storage_id.clone(),
        del_hint: String::new(),
    });
}

/// Writes one packet's data (translating checksums if the replica's type
/// differs from the requested one).
fn store(writer: &mut ReplicaWriter, requested: &DataChecksum, pkt: &PacketDecoder) -> Result<()> {
    let data = pkt.data();
    if data.is_empty() {
        return Ok(());
    }
    let offset = pkt.header().offset_in_block as u64;
    let disk = writer.checksum();
    let block_id = writer.block_id();
    let fix = |e: Error| match e {
        Error::PacketChecksum { offset, .. } => Error::PacketChecksum { block_id, offset },
        e => e,
    };
    if disk == *requested {
        writer
            .write_packet(offset, data, pkt.checksums())
            .map_err(fix)
    } else {
        verify_pieces(requested, offset, data, pkt.checksums()).map_err(fix)?;
        let sums = piece_checksums(&disk, offset, data);
        writer.write_packet(offset, data, &sums).map_err(fix)
    }
}

/// Forwards a packet unless the mirror already failed; a failed write marks
/// the mirror bad (the responder then acks it as ERROR).
fn forward(mirror: Option<&Mirror>, failed: &AtomicBool, pkt: &PacketDecoder) {
    if let Some(m) = mirror {
        if failed.load(Ordering::SeqCst) {
            return;
        }
        if let Err(e) = std::io::Write::write_all(&mut &m.stream, pkt.raw()) {
            tracing::info!(mirror = %m.addr, error = %e, "cannot forward packet; mirror marked bad");
            failed.store(true, Ordering::SeqCst);
            let _ = m.stream.shutdown(Shutdown::Both);
        }
    }
}

fn receive_with_acks(
    ctx: &Ctx,
    req: &Request,
    input: &mut Input,
    upstream: &TcpStream,
    writer: ReplicaWriter,
    mirror: Option<&Mirror>,
) -> Result<Next> {
    let mirror_failed = AtomicBool::new(false);
    let acks = Arc::new(UpstreamAcks::new(
        upstream
            .try_clone()
            .map_err(net_err("clone upstream socket", ""))?,
    ));
    let _registered = ctx.writers.register(WriterEntry {
        pool_id: req.block.pool_id.clone(),
        block_id: req.block.block_id,
        acks: Arc::clone(&acks),
    });
    let mirror_input = match mirror {
        Some(m) => Some(BufReader::with_capacity(
            INPUT_BUFFER_SIZE,
            m.stream
                .try_clone()
                .map_err(net_err("clone mirror socket", &m.addr))?,
        )),
        None => None,
    };
    let (tx, rx) = mpsc::channel::<Pending>();
    let acker = writer.ack_handle();
    let block_id = req.block.block_id;
    let ecn = || ctx.ecn.signal();
    std::thread::scope(|s| {
        let mirror_in = match (mirror, mirror_input) {
            (Some(m), Some(input)) => {
                let (mtx, mrx) = mpsc::channel();
                let up = &*acks;
                std::thread::Builder::new()
                    .name(format!("MirrorAcks-{block_id}"))
                    .spawn_scoped(s, move || responder::read_mirror_acks(input, up, mtx))
                    .map_err(net_err("spawn mirror ack reader", ""))?;
                Some(MirrorIn {
                    acks: mrx,
                    stream: &m.stream,
                    error: &mirror_failed,
                    addr: &m.addr,
                })
            }
            _ => None,
        };
        let up = &*acks;
        let ecn = &ecn;
        let responder = std::thread::Builder::new()
            .name(format!("PacketResponder-{block_id}"))
            .spawn_scoped(s, move || {
                responder::run(
                    rx,
                    up,
                    upstream,
                    mirror_in,
                    Some(acker),
                    ecn,
                    &ctx.slow_peers,
                )
            })
            .map_err(net_err("spawn PacketResponder", ""))?;
        let r = receive_loop(ctx, req, input, writer, mirror, &mirror_failed, Some(&tx));
        // The responder acks what is queued (reading the mirror's acks for
        // them, bounded by the read timeout), then ends; the mirror's ack
        // reader ends when its socket is shut.
        drop(tx);
        let _ = responder.join();
        if let Some(m) = mirror {
            let _ = m.stream.shutdown(Shutdown::Both);
        }
        if r.is_err() && acks.oob_sent() {
            tracing::info!(block = block_id, "shutting down for restart; replica kept");
        }
        r.map(|_| Next::KeepOpen)
    })
}

fn receive_transfer(
    ctx: &Ctx,
    req: &Request,
    input: &mut Input,
    upstream: &TcpStream,
    writer: ReplicaWriter,
    mirror: Option<&Mirror>,
) -> Result<Next> {
    let failed = AtomicBool::new(false);
    match receive_loop(ctx, req, input, writer, mirror, &failed, None) {
        Ok(info) => {
            if req.is_transfer {
                write_response(upstream, Status::Success, String::new())?;
            }
            if let Some(info) = info {
                if info.state == ReplicaState::Finalized {
                    received(ctx, &req.block.pool_id, &info);
                }
            }
            Ok(Next::KeepOpen)
        }
        Err(e) => {
            tracing::info!(block = req.block.block_id, error = %e, "transfer failed; temporary replica deleted");
            let _ = ctx.ds.invalidate(&req.block.pool_id, &[req.block.block_id]);
            if req.is_transfer {
                let _ = send_error(&mut &*upstream, status_of(&e), format!("{e}"));
            }
            Err(e)
        }
    }
}

/// Reads packets until the last one; finalizes the replica (client
/// pipelines, replication, TRANSFER_FINALIZED) or makes it RBW
/// (TRANSFER_RBW). With a `queue`, every packet is handed to the responder.
fn receive_loop(
    ctx: &Ctx,
    req: &Request,
    input: &mut Input,
    writer: ReplicaWriter,
    mirror: Option<&Mirror>,
    mirror_failed: &AtomicBool,
    queue: Option<&mpsc::Sender<Pending>>,
) -> Result<Option<ReplicaInfo>> {
    let mut writer = Some(writer);
    let mut pkt = packet_decoder(&req.requested);
    let enqueue = |p: Pending| {
        if let Some(q) = queue {
            let _ = q.send(p);
        }
    };
    loop {
        let h = next_packet(ctx, &mut pkt, input)?;
        let Some(w) = writer.as_mut() else {
            return Err(Error::InvalidRequest {
                what: "packet after the last packet",
            });
        };
        if h.offset_in_block as u64 > w.bytes_on_disk() {
            return Err(Error::WriteBeyondEnd {
                block_id: w.block_id(),
                offset: h.offset_in_block as u64,
                on_disk: w.bytes_on_disk(),
            });
        }
        forward(mirror, mirror_failed, &pkt);
        let end = h.offset_in_block as u64 + pkt.data().len() as u64;
        let in_progress = ctx.ecn.write_started();
        ctx.slow_disk.write(pkt.data().len());
        if let Err(e) = store(w, &req.requested, &pkt) {
            if let Error::PacketChecksum { offset, .. } = e {
                tracing::warn!(
                    block = req.block.block_id,
                    seqno = h.seqno,
                    offset,
                    "checksum error in packet; terminating the write"
                );
                enqueue(Pending {
                    seqno: h.seqno,
                    queued: std::time::Instant::now(),
                    last: h.last_packet_in_block,
                    end,
                    status: Status::ErrorChecksum,
                });
            }
            return Err(e);
        }
        if h.sync_block {
            w.sync()?;
        }
        drop(in_progress);
        if h.last_packet_in_block {
            let Some(w) = writer.take() else {
                continue;
            };
            let info = if req.stage == Stage::TransferRbw {
                drop(w);
                ctx.ds.convert_temporary_to_rbw(&req.block)?
            } else {
                w.finalize()?
            };
            if queue.is_some() {
                received(ctx, &req.block.pool_id, &info);
            }
            enqueue(Pending {
                seqno: h.seqno,
                queued: std::time::Instant::now(),
                last: true,
                end,
                status: Status::Success,
            });
            return Ok(Some(info));
        }
        enqueue(Pending {
            seqno: h.seqno,
            queued: std::time::Instant::now(),
            last: false,
            end,
            status: Status::Success,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrodfs_transfer::checksum::ChecksumType;
    use ferrodfs_transfer::packet::write_packet;

    #[test]
    fn packets_are_read_whole_and_checked() {
        let data = vec![9u8; 1500];
        let sum = DataChecksum::new(ChecksumType::Crc32c, 512).unwrap();
        let sums = sum.compute(&data);
        let header = PacketHeader {
            offset_in_block: 512,
            seqno: 3,
            last_packet_in_block: false,
            data_len: data.len() as i32,
            sync_block: true,
        };
        let mut wire = Vec::new();
        write_packet(&mut wire, &header, &sums, &data).unwrap();
        let mut p = packet_decoder(&sum);
        assert_eq!(read_packet(&mut p, &mut &wire[..]).unwrap(), header);
        assert_eq!(p.raw(), &wire[..]);
        assert_eq!(p.checksums(), &sums[..]);
        assert_eq!(p.data(), &data[..]);

        // Truncated, oversized, lying lengths, a replayed seqno: errors, never
        // panics.
        let mut p = packet_decoder(&sum);
        assert!(read_packet(&mut p, &mut &wire[..wire.len() - 1]).is_err());
        assert!(read_packet(&mut p, &mut &[0x7fu8, 0xff, 0xff, 0xff, 0, 0][..]).is_err());
        assert!(read_packet(&mut p, &mut &[0u8, 0, 0, 1, 0, 0][..]).is_err());
        let mut lying = wire.clone();
        lying[3] = 10; // payload shorter than data_len
        assert!(read_packet(&mut p, &mut &lying[..]).is_err());
        let mut p = packet_decoder(&sum);
        read_packet(&mut p, &mut &wire[..]).unwrap();
        assert!(matches!(
            read_packet(&mut p, &mut &wire[..]),
            Err(Error::Protocol {
                source: ferrodfs_transfer::Error::PacketOutOfOrder { last: 3, seqno: 3 },
                ..
            })
        ));
        // Checksums for 512-byte chunks, but the op asked for 1024.
        let mut p = packet_decoder(&DataChecksum::new(ChecksumType::Crc32c, 1024).unwrap());
        assert!(matches!(
            read_packet(&mut p, &mut &wire[..]),
            Err(Error::Protocol {
                source: ferrodfs_transfer::Error::ChecksumLength { .. },
                ..
            })
        ));
    }

    #[test]
    fn pieces_split_at_chunk_boundaries() {
        let sum = DataChecksum::new(ChecksumType::Crc32, 512).unwrap();
        let data = vec![3u8; 1000];
        // Starting at 100: a 412-byte head, then 512, then 76.
        let sums = piece_checksums(&sum, 100, &data);
        assert_eq!(sums.len(), 12);
        assert_eq!(&sums[..4], &sum.chunk_checksum(&data[..412]).to_be_bytes());
        verify_pieces(&sum, 100, &data, &sums).unwrap();
        let mut bad = data.clone();
        bad[500] ^= 1;
        assert!(matches!(
            verify_pieces(&sum, 100, &bad, &sums),
            Err(Error::PacketChecksum { offset: 512, .. })
        ));
        // Aligned: plain chunking.
        assert_eq!(piece_checksums(&sum, 1024, &data), sum.compute(&data));
    }
}
