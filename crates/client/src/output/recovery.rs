//! Pipeline recovery (Hadoop's `processDatanodeOrExternalError` and
//! `setupPipelineForAppendOrRecovery`), and the append pipeline set-up that shares it.
//!
//! On a pipeline error the streamer:
//!
//! 1. closes the pipeline and stops its ResponseProcessor;
//! 2. moves every unacknowledged packet back to the front of `dataQueue` (so nothing
//!    acknowledged is resent and nothing unacknowledged is lost);
//! 3. drops the bad node (a restarting node — an OOB_RESTART ack — is kept: setup
//!    attempts are retried every second, failures at that node not counted, until it
//!    is back or `dfs.client.datanode-restart.timeout` passes, then it is dropped);
//! 4. when the replace-datanode policy asks, gets a new node
//!    (`getAdditionalDatanode`) and copies the acknowledged part of the block to it
//!    (TRANSFER_BLOCK from a surviving node);
//! 5. gets a new generation stamp (`updateBlockForPipeline`), rebuilds the pipeline
//!    with WRITE_BLOCK stage `PIPELINE_SETUP_STREAMING_RECOVERY` (or
//!    `PIPELINE_CLOSE_RECOVERY` once the last packet was sent), and commits it
//!    (`updatePipeline`);
//! 6. resumes streaming — or, in close recovery, where the DataNodes finalize the
//!    block during set-up, drops the end-of-block packet and ends the block.
//!
//! A setup failure blames `firstBadLink` (or the first node) and tries again; the same
//! packet may be recovered at most [`MAX_PIPELINE_RECOVERY_RETRIES`] times.

use super::pipeline::{
    block_name, create_block_output_stream, recovery_stage, transfer_block, Nodes,
    WriteBlockRequest,
};
use super::queue::PipelineError;
use super::streamer::DataStreamer;
use crate::config::MAX_PIPELINE_RECOVERY_RETRIES;
use crate::datanode::node_name;
use crate::{Error, Result};
use ferrodfs_proto::hdfs::op_write_block_proto::BlockConstructionStage;
use ferrodfs_proto::hdfs::{
    GetAdditionalDatanodeRequestProto, UpdateBlockForPipelineRequestProto,
    UpdatePipelineRequestProto,
};
use std::thread;
use std::time::{Duration, Instant};

/// Pause between attempts to reach a restarting DataNode (Hadoop's
/// `handleRestartingDatanode` waits min(4 s, `dfs.client.datanode-restart.timeout`);
/// a DataNode restarting on this host is back in about a second).
const RESTART_POLL: Duration = Duration::from_secs(1);

impl DataStreamer {
    /// Handles a recorded pipeline error (steps 1–6 of the module docs).
    pub(super) fn process_datanode_error(&mut self, error: PipelineError) -> Result<()> {
        let block = self.block.as_ref().map(block_name).unwrap_or_default();
        tracing::warn!(file = %self.ctx.src, %block, nodes = %self.nodes.names(), reason = %error.reason, "pipeline error; recovering");
        self.close_pipeline();
        // The closed pipeline's ResponseProcessor is joined: anything it recorded
        // after `error` was taken is about the dead pipeline, not the next one.
        self.queues.lock().error = None;
        let requeued = self.queues.requeue_unacked();
        tracing::debug!(requeued, "unacked packets back on dataQueue");
        if self.block.is_none() {
            return Ok(());
        }
        let last_acked = self.queues.lock().last_acked_seqno;
        // A restart is not a failure of the packet (Hadoop does not count it).
        if error.restarting.is_none() {
            if last_acked != self.last_acked_before_failure {
                self.last_acked_before_failure = last_acked;
                self.recovery_count = 1;
            } else {
                self.recovery_count += 1;
                if self.recovery_count > MAX_PIPELINE_RECOVERY_RETRIES {
                    return Err(Error::RecoveryFailed {
                        block,
                        attempts: self.recovery_count - 1,
                    });
                }
            }
        }
        self.setup_pipeline_for_append_or_recovery(Some(error), true)?;
        if self.stage == BlockConstructionStage::PipelineClose {
            {
                let mut s = self.queues.lock();
                if s.data.front().is_some_and(|p| p.last_packet_in_block) {
                    if let Some(p) = s.data.pop_front() {
                        s.last_acked_seqno = p.seqno;
                    }
                }
            }
            self.queues.notify();
            self.stream = None;
            self.end_block();
            Ok(())
        } else {
            self.init_data_streaming()
        }
    }

    /// Builds a pipeline for the current block with a new generation stamp: for an
    /// append (`recovery` false, stage PIPELINE_SETUP_APPEND) or after `error`.
    pub(super) fn setup_pipeline_for_append_or_recovery(
        &mut self,
        mut error: Option<PipelineError>,
        recovery: bool,
    ) -> Result<()> {
        let Some(block) = self.block.clone() else {
            return Err(Error::StreamClosed);
        };
        let mut attempts = 0;
        // A node that announced a restart (OOB ack): its index and deadline. Setup
        // failures it causes are not held against it until the deadline (Hadoop's
        // ErrorState restartingNodeIndex / restartingNodeDeadline).
        let mut restarting: Option<(usize, Instant)> = None;
        loop {
            if let Some(e) = error.take() {
                let mut bad = e.bad_node;
                if e.restarting.is_some() {
                    restarting = e.restarting;
                }
                if let Some((r, deadline)) = restarting {
                    if Instant::now() >= deadline {
                        tracing::warn!(
                            node = r,
                            timeout = ?self.ctx.conf.datanode_restart_timeout,
                            "DataNode did not restart in time"
                        );
                        restarting = None;
                        bad = bad.or(Some(r));
                    } else if bad == Some(r) {
                        bad = None;
                    }
                }
                if let Some(i) = bad {
                    if let Some(node) = self.nodes.remove(i) {
                        tracing::warn!(node = %node_name(&node), block = %block_name(&block), "dropping bad DataNode from the pipeline");
                        self.failed.push(node);
                    }
                    // Hadoop's adjustState4RestartingNode: a failure further down
                    // means the restarting node is back; one before it shifts it.
                    restarting = match restarting {
                        Some((r, _)) if i > r => None,
                        Some((r, d)) if i < r => Some((r - 1, d)),
                        other => other,
                    };
                }
                if let Some((r, deadline)) = restarting {
                    let left = deadline.saturating_duration_since(Instant::now());
                    tracing::info!(node = r, ?left, "waiting for a restarting DataNode");
                    thread::sleep(RESTART_POLL.min(left));
                }
            }
            if self.nodes.is_empty() {
                return Err(Error::AllDataNodesBad {
                    block: block_name(&block),
                });
            }
            // Attempts while a node restarts are bounded by its deadline instead.
            if restarting.is_none() {
                attempts += 1;
            }
            if attempts > MAX_PIPELINE_RECOVERY_RETRIES + 1 {
                return Err(Error::RecoveryFailed {
                    block: block_name(&block),
                    attempts: attempts - 1,
                });
            }
            let (acked, hflushed) = {
                let s = self.queues.lock();
                (s.bytes_acked, s.hflushed)
            };
            let mut current = block.clone();
            current.num_bytes = Some(acked as u64);
            let policy = self.ctx.conf.replace_datanode;
            // A closing pipeline gets no replacement (Hadoop's
            // addDatanode2ExistingPipeline): the block is about to be finalized
            // where it is, and re-replication completes it later.
            let closing = matches!(
                self.stage,
                BlockConstructionStage::PipelineClose
                    | BlockConstructionStage::PipelineCloseRecovery
            );
            if !closing
                && policy.satisfy(
                    self.ctx.replication,
                    self.nodes.len(),
                    self.is_append,
                    hflushed,
                )
            {
                if let Err(e) = self.add_datanode_to_pipeline(&current) {
                    if !policy.best_effort {
                        return Err(e);
                    }
                    tracing::warn!(error = %e, "could not add a DataNode to the pipeline; going on (best effort)");
                }
            }
            let new_gs = self
                .ctx
                .nn
                .update_block_for_pipeline(&UpdateBlockForPipelineRequestProto {
                    block: current.clone(),
                    client_name: self.ctx.client_name.clone(),
                })
                .map_err(|e| Error::rpc("updateBlockForPipeline", &self.ctx.src, e))?
                .block
                .b
                .generation_stamp;
            let stage = if recovery {
                recovery_stage(self.stage)
            } else {
                self.stage
            };
            let req = WriteBlockRequest {
                block: &current,
                client_name: &self.ctx.client_name,
                stage,
                latest_gs: new_gs,
                min_bytes_rcvd: acked as u64,
                max_bytes_rcvd: self.bytes_sent.max(acked) as u64,
                checksum: self.ctx.checksum,
            };
            match create_block_output_stream(&self.ctx.conf, &self.nodes, &req) {
                Ok(stream) => {
                    let mut new_block = current.clone();
                    new_block.generation_stamp = new_gs;
                    self.ctx
                        .nn
                        .update_pipeline(&UpdatePipelineRequestProto {
                            client_name: self.ctx.client_name.clone(),
                            old_block: current,
                            new_block: new_block.clone(),
                            new_nodes: self.nodes.nodes.iter().map(|n| n.id.clone()).collect(),
                            storage_i_ds: self.nodes.storage_ids.clone(),
                        })
                        .map_err(|e| Error::rpc("updatePipeline", &self.ctx.src, e))?;
                    tracing::info!(block = %block_name(&new_block), nodes = %self.nodes.names(), ?stage, "pipeline rebuilt");
                    self.block = Some(new_block);
                    self.stream = Some(stream.stream);
                    return Ok(());
                }
                Err(f) => {
                    tracing::warn!(error = %f.error, bad = f.bad_node, "pipeline setup failed");
                    error = Some(PipelineError {
                        bad_node: Some(f.bad_node),
                        restarting: None,
                        reason: f.error.to_string(),
                    });
                }
            }
        }
    }

    /// Asks the NameNode for one more node and copies the acknowledged bytes of the
    /// block to it from a surviving node (Hadoop's `addDatanode2ExistingPipeline`).
    /// The NameNode's order of nodes becomes the pipeline's.
    fn add_datanode_to_pipeline(
        &mut self,
        block: &ferrodfs_proto::hdfs::ExtendedBlockProto,
    ) -> Result<()> {
        let resp = self
            .ctx
            .nn
            .get_additional_datanode(&GetAdditionalDatanodeRequestProto {
                src: self.ctx.src.clone(),
                blk: block.clone(),
                existings: self.nodes.nodes.clone(),
                excludes: self.failed.clone(),
                num_additional_nodes: 1,
                client_name: self.ctx.client_name.clone(),
                existing_storage_uuids: self.nodes.storage_ids.clone(),
                file_id: Some(self.ctx.file_id),
            })
            .map_err(|e| Error::rpc("getAdditionalDatanode", &self.ctx.src, e))?;
        let new_nodes = Nodes::of(&resp.block);
        let old: Vec<String> = self.nodes.nodes.iter().map(node_name).collect();
        let Some(d) = new_nodes
            .nodes
            .iter()
            .position(|n| !old.contains(&node_name(n)))
        else {
            return Err(Error::BadReply {
                method: "getAdditionalDatanode",
                what: "no new node in the located block",
            });
        };
        if block.num_bytes.unwrap_or(0) > 0 {
            let target = Nodes {
                nodes: vec![new_nodes.nodes[d].clone()],
                storage_types: vec![new_nodes.storage_types[d]],
                storage_ids: vec![new_nodes.storage_ids[d].clone()],
            };
            let mut last_error = None;
            let mut copied = false;
            for source in &self.nodes.nodes {
                match transfer_block(
                    &self.ctx.conf,
                    source,
                    &target,
                    block,
                    &self.ctx.client_name,
                ) {
                    Ok(()) => {
                        copied = true;
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(source = %node_name(source), error = %e, "TRANSFER_BLOCK failed");
                        last_error = Some(e);
                    }
                }
            }
            if !copied {
                return Err(last_error.unwrap_or(Error::AllDataNodesBad {
                    block: block_name(block),
                }));
            }
        }
        tracing::info!(new = %node_name(&new_nodes.nodes[d]), block = %block_name(block), "added a DataNode to the pipeline");
        self.nodes = new_nodes;
        Ok(())
    }
}
