//! [`GenericOptions`]: Hadoop's `GenericOptionsParser` for the options every
//! command takes before its own.

use std::path::PathBuf;

use crate::{keys, Configuration, Error, Result};

/// The generic options found at the front of a command line, and the rest.
///
/// Recognised, as Hadoop's `GenericOptionsParser` does: `-D key=value` (also
/// `-Dkey=value`), `-conf <file>`, `-fs <uri>` (sets `fs.defaultFS`), and,
/// accepted and ignored with their value, `-jt`, `-files`, `-libjars`,
/// `-archives`, `-tokenCacheFile`. Parsing stops at the first other argument
/// (or after `--`); it and everything after it are returned in `rest`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenericOptions {
    /// `-D` definitions, in order.
    pub defines: Vec<(String, String)>,
    /// `-conf` files, in order.
    pub conf_files: Vec<PathBuf>,
    /// `-fs` URI.
    pub fs: Option<String>,
    /// The arguments after the generic options.
    pub rest: Vec<String>,
}

const IGNORED_WITH_VALUE: &[&str] = &["-jt", "-files", "-libjars", "-archives", "-tokenCacheFile"];

impl GenericOptions {
    /// Parses `args` (without the program name).
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<GenericOptions> {
        let mut opts = GenericOptions::default();
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--" => break,
                "-D" => {
                    let def = it.next().ok_or(Error::MissingArgument { option: "-D" })?;
                    opts.defines.push(split_define(&def)?);
                }
                "-conf" => {
                    let file = it
                        .next()
                        .ok_or(Error::MissingArgument { option: "-conf" })?;
                    opts.conf_files.push(PathBuf::from(file));
                }
                "-fs" => {
                    opts.fs = Some(it.next().ok_or(Error::MissingArgument { option: "-fs" })?);
                }
                a if IGNORED_WITH_VALUE.contains(&a) => {
                    let option = IGNORED_WITH_VALUE
                        .iter()
                        .find(|o| **o == a)
                        .copied()
                        .unwrap_or("-jt");
                    it.next().ok_or(Error::MissingArgument { option })?;
                    tracing::debug!(option = a, "generic option ignored");
                }
                a if a.starts_with("-D") && a.len() > 2 => {
                    opts.defines.push(split_define(&a[2..])?);
                }
                _ => {
                    opts.rest.push(arg);
                    break;
                }
            }
        }
        opts.rest.extend(it);
        Ok(opts)
    }

    /// Applies the options to `conf` in Hadoop's order: `-conf` files, then
    /// `-fs`, then `-D`.
    pub fn apply(&self, conf: &mut Configuration) -> Result<()> {
        for file in &self.conf_files {
            conf.add_resource(file)?;
        }
        if let Some(fs) = &self.fs {
            conf.set_with_source(keys::FS_DEFAULT_FS, fs, "-fs");
        }
        for (k, v) in &self.defines {
            conf.set_with_source(k, v, "-D");
        }
        Ok(())
    }
}

fn split_define(def: &str) -> Result<(String, String)> {
    match def.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(Error::BadDefine {
            arg: def.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<GenericOptions> {
        GenericOptions::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn namenode_example() {
        let o = parse(&[
            "-D",
            "dfs.namenode.name.dir=/tmp/nn",
            "-Ddfs.namenode.rpc-address=127.0.0.1:9000",
            "-format",
        ])
        .unwrap();
        assert_eq!(
            o.defines,
            vec![
                ("dfs.namenode.name.dir".into(), "/tmp/nn".into()),
                ("dfs.namenode.rpc-address".into(), "127.0.0.1:9000".into())
            ]
        );
        assert_eq!(o.rest, vec!["-format".to_string()]);
    }

    #[test]
    fn stops_at_first_non_option_and_keeps_the_rest() {
        let o = parse(&["-fs", "hdfs://h:1", "-jt", "local", "-ls", "-D", "x=y"]).unwrap();
        assert_eq!(o.fs.as_deref(), Some("hdfs://h:1"));
        assert!(o.defines.is_empty());
        assert_eq!(o.rest, vec!["-ls", "-D", "x=y"]);
        let o = parse(&["-files", "a,b", "--", "-D", "x=y"]).unwrap();
        assert_eq!(o.rest, vec!["-D", "x=y"]);
    }

    #[test]
    fn value_may_contain_equals() {
        let o = parse(&["-D", "k=a=b"]).unwrap();
        assert_eq!(o.defines, vec![("k".into(), "a=b".into())]);
    }

    #[test]
    fn errors() {
        assert!(matches!(
            parse(&["-D"]),
            Err(Error::MissingArgument { option: "-D" })
        ));
        assert!(matches!(
            parse(&["-conf"]),
            Err(Error::MissingArgument { option: "-conf" })
        ));
        assert!(matches!(
            parse(&["-libjars"]),
            Err(Error::MissingArgument { option: "-libjars" })
        ));
        assert!(matches!(
            parse(&["-D", "novalue"]),
            Err(Error::BadDefine { .. })
        ));
        assert!(matches!(parse(&["-D=x"]), Err(Error::BadDefine { .. })));
    }
}
