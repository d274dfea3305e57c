//! Edit records: one per namespace change, with every value the change needs so replay is
//! deterministic (ids, generation stamps and times are decided once, by the live
//! operation). Opcodes and field order are documented in `docs/design/editlog.md`.

use super::codec::{DecodeError, Reader, Writer};

/// One namespace change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditOp {
    /// A new directory `name` under `parent`.
    Mkdir {
        id: u64,
        parent: u64,
        name: Vec<u8>,
        perm: u16,
        owner: String,
        group: String,
        mtime: i64,
    },
    /// A new file, open for writing by `client_name`.
    AddFile {
        id: u64,
        parent: u64,
        name: Vec<u8>,
        perm: u16,
        owner: String,
        group: String,
        mtime: i64,
        replication: u16,
        block_size: u64,
        client_name: String,
        client_machine: String,
    },
    /// A new last block of `file` (under construction).
    AllocBlock {
        file: u64,
        block: u64,
        gs: u64,
    },
    /// A block's generation stamp and length (commit, fsync, pipeline update, recovery).
    UpdateBlock {
        block: u64,
        gs: u64,
        num_bytes: u64,
    },
    /// The last block of `file` is dropped.
    AbandonBlock {
        file: u64,
        block: u64,
    },
    /// `file` is closed: no longer under construction.
    Close {
        file: u64,
        mtime: i64,
        atime: i64,
    },
    /// `file` is opened again for writing (append, truncate recovery).
    Reopen {
        file: u64,
        client_name: String,
        client_machine: String,
    },
    /// Inode `id` moves under `parent` as `name`; both parents get `mtime`.
    Rename {
        id: u64,
        parent: u64,
        name: Vec<u8>,
        mtime: i64,
    },
    /// Inode `id` and its subtree are removed; its parent gets `mtime`.
    Delete {
        id: u64,
        mtime: i64,
    },
    SetReplication {
        id: u64,
        replication: u16,
    },
    SetPermission {
        id: u64,
        perm: u16,
    },
    SetOwner {
        id: u64,
        owner: Option<String>,
        group: Option<String>,
    },
    /// `-1` leaves a time unchanged.
    SetTimes {
        id: u64,
        mtime: i64,
        atime: i64,
    },
    /// The blocks of `srcs` are appended to `target` and the sources removed.
    Concat {
        target: u64,
        srcs: Vec<u64>,
        mtime: i64,
    },
    /// `file` keeps its first `keep_blocks` blocks, the last of them `last_len` bytes long.
    Truncate {
        file: u64,
        keep_blocks: u32,
        last_len: u64,
        mtime: i64,
    },
    /// The lease on `file` passes to `client_name` (lease recovery).
    ReassignLease {
        file: u64,
        client_name: String,
    },
    /// The generation stamp counter reaches `gs` (a stamp handed out without a block
    /// change: updateBlockForPipeline, recovery ids).
    SetGenstamp {
        gs: u64,
    },
}

/// Opcodes (one byte in each record).
pub mod opcode {
    pub const MKDIR: u8 = 1;
    pub const ADD_FILE: u8 = 2;
    pub const ALLOC_BLOCK: u8 = 3;
    pub const UPDATE_BLOCK: u8 = 4;
    pub const ABANDON_BLOCK: u8 = 5;
    pub const CLOSE: u8 = 6;
    pub const REOPEN: u8 = 7;
    pub const RENAME: u8 = 8;
    pub const DELETE: u8 = 9;
    pub const SET_REPLICATION: u8 = 10;
    pub const SET_PERMISSION: u8 = 11;
    pub const SET_OWNER: u8 = 12;
    pub const SET_TIMES: u8 = 13;
    pub const CONCAT: u8 = 14;
    pub const TRUNCATE: u8 = 15;
    pub const REASSIGN_LEASE: u8 = 16;
    pub const SET_GENSTAMP: u8 = 17;
}

impl EditOp {
    pub fn opcode(&self) -> u8 {
        use opcode::*;
        match self {
            EditOp::Mkdir { .. } => MKDIR,
            EditOp::AddFile { .. } => ADD_FILE,
            EditOp::AllocBlock { .. } => ALLOC_BLOCK,
            EditOp::UpdateBlock { .. } => UPDATE_BLOCK,
            EditOp::AbandonBlock { .. } => ABANDON_BLOCK,
            EditOp::Close { .. } => CLOSE,
            EditOp::Reopen { .. } => REOPEN,
            EditOp::Rename { .. } => RENAME,
            EditOp::Delete { .. } => DELETE,
            EditOp::SetReplication { .. } => SET_REPLICATION,
            EditOp::SetPermission { .. } => SET_PERMISSION,
            EditOp::SetOwner { .. } => SET_OWNER,
            EditOp::SetTimes { .. } => SET_TIMES,
            EditOp::Concat { .. } => CONCAT,
            EditOp::Truncate { .. } => TRUNCATE,
            EditOp::ReassignLease { .. } => REASSIGN_LEASE,
            EditOp::SetGenstamp { .. } => SET_GENSTAMP,
        }
    }

    /// Writes the opcode and the fields.
    pub fn encode(&self, w: &mut Writer) {
        w.u8(self.opcode());
        match self {
            EditOp::Mkdir {
                id,
                parent,
                name,
                perm,
                owner,
                group,
                mtime,
            } => {
                w.u64(*id);
                w.u64(*parent);
                w.bytes(name);
                w.u16(*perm);
                w.str(owner);
                w.str(group);
                w.i64(*mtime);
            }
            EditOp::AddFile {
                id,
                parent,
                name,
                perm,
                owner,
                group,
                mtime,
                replication,
                block_size,
                client_name,
                client_machine,
            } => {
                w.u64(*id);
                w.u64(*parent);
                w.bytes(name);
                w.u16(*perm);
                w.str(owner);
                w.str(group);
                w.i64(*mtime);
                w.u16(*replication);
                w.u64(*block_size);
                w.str(client_name);
                w.str(client_machine);
            }
            EditOp::AllocBlock { file, block, gs } => {
                w.u64(*file);
                w.u64(*block);
                w.u64(*gs);
            }
            EditOp::UpdateBlock {
                block,
                gs,
                num_bytes,
            } => {
                w.u64(*block);
                w.u64(*gs);
                w.u64(*num_bytes);
            }
            EditOp::AbandonBlock { file, block } => {
                w.u64(*file);
                w.u64(*block);
            }
            EditOp::Close { file, mtime, atime } => {
                w.u64(*file);
                w.i64(*mtime);
                w.i64(*atime);
            }
            EditOp::Reopen {
                file,
                client_name,
                client_machine,
            } => {
                w.u64(*file);
                w.str(client_name);
                w.str(client_machine);
            }
            EditOp::Rename {
                id,
                parent,
                name,
                mtime,
            } => {
                w.u64(*id);
                w.u64(*parent);
                w.bytes(name);
                w.i64(*mtime);
            }
            EditOp::Delete { id, mtime } => {
                w.u64(*id);
                w.i64(*mtime);
            }
            EditOp::SetReplication { id, replication } => {
                w.u64(*id);
                w.u16(*replication);
            }
            EditOp::SetPermission { id, perm } => {
                w.u64(*id);
                w.u16(*perm);
            }
            EditOp::SetOwner { id, owner, group } => {
                w.u64(*id);
                w.opt_str(owner.as_deref());
                w.opt_str(group.as_deref());
            }
            EditOp::SetTimes { id, mtime, atime } => {
                w.u64(*id);
                w.i64(*mtime);
                w.i64(*atime);
            }
            EditOp::Concat {
                target,
                srcs,
                mtime,
            } => {
                w.u64(*target);
                w.u64s(srcs);
                w.i64(*mtime);
            }
            EditOp::Truncate {
                file,
                keep_blocks,
                last_len,
                mtime,
            } => {
                w.u64(*file);
                w.u32(*keep_blocks);
                w.u64(*last_len);
                w.i64(*mtime);
            }
            EditOp::ReassignLease { file, client_name } => {
                w.u64(*file);
                w.str(client_name);
            }
            EditOp::SetGenstamp { gs } => w.u64(*gs),
        }
    }

    /// Reads one op (opcode and fields); the whole input must be consumed.
    pub fn decode(bytes: &[u8]) -> Result<EditOp, DecodeError> {
        use opcode::*;
        let mut r = Reader::new(bytes);
        let op = match r.u8()? {
            MKDIR => EditOp::Mkdir {
                id: r.u64()?,
                parent: r.u64()?,
                name: r.bytes()?,
                perm: r.u16()?,
                owner: r.str()?,
                group: r.str()?,
                mtime: r.i64()?,
            },
            ADD_FILE => EditOp::AddFile {
                id: r.u64()?,
                parent: r.u64()?,
                name: r.bytes()?,
                perm: r.u16()?,
                owner: r.str()?,
                group: r.str()?,
                mtime: r.i64()?,
                replication: r.u16()?,
                block_size: r.u64()?,
                client_name: r.str()?,
                client_machine: r.str()?,
            },
            ALLOC_BLOCK => EditOp::AllocBlock {
                file: r.u64()?,
                block: r.u64()?,
                gs: r.u64()?,
            },
            UPDATE_BLOCK => EditOp::UpdateBlock {
                block: r.u64()?,
                gs: r.u64()?,
                num_bytes: r.u64()?,
            },
            ABANDON_BLOCK => EditOp::AbandonBlock {
                file: r.u64()?,
                block: r.u64()?,
            },
            CLOSE => EditOp::Close {
                file: r.u64()?,
                mtime: r.i64()?,
                atime: r.i64()?,
            },
            REOPEN => EditOp::Reopen {
                file: r.u64()?,
                client_name: r.str()?,
                client_machine: r.str()?,
            },
            RENAME => EditOp::Rename {
                id: r.u64()?,
                parent: r.u64()?,
                name: r.bytes()?,
                mtime: r.i64()?,
            },
            DELETE => EditOp::Delete {
                id: r.u64()?,
                mtime: r.i64()?,
            },
            SET_REPLICATION => EditOp::SetReplication {
                id: r.u64()?,
                replication: r.u16()?,
            },
            SET_PERMISSION => EditOp::SetPermission {
                id: r.u64()?,
                perm: r.u16()?,
            },
            SET_OWNER => EditOp::SetOwner {
                id: r.u64()?,
                owner: r.opt_str()?,
                group: r.opt_str()?,
            },
            SET_TIMES => EditOp::SetTimes {
                id: r.u64()?,
                mtime: r.i64()?,
                atime: r.i64()?,
            },
            CONCAT => EditOp::Concat {
                target: r.u64()?,
                srcs: r.u64s()?,
                mtime: r.i64()?,
            },
            TRUNCATE => EditOp::Truncate {
                file: r.u64()?,
                keep_blocks: r.u32()?,
                last_len: r.u64()?,
                mtime: r.i64()?,
            },
            REASSIGN_LEASE => EditOp::ReassignLease {
                file: r.u64()?,
                client_name: r.str()?,
            },
            SET_GENSTAMP => EditOp::SetGenstamp { gs: r.u64()? },
            _ => return Err(DecodeError::Invalid("unknown opcode")),
        };
        if r.remaining() != 0 {
            return Err(DecodeError::Invalid("trailing bytes in record"));
        }
        Ok(op)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn samples() -> Vec<EditOp> {
        vec![
            EditOp::Mkdir {
                id: 16386,
                parent: 16385,
                name: b"user".to_vec(),
                perm: 0o755,
                owner: "alice".into(),
                group: "supergroup".into(),
                mtime: 1_700_000_000_000,
            },
            EditOp::AddFile {
                id: 16387,
                parent: 16386,
                name: b"f".to_vec(),
                perm: 0o644,
                owner: "alice".into(),
                group: "supergroup".into(),
                mtime: 5,
                replication: 3,
                block_size: 128 << 20,
                client_name: "DFSClient_1".into(),
                client_machine: "10.0.0.1".into(),
            },
            EditOp::AllocBlock {
                file: 16387,
                block: 1 << 30,
                gs: 1001,
            },
            EditOp::UpdateBlock {
                block: 1 << 30,
                gs: 1002,
                num_bytes: 77,
            },
            EditOp::AbandonBlock { file: 1, block: 2 },
            EditOp::Close {
                file: 16387,
                mtime: 9,
                atime: 9,
            },
            EditOp::Reopen {
                file: 16387,
                client_name: "c".into(),
                client_machine: "m".into(),
            },
            EditOp::Rename {
                id: 16387,
                parent: 16385,
                name: b"g".to_vec(),
                mtime: 10,
            },
            EditOp::Delete {
                id: 16387,
                mtime: 11,
            },
            EditOp::SetReplication {
                id: 1,
                replication: 2,
            },
            EditOp::SetPermission {
                id: 1,
                perm: 0o1777,
            },
            EditOp::SetOwner {
                id: 1,
                owner: Some("bob".into()),
                group: None,
            },
            EditOp::SetTimes {
                id: 1,
                mtime: -1,
                atime: 4,
            },
            EditOp::Concat {
                target: 1,
                srcs: vec![2, 3],
                mtime: 12,
            },
            EditOp::Truncate {
                file: 1,
                keep_blocks: 2,
                last_len: 100,
                mtime: 13,
            },
            EditOp::ReassignLease {
                file: 1,
                client_name: "HDFS_NameNode".into(),
            },
            EditOp::SetGenstamp { gs: 1005 },
        ]
    }

    #[test]
    fn every_op_round_trips() {
        for op in samples() {
            let mut w = Writer::default();
            op.encode(&mut w);
            assert_eq!(w.buf[0], op.opcode());
            assert_eq!(EditOp::decode(&w.buf), Ok(op.clone()));
            // Every strict prefix is rejected, never misread.
            for cut in 0..w.buf.len() {
                assert!(EditOp::decode(&w.buf[..cut]).is_err(), "{op:?} cut {cut}");
            }
        }
    }

    #[test]
    fn unknown_opcode_and_trailing_bytes_rejected() {
        assert_eq!(
            EditOp::decode(&[200]),
            Err(DecodeError::Invalid("unknown opcode"))
        );
        let mut w = Writer::default();
        EditOp::SetGenstamp { gs: 1 }.encode(&mut w);
        w.u8(0);
        assert!(EditOp::decode(&w.buf).is_err());
    }
}
