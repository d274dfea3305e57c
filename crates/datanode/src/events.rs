//! The seam between the data-transfer server and the NameNode actor: block
//! events for incremental block reports (`IncrementalBlockReportProto`'s
//! RECEIVING_BLOCK, RECEIVED_BLOCK, DELETED_BLOCK).
//!
//! The server calls a [`BlockEventListener`] from its transfer threads as
//! replicas come and go; the NameNode actor (issue 5, item 3) implements it,
//! typically by posting to its own loop. A `std::sync::mpsc::Sender<BlockEvent>`
//! is a listener, so the simplest actor just drains a channel:
//!
//! ```
//! use std::sync::{mpsc, Arc};
//! use ferrodfs_datanode::{BlockEvent, BlockEventListener};
//!
//! let (tx, rx) = mpsc::channel::<BlockEvent>();
//! let listener: Arc<dyn BlockEventListener> = Arc::new(tx);
//! listener.on_block_event(BlockEvent::Deleted {
//!     pool_id: "BP-1".into(),
//!     block_id: 7,
//!     storage_id: "DS-1".into(),
//! });
//! assert!(matches!(rx.recv().unwrap(), BlockEvent::Deleted { block_id: 7, .. }));
//! ```

use std::sync::mpsc;

/// A change the NameNode must learn of before the next full block report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockEvent {
    /// A replica began to be written (RBW created, appended or recovered).
    Receiving {
        /// Block pool.
        pool_id: String,
        /// Block id.
        block_id: i64,
        /// Generation stamp.
        gen_stamp: u64,
        /// Bytes on disk so far.
        num_bytes: u64,
        /// Storage (volume) holding it.
        storage_id: String,
    },
    /// A replica was finalized (pipeline closed, close recovery, replication
    /// or transfer received).
    Received {
        /// Block pool.
        pool_id: String,
        /// Block id.
        block_id: i64,
        /// Generation stamp.
        gen_stamp: u64,
        /// Final length.
        num_bytes: u64,
        /// Storage (volume) holding it.
        storage_id: String,
        /// For a block moved here: the node that may delete its copy
        /// (`delHint`); empty otherwise.
        del_hint: String,
    },
    /// A replica was deleted (invalidated).
    Deleted {
        /// Block pool.
        pool_id: String,
        /// Block id.
        block_id: i64,
        /// Storage (volume) that held it.
        storage_id: String,
    },
}

/// Receives [`BlockEvent`]s. Called from transfer threads: must be cheap and
/// must not block on network I/O.
pub trait BlockEventListener: Send + Sync {
    /// One event.
    fn on_block_event(&self, event: BlockEvent);
}

impl BlockEventListener for mpsc::Sender<BlockEvent> {
    fn on_block_event(&self, event: BlockEvent) {
        // A dropped receiver means nobody listens any more: nothing to do.
        let _ = self.send(event);
    }
}

/// A listener that drops every event (a DataNode with no NameNode yet).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEvents;

impl BlockEventListener for NoEvents {
    fn on_block_event(&self, _event: BlockEvent) {}
}
