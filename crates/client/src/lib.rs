//! The ferrodfs HDFS client: [`DfsClient`] for namespace calls, the output stream
//! (a DataStreamer thread and a ResponseProcessor thread per block, as in Hadoop's
//! `DFSOutputStream`) and the input stream.
#![forbid(unsafe_code)]

pub mod config;
mod error;
pub mod output;

pub use config::ClientConf;
pub use error::{Error, Result};
