//! The write path.
//!
//! * [`packet`]: the packetizer (chunks, packets, block boundaries);
//! * [`queue`]: `dataQueue` + `ackQueue` and the pipeline's error state.

pub mod packet;
pub mod queue;
