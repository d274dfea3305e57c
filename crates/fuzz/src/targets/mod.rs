//! The fuzz targets: one `fn(&[u8])` per decoder family, each with the allocation bound
//! its runs are held to ([`TARGETS`]). A target panics on a bug (a broken invariant);
//! [`run_checked`] adds the allocation check.

pub mod editlog;
pub mod namenode;
pub mod rpc;
pub mod transfer;

use crate::alloc::{self, AllocBound};

/// One fuzz target.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// Its name: the corpus directory `corpus/<name>/` and the argument of the runners.
    pub name: &'static str,
    pub run: fn(&[u8]),
    /// The largest single allocation a run may make.
    pub bound: AllocBound,
    /// Whether one-time set-up (a NameNode) should happen before the first measured run.
    pub warm_up: Option<fn()>,
}

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// Decoders of wire bytes: working buffers that grow in 64 KiB steps (a `BytesMut` may
/// double one of them once: 128 KiB, plus slack), and a few copies of the input. A
/// buffer reserved from a length field (1 MiB op message, 16 MiB packet, 128 MiB frame)
/// is over it.
const WIRE: AllocBound = AllocBound {
    fixed: 256 * KIB,
    per_input_byte: 8,
};

/// The in-memory NameNode's tables grow (and reallocate) as a run creates files and
/// blocks; their size is the NameNode's, not the input's. 64 MiB covers the namespace a
/// run of millions of calls builds (a 6 MiB inode-table reallocation was seen after
/// 6.4 M calls); the allocations the issue is about are GiBs.
const NAMENODE: AllocBound = AllocBound {
    fixed: 64 * MIB,
    per_input_byte: 32,
};

/// A decoded block list holds one 32-byte entry per replica, each at least 4 bytes of
/// input (4 varints).
const BLOCK_LIST: AllocBound = AllocBound {
    fixed: 64 * KIB,
    per_input_byte: 16,
};

/// Every target, in the order the docs list them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "rpc_frame",
        run: rpc::rpc_frame,
        bound: WIRE,
        warm_up: None,
    },
    Target {
        name: "rpc_connection",
        run: rpc::rpc_connection,
        bound: WIRE,
        warm_up: None,
    },
    Target {
        name: "namenode_rpc",
        run: namenode::namenode_rpc,
        bound: NAMENODE,
        warm_up: Some(namenode::warm_up),
    },
    Target {
        name: "client_protocol",
        run: namenode::client_protocol,
        bound: NAMENODE,
        warm_up: Some(namenode::warm_up),
    },
    Target {
        name: "datanode_protocol",
        run: namenode::datanode_protocol,
        bound: NAMENODE,
        warm_up: Some(namenode::warm_up),
    },
    Target {
        name: "block_report",
        run: namenode::block_report,
        bound: BLOCK_LIST,
        warm_up: None,
    },
    Target {
        name: "transfer_op",
        run: transfer::transfer_op,
        bound: WIRE,
        warm_up: None,
    },
    Target {
        name: "transfer_packet",
        run: transfer::transfer_packet,
        bound: WIRE,
        warm_up: None,
    },
    Target {
        name: "pipeline_ack",
        run: transfer::pipeline_ack,
        bound: WIRE,
        warm_up: None,
    },
    Target {
        name: "editlog_op",
        run: editlog::editlog_op,
        bound: WIRE,
        warm_up: None,
    },
    Target {
        name: "editlog_segment",
        run: editlog::editlog_segment,
        bound: WIRE,
        warm_up: None,
    },
    Target {
        name: "image",
        run: editlog::image,
        // The dense inode table for ids up to `editlog::MAX_NEXT_INODE_ID`, doubled.
        bound: AllocBound {
            fixed: 16 * MIB,
            per_input_byte: 32,
        },
        warm_up: None,
    },
];

/// The target called `name`.
pub fn find(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// Runs `target` on `input` and panics if a single allocation exceeded its bound.
pub fn run_checked(target: &Target, input: &[u8]) {
    let ((), largest) = alloc::measure(|| (target.run)(input));
    let bound = target.bound.for_len(input.len());
    assert!(
        largest <= bound,
        "{}: a single allocation of {largest} bytes for a {}-byte input (bound {bound})",
        target.name,
        input.len()
    );
}
