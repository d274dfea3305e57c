//! Hadoop's `Configuration`, as every ferrodfs binary needs it.
//!
//! A [`Configuration`] maps keys to string values, loaded in Hadoop's order:
//!
//! 1. the built-in defaults ([`keys::DEFAULTS`], Hadoop's values from
//!    `core-default.xml` / `hdfs-default.xml` for the keys ferrodfs reads);
//! 2. `core-site.xml`, then `hdfs-site.xml` from the configuration directory
//!    (`HADOOP_CONF_DIR`), when present;
//! 3. files named with `-conf <file>`;
//! 4. `-D key=value` overrides.
//!
//! A property marked `<final>true</final>` in a resource is not overridden by
//! a later *resource* (a warning is logged); like Hadoop's
//! `Configuration.set`, [`Configuration::set`] (and so `-D`) always wins.
//! Values are expanded on read: `${key}` takes another key's value, or a system
//! property (`user.name`, `user.home`, `user.dir`, `java.io.tmpdir`), or
//! `${env.NAME}` an environment variable; an unknown variable is left as is,
//! and more than [`MAX_SUBST_DEPTH`] expansions is an error.
//!
//! Typed getters follow Hadoop's parsers: [`Configuration::get_size`] is
//! `getLongBytes` (`128m`, `1g`), [`Configuration::get_duration`] is
//! `getTimeDuration` (`3s`, `500ms`; a bare number is read in the key's unit
//! from [`keys::DEFAULTS`]). Unknown keys are kept and ignored.
//!
//! # Example
//!
//! ```
//! use ferrodfs_conf::{keys, Configuration, GenericOptions};
//!
//! let args = ["-D", "dfs.replication=2", "-fs", "hdfs://nn:9000", "-format"];
//! let opts = GenericOptions::parse(args.iter().map(|s| s.to_string())).unwrap();
//! assert_eq!(opts.rest, vec!["-format".to_string()]);
//!
//! let mut conf = Configuration::new();
//! opts.apply(&mut conf).unwrap();
//! assert_eq!(conf.get_u64(keys::DFS_REPLICATION, 3).unwrap(), 2);
//! assert_eq!(conf.get_size(keys::DFS_BLOCK_SIZE, 0).unwrap(), 128 << 20);
//! let nn = conf.namenode_rpc_address().unwrap().unwrap();
//! assert_eq!((nn.host.as_str(), nn.port), ("nn", 9000));
//! ```
#![forbid(unsafe_code)]

mod config;
pub mod keys;
mod options;
mod values;

use std::path::PathBuf;

pub use config::{Configuration, HostPort, MAX_SUBST_DEPTH};
pub use options::GenericOptions;
pub use values::{parse_duration, parse_size, TimeUnit};

/// Everything that can go wrong loading or reading a configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A configuration file is not well-formed XML.
    #[error("malformed XML in {path}: {source}")]
    Xml {
        /// The file.
        path: PathBuf,
        /// The parser's complaint, with line and column.
        source: roxmltree::Error,
    },
    /// A configuration file is XML but not a Hadoop configuration.
    #[error("{path}: {what}")]
    BadResource {
        /// The file.
        path: PathBuf,
        /// What is wrong (e.g. "root element is not <configuration>").
        what: &'static str,
    },
    /// A value could not be parsed as the type asked for.
    #[error("invalid value {value:?} for {key}: expected {expected}")]
    InvalidValue {
        /// The key.
        key: String,
        /// The (expanded) value.
        value: String,
        /// What was expected ("a boolean", "a size like 128m", ...).
        expected: &'static str,
    },
    /// `${...}` expansion went deeper than [`MAX_SUBST_DEPTH`].
    #[error("variable substitution depth too large expanding {key}: {value:?}")]
    SubstitutionDepth {
        /// The key being read.
        key: String,
        /// The raw value.
        value: String,
    },
    /// A generic option needs an argument and got none.
    #[error("option {option} needs an argument")]
    MissingArgument {
        /// The option (`-D`, `-conf`, `-fs`, ...).
        option: &'static str,
    },
    /// `-D` was given something other than `key=value`.
    #[error("-D expects key=value, got {arg:?}")]
    BadDefine {
        /// The argument.
        arg: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
