//! Pipeline acks: what each DataNode sends upstream for every packet, with one status
//! per node from itself to the end of the pipeline.
//!
//! On the wire an ack is a varint-delimited `PipelineAckProto{seqno, reply[], flag[]}`.
//! Hadoop 2.7+ DataNodes fill both `reply` (the status) and `flag` (the status in bits
//! 0–3, a reserved bit 4, the ECN congestion signal in bits 5–6); readers prefer `flag`.

use crate::op::{read_delimited_max, write_delimited};
use crate::{Error, Result};
use ferrodfs_proto::hdfs::{PipelineAckProto, Status};
use std::io::{self, Read, Write};

const STATUS_MASK: u32 = 0xf;
const ECN_SHIFT: u32 = 5;
const ECN_MASK: u32 = 0x3;

/// Most replies an ack may carry: one per pipeline node, and a pipeline is no
/// longer than `dfs.replication.max` (Hadoop's default 512).
pub const MAX_ACK_REPLIES: usize = 512;
/// Longest delimited ack accepted: seqno, time and [`MAX_ACK_REPLIES`] replies
/// and flags, each field tagged, with room to spare.
pub const MAX_ACK_LEN: usize = 16 * 1024;

/// Explicit congestion notification carried in an ack's flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ecn {
    #[default]
    Disabled = 0,
    Supported = 1,
    Supported2 = 2,
    Congested = 3,
}

impl Ecn {
    fn from_bits(bits: u32) -> Ecn {
        match bits & ECN_MASK {
            1 => Ecn::Supported,
            2 => Ecn::Supported2,
            3 => Ecn::Congested,
            _ => Ecn::Disabled,
        }
    }
}

/// One node's part of an ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeReply {
    pub status: Status,
    pub ecn: Ecn,
}

impl NodeReply {
    pub fn new(status: Status) -> NodeReply {
        NodeReply {
            status,
            ecn: Ecn::Disabled,
        }
    }

    /// The flag word Hadoop puts beside the status.
    pub fn flag(&self) -> u32 {
        (self.status as u32 & STATUS_MASK) | ((self.ecn as u32) << ECN_SHIFT)
    }

    fn from_flag(flag: u32) -> NodeReply {
        let status = Status::try_from((flag & STATUS_MASK) as i32).unwrap_or(Status::Error);
        NodeReply {
            status,
            ecn: Ecn::from_bits(flag >> ECN_SHIFT),
        }
    }
}

/// A decoded pipeline ack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineAck {
    pub seqno: i64,
    /// Replies from the sending node to the last node of the pipeline.
    pub replies: Vec<NodeReply>,
    pub downstream_ack_time_nanos: u64,
}

impl PipelineAck {
    pub fn new(seqno: i64, replies: Vec<NodeReply>) -> PipelineAck {
        PipelineAck {
            seqno,
            replies,
            downstream_ack_time_nanos: 0,
        }
    }

    /// True if every node answered SUCCESS.
    pub fn is_success(&self) -> bool {
        self.replies.iter().all(|r| r.status == Status::Success)
    }

    /// The first node (index from the sender) whose status is not SUCCESS.
    pub fn first_bad_node(&self) -> Option<usize> {
        self.replies
            .iter()
            .position(|r| r.status != Status::Success)
    }

    pub fn to_proto(&self) -> PipelineAckProto {
        PipelineAckProto {
            seqno: self.seqno,
            reply: self.replies.iter().map(|r| r.status as i32).collect(),
            downstream_ack_time_nanos: Some(self.downstream_ack_time_nanos),
            flag: self.replies.iter().map(NodeReply::flag).collect(),
        }
    }

    pub fn from_proto(p: &PipelineAckProto) -> PipelineAck {
        let replies = if p.flag.len() == p.reply.len() && !p.flag.is_empty() {
            p.flag.iter().map(|f| NodeReply::from_flag(*f)).collect()
        } else {
            p.reply
                .iter()
                .map(|s| NodeReply::new(Status::try_from(*s).unwrap_or(Status::Error)))
                .collect()
        };
        PipelineAck {
            seqno: p.seqno,
            replies,
            downstream_ack_time_nanos: p.downstream_ack_time_nanos(),
        }
    }

    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        write_delimited(w, &self.to_proto())
    }

    /// Reads one delimited ack: at most [`MAX_ACK_LEN`] bytes and
    /// [`MAX_ACK_REPLIES`] replies.
    pub fn read_from(r: &mut impl Read) -> Result<PipelineAck> {
        let proto: PipelineAckProto = read_delimited_max(r, "pipeline ack", MAX_ACK_LEN)?;
        let count = proto.reply.len().max(proto.flag.len());
        if count > MAX_ACK_REPLIES {
            return Err(Error::TooManyReplies {
                count,
                max: MAX_ACK_REPLIES,
            });
        }
        Ok(PipelineAck::from_proto(&proto))
    }

    /// Decodes the delimited ack at the start of `bytes` with the checks of
    /// [`PipelineAck::read_from`]; returns it and the bytes it took. A pure
    /// function over a slice, for fuzzing.
    pub fn decode(bytes: &[u8]) -> Result<(PipelineAck, usize)> {
        let mut r = bytes;
        let ack = PipelineAck::read_from(&mut r)?;
        Ok((ack, bytes.len() - r.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_flags() {
        let ack = PipelineAck::new(
            42,
            vec![
                NodeReply::new(Status::Success),
                NodeReply {
                    status: Status::Success,
                    ecn: Ecn::Congested,
                },
                NodeReply::new(Status::ErrorChecksum),
            ],
        );
        let mut wire = Vec::new();
        ack.write_to(&mut wire).unwrap();
        let back = PipelineAck::read_from(&mut &wire[..]).unwrap();
        assert_eq!(back, ack);
        assert!(!back.is_success());
        assert_eq!(back.first_bad_node(), Some(2));
        assert_eq!(
            NodeReply {
                status: Status::Success,
                ecn: Ecn::Congested
            }
            .flag(),
            0x60
        );
    }

    #[test]
    fn reads_acks_without_flags() {
        let proto = PipelineAckProto {
            seqno: 1,
            reply: vec![Status::Success as i32, Status::Error as i32],
            ..Default::default()
        };
        let ack = PipelineAck::from_proto(&proto);
        assert_eq!(ack.first_bad_node(), Some(1));
    }

    #[test]
    fn oversized_acks_are_refused() {
        let many = PipelineAckProto {
            seqno: 1,
            reply: vec![Status::Success as i32; MAX_ACK_REPLIES + 1],
            ..Default::default()
        };
        let mut wire = Vec::new();
        write_delimited(&mut wire, &many).unwrap();
        assert!(matches!(
            PipelineAck::decode(&wire),
            Err(Error::TooManyReplies { count: 513, .. })
        ));
        // A length prefix over the limit is refused before any byte is buffered.
        let huge = [0xff, 0xff, 0x7f];
        assert!(matches!(
            PipelineAck::decode(&huge),
            Err(Error::TooLong { .. })
        ));
        let ok = PipelineAck::new(3, vec![NodeReply::new(Status::Success); 3]);
        let mut wire = Vec::new();
        ok.write_to(&mut wire).unwrap();
        assert_eq!(PipelineAck::decode(&wire).unwrap(), (ok, wire.len()));
    }

    #[test]
    fn heartbeat_ack_is_at_least_five_bytes() {
        // The Go client reads delimited replies with ReadAtLeast(5).
        let mut wire = Vec::new();
        PipelineAck::new(-1, vec![NodeReply::new(Status::Success)])
            .write_to(&mut wire)
            .unwrap();
        assert!(wire.len() >= 5, "{wire:?}");
    }
}
