//! Edit records: one per namespace change, with every value the change needs so replay is
//! deterministic (ids, generation stamps and times are decided once, by the live
//! operation). Opcodes and field order are documented in `docs/design/editlog.md`.
//!
//! The ops are declared once, in the [`edit_ops!`] table below: opcode, constant, variant,
//! the [`ApplyEdit`] method that replays it, and its fields in wire order. The table
//! generates the enum, the opcode constants, the encoder, the decoder and the dispatch to
//! `ApplyEdit`; each field is written and read by its type's [`Field`] encoding. Adding
//! an op is one table entry plus its `ApplyEdit` method (the compiler asks for it).

use super::codec::{DecodeError, Field, Reader, Writer};

macro_rules! edit_ops {
    ($(
        $(#[$doc:meta])*
        $code:literal $konst:ident $variant:ident => $apply:ident {
            $($field:ident: $ty:ty),* $(,)?
        }
    )*) => {
        /// One namespace change.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum EditOp {
            $($(#[$doc])* $variant { $($field: $ty),* },)*
        }

        /// Opcodes (one byte in each record).
        pub mod opcode {
            $(pub const $konst: u8 = $code;)*
            /// Every opcode, in table order.
            pub const ALL: &[u8] = &[$($code),*];
        }

        /// Replays edit records: one method per op, called with the op's fields.
        #[allow(clippy::too_many_arguments, clippy::ptr_arg)]
        pub trait ApplyEdit {
            type Error;
            $(
                fn $apply(&mut self, op: &EditOp, $($field: &$ty),*) -> Result<(), Self::Error>;
            )*
        }

        impl EditOp {
            pub fn opcode(&self) -> u8 {
                match self {
                    $(EditOp::$variant { .. } => opcode::$konst,)*
                }
            }

            /// The op's name, as in the table.
            pub fn name(&self) -> &'static str {
                match self {
                    $(EditOp::$variant { .. } => stringify!($variant),)*
                }
            }

            /// Writes the opcode and the fields.
            pub fn encode(&self, w: &mut Writer) {
                w.u8(self.opcode());
                match self {
                    $(EditOp::$variant { $($field),* } => {
                        $(Field::put($field, w);)*
                    })*
                }
            }

            /// Reads one op (opcode and fields); the whole input must be consumed.
            pub fn decode(bytes: &[u8]) -> Result<EditOp, DecodeError> {
                let mut r = Reader::new(bytes);
                // Struct-literal fields are evaluated in the order written: wire order.
                let op = match r.u8()? {
                    $($code => EditOp::$variant {
                        $($field: <$ty as Field>::get(&mut r)?),*
                    },)*
                    _ => return Err(DecodeError::Invalid("unknown opcode")),
                };
                if r.remaining() != 0 {
                    return Err(DecodeError::Invalid("trailing bytes in record"));
                }
                Ok(op)
            }

            /// Calls the `ApplyEdit` method of this op.
            pub fn apply_to<A: ApplyEdit + ?Sized>(&self, a: &mut A) -> Result<(), A::Error> {
                match self {
                    $(EditOp::$variant { $($field),* } => a.$apply(self, $($field),*),)*
                }
            }
        }
    };
}

edit_ops! {
    /// A new directory `name` under `parent`.
    1 MKDIR Mkdir => apply_mkdir {
        id: u64,
        parent: u64,
        name: Vec<u8>,
        perm: u16,
        owner: String,
        group: String,
        mtime: i64,
    }
    /// A new file, open for writing by `client_name`.
    2 ADD_FILE AddFile => apply_add_file {
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
    }
    /// A new last block of `file` (under construction).
    3 ALLOC_BLOCK AllocBlock => apply_alloc_block { file: u64, block: u64, gs: u64 }
    /// A block's generation stamp and length (commit, fsync, pipeline update, recovery).
    4 UPDATE_BLOCK UpdateBlock => apply_update_block { block: u64, gs: u64, num_bytes: u64 }
    /// The last block of `file` is dropped.
    5 ABANDON_BLOCK AbandonBlock => apply_abandon_block { file: u64, block: u64 }
    /// `file` is closed: no longer under construction.
    6 CLOSE Close => apply_close { file: u64, mtime: i64, atime: i64 }
    /// `file` is opened again for writing (append, truncate recovery).
    7 REOPEN Reopen => apply_reopen { file: u64, client_name: String, client_machine: String }
    /// Inode `id` moves under `parent` as `name`; both parents get `mtime`.
    8 RENAME Rename => apply_rename { id: u64, parent: u64, name: Vec<u8>, mtime: i64 }
    /// Inode `id` and its subtree are removed; its parent gets `mtime`.
    9 DELETE Delete => apply_delete { id: u64, mtime: i64 }
    10 SET_REPLICATION SetReplication => apply_set_replication { id: u64, replication: u16 }
    11 SET_PERMISSION SetPermission => apply_set_permission { id: u64, perm: u16 }
    12 SET_OWNER SetOwner => apply_set_owner {
        id: u64,
        owner: Option<String>,
        group: Option<String>,
    }
    /// `-1` leaves a time unchanged.
    13 SET_TIMES SetTimes => apply_set_times { id: u64, mtime: i64, atime: i64 }
    /// The blocks of `srcs` are appended to `target` and the sources removed.
    14 CONCAT Concat => apply_concat { target: u64, srcs: Vec<u64>, mtime: i64 }
    /// `file` keeps its first `keep_blocks` blocks, the last of them `last_len` bytes long.
    15 TRUNCATE Truncate => apply_truncate {
        file: u64,
        keep_blocks: u32,
        last_len: u64,
        mtime: i64,
    }
    /// The lease on `file` passes to `client_name` (lease recovery).
    16 REASSIGN_LEASE ReassignLease => apply_reassign_lease { file: u64, client_name: String }
    /// The generation stamp counter reaches `gs` (a stamp handed out without a block
    /// change: updateBlockForPipeline, recovery ids).
    17 SET_GENSTAMP SetGenstamp => apply_set_genstamp { gs: u64 }
    /// Attribute `name` in namespace `ns` (`XAttrNamespaceProto` value) of inode `id` is
    /// set to `value` (added or replaced).
    18 SET_XATTR SetXAttr => apply_set_xattr { id: u64, ns: u8, name: String, value: Vec<u8> }
    /// Attribute `name` in namespace `ns` of inode `id` is removed.
    19 REMOVE_XATTR RemoveXAttr => apply_remove_xattr { id: u64, ns: u8, name: String }
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
            EditOp::SetXAttr {
                id: 16387,
                ns: 0,
                name: "tag".into(),
                value: b"v\x00\xff".to_vec(),
            },
            EditOp::RemoveXAttr {
                id: 16387,
                ns: 1,
                name: "t".into(),
            },
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

    /// The encoding of `samples()` as written before the op table existed (layout 1,
    /// field by field per `docs/design/editlog.md`): existing edit logs stay readable.
    const LAYOUT_1_SAMPLES_HEX: &[&str] = &[
            "01024000000000000001400000000000000400000075736572ed0105000000616c6963650a000000737570657267726f75700068e5cf8b010000",
            "02034000000000000002400000000000000100000066a40105000000616c6963650a000000737570657267726f75700500000000000000030000000008000000000b000000444653436c69656e745f310800000031302e302e302e31",
            "0303400000000000000000004000000000e903000000000000",
            "040000004000000000ea030000000000004d00000000000000",
            "0501000000000000000200000000000000",
            "06034000000000000009000000000000000900000000000000",
            "0703400000000000000100000063010000006d",
            "080340000000000000014000000000000001000000670a00000000000000",
            "0903400000000000000b00000000000000",
            "0a01000000000000000200",
            "0b0100000000000000ff03",
            "0c01000000000000000103000000626f6200",
            "0d0100000000000000ffffffffffffffff0400000000000000",
            "0e010000000000000002000000020000000000000003000000000000000c00000000000000",
            "0f01000000000000000200000064000000000000000d00000000000000",
            "1001000000000000000d000000484446535f4e616d654e6f6465",
            "11ed03000000000000",
    ];

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn encoding_is_byte_compatible_with_layout_1() {
        let all = samples();
        let old: Vec<&EditOp> = all
            .iter()
            .filter(|op| op.opcode() <= opcode::SET_GENSTAMP)
            .collect();
        assert_eq!(old.len(), LAYOUT_1_SAMPLES_HEX.len());
        for (op, want) in old.into_iter().zip(LAYOUT_1_SAMPLES_HEX) {
            let mut w = Writer::default();
            op.encode(&mut w);
            assert_eq!(&hex(&w.buf), want, "{}", op.name());
        }
    }

    #[test]
    fn every_opcode_has_a_sample_and_opcodes_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for &code in opcode::ALL {
            assert!(seen.insert(code), "opcode {code} declared twice");
        }
        let sampled: std::collections::BTreeSet<u8> =
            samples().iter().map(EditOp::opcode).collect();
        assert_eq!(sampled, seen, "every opcode needs a sample in samples()");
    }
}
