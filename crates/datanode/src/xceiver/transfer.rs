//! Sending a replica to other DataNodes (`DataNode.DataTransfer`):
//!
//! * TRANSFER_BLOCK, sent by a client during pipeline recovery to copy the
//!   partial block to a new node: the replica (RBW → stage TRANSFER_RBW,
//!   FINALIZED → TRANSFER_FINALIZED) is sent with WRITE_BLOCK to the targets,
//!   the target's closing `DNTransferAckProto` is awaited, then this node
//!   answers `{SUCCESS}`;
//! * [`transfer_replica`] with stage PIPELINE_SETUP_CREATE and no client
//!   name: a NameNode re-replication command (`DNA_TRANSFER`); the targets
//!   finalize the copy and send no acks.
//!
//! The data goes as READ_BLOCK sends it ([`BlockSender`], stored checksums,
//! a final empty packet); the receiving node verifies it.

use std::net::TcpStream;

use ferrodfs_proto::hdfs::op_write_block_proto::BlockConstructionStage as Stage;
use ferrodfs_proto::hdfs::{
    BaseHeaderProto, BlockOpResponseProto, ClientOperationHeaderProto, DatanodeInfoProto,
    DnTransferAckProto, OpTransferBlockProto, OpWriteBlockProto, Status,
};
use ferrodfs_transfer::op::{read_delimited, write_delimited, write_op, Op};

use super::sender::BlockSender;
use super::server::{Input, Next};
use super::{
    block_from_proto, block_to_proto, checksum_to_proto, connect, net_err, proto_err, send_error,
    status_of, xfer_addr_of, Ctx, READ_TIMEOUT_EXTENSION, WRITE_TIMEOUT_EXTENSION,
};
use crate::storage::{ExtendedBlock, ReplicaState};
use crate::{Error, Result};

/// Sends this node's replica of `block` to `targets` (a pipeline: the first
/// forwards to the rest) with WRITE_BLOCK at `stage`. `block.num_bytes` is
/// the length sent. With a `client_name` the first target's closing ack is
/// awaited.
pub(crate) fn transfer_replica(
    ctx: &Ctx,
    block: &ExtendedBlock,
    targets: &[DatanodeInfoProto],
    target_storage_types: &[i32],
    target_storage_ids: &[String],
    stage: Stage,
    client_name: &str,
) -> Result<()> {
    let Some(first) = targets.first() else {
        return Err(Error::InvalidRequest {
            what: "transfer without targets",
        });
    };
    let addr = xfer_addr_of(first);
    let n = targets.len() as u32;
    let stream = connect(
        first,
        ctx.conf.socket_timeout + READ_TIMEOUT_EXTENSION * n,
        ctx.conf.write_timeout + WRITE_TIMEOUT_EXTENSION * n,
    )?;
    let _guard = ctx.conns.register(&stream);
    let sender = BlockSender::new(
        &ctx.ds,
        block,
        0,
        Some(block.num_bytes),
        true,
        false,
        ctx.conf.transfer_to,
    )?;
    let op = OpWriteBlockProto {
        header: ClientOperationHeaderProto {
            base_header: BaseHeaderProto {
                block: block_to_proto(block),
                token: None,
                trace_info: None,
            },
            client_name: client_name.to_string(),
        },
        targets: targets[1..].to_vec(),
        source: Some(ctx.datanode_info()),
        stage: stage as i32,
        pipeline_size: 0,
        min_bytes_rcvd: 0,
        max_bytes_rcvd: 0,
        latest_generation_stamp: 0,
        requested_checksum: checksum_to_proto(&sender.checksum()),
        storage_type: target_storage_types.first().copied(),
        target_storage_types: target_storage_types.iter().skip(1).copied().collect(),
        storage_id: target_storage_ids.first().cloned(),
        target_storage_ids: target_storage_ids.iter().skip(1).cloned().collect(),
        ..Default::default()
    };
    write_op(&mut &stream, Op::WriteBlock, &op).map_err(net_err("send WRITE_BLOCK", &addr))?;
    sender.send(&stream)?;
    if !client_name.is_empty() {
        let ack: DnTransferAckProto = read_delimited(&mut &stream, "DNTransferAckProto")
            .map_err(proto_err("read transfer ack"))?;
        let status = Status::try_from(ack.status).unwrap_or(Status::Error);
        if status != Status::Success {
            return Err(Error::Mirror {
                mirror: addr,
                status,
            });
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    tracing::info!(block = block.block_id, len = block.num_bytes, to = %addr, ?stage, "replica transferred");
    Ok(())
}

/// The block as this node holds it for a transfer: its generation stamp
/// (≥ the requested one) and visible length, and the stage its state calls
/// for.
pub(crate) fn replica_for_transfer(
    ctx: &Ctx,
    block: &ExtendedBlock,
) -> Result<(ExtendedBlock, Stage)> {
    let r = ctx
        .ds
        .get_replica(&block.pool_id, block.block_id)
        .ok_or(Error::ReplicaNotFound {
            block_id: block.block_id,
        })?;
    if r.gen_stamp < block.gen_stamp {
        return Err(Error::GenStampMismatch {
            block_id: block.block_id,
            found: r.gen_stamp,
            expected: block.gen_stamp,
            op: "transfer",
        });
    }
    let stage = match r.state {
        ReplicaState::Rbw => Stage::TransferRbw,
        ReplicaState::Finalized => Stage::TransferFinalized,
        state => {
            return Err(Error::WrongState {
                block_id: block.block_id,
                state,
                op: "transfer",
            })
        }
    };
    let b = ExtendedBlock {
        gen_stamp: r.gen_stamp,
        num_bytes: r.num_bytes,
        ..block.clone()
    };
    Ok((b, stage))
}

/// Serves one TRANSFER_BLOCK.
pub(crate) fn transfer_block_op(ctx: &Ctx, input: &mut Input, out: &TcpStream) -> Result<Next> {
    let op: OpTransferBlockProto =
        read_delimited(input, "OpTransferBlockProto").map_err(proto_err("read TRANSFER_BLOCK"))?;
    let block = block_from_proto(&op.header.base_header.block);
    let result = replica_for_transfer(ctx, &block).and_then(|(b, stage)| {
        transfer_replica(
            ctx,
            &b,
            &op.targets,
            &op.target_storage_types,
            &op.target_storage_ids,
            stage,
            &op.header.client_name,
        )
    });
    match result {
        Ok(()) => {
            let resp = BlockOpResponseProto {
                status: Status::Success as i32,
                first_bad_link: Some(String::new()),
                ..Default::default()
            };
            write_delimited(&mut &*out, &resp).map_err(net_err("write response", ""))?;
            Ok(Next::KeepOpen)
        }
        Err(e) => {
            let msg = format!("transferBlock {} received exception {e}", block.block_id);
            tracing::info!("{msg}");
            let _ = send_error(&mut &*out, status_of(&e), msg);
            Err(e)
        }
    }
}
