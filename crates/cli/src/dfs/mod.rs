//! `ferrodfs dfs`: Hadoop's `hadoop fs` (FsShell) for HDFS — the same command names,
//! flags, output formats, messages and exit codes.
//!
//! Generic options come first (`-D key=value`, `-conf file`, `-fs uri`), then one
//! command (`-ls`, `-put`, ...) and its arguments. Paths are `hdfs://host:port/path`
//! URIs, absolute paths on `fs.defaultFS`, or paths relative to `/user/<user>` (the
//! user from `HADOOP_USER_NAME`, else the process's user), with Hadoop's globs.
//!
//! With no `fs.defaultFS` configured anywhere, the NameNode is `127.0.0.1:8020`
//! (where `ferrodfs cluster` listens) instead of Hadoop's local file system.
//!
//! Exit status, as FsShell: 0 when every path succeeded, 1 when any failed (each
//! failure printed as `<cmd>: <message>` on stderr), 255 for a usage error (unknown
//! command or option, wrong number of arguments). `-test` answers with its status.
//!
//! Layout: [`path`] (arguments, globbing), [`format`] (Hadoop's text formats),
//! `ls.rs` (listing and reports), `copy.rs` (data in and out), `modify.rs`
//! (namespace changes), `help.rs` (usage text). Design notes: `docs/design/cli.md`.

mod copy;
pub mod format;
mod help;
mod ls;
mod modify;
pub mod path;

use ferrodfs_client::{ClientConf, DfsClient, Error, FileStatus};
use ferrodfs_conf::{keys, Configuration, GenericOptions};
use std::collections::HashMap;
use std::io::{self, Write};

/// The NameNode used when no `fs.defaultFS` is configured anywhere (Hadoop would
/// use the local file system): `ferrodfs cluster`'s default address.
pub const UNCONFIGURED_NAMENODE: &str = "127.0.0.1:8020";

/// FsShell's exit status for a usage error (`-1` as a process status).
pub const USAGE_EXIT: i32 = 255;

/// Runs `ferrodfs dfs <args>` and returns the process exit status.
pub fn run(args: Vec<String>) -> i32 {
    let opts = match GenericOptions::parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            help::print_usage(&mut io::stderr(), None);
            return USAGE_EXIT;
        }
    };
    let conf = match Configuration::load_from_env(&opts) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration: {e}");
            return 1;
        }
    };
    let mut rest = opts.rest.into_iter();
    let Some(cmd) = rest.next() else {
        help::print_usage(&mut io::stderr(), None);
        return USAGE_EXIT;
    };
    let args: Vec<String> = rest.collect();
    let mut shell = match Shell::new(conf) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let code = shell.dispatch(&cmd, args);
    let _ = shell.out.flush();
    code
}

/// What a command's option parsing or argument check rejected.
#[derive(Debug)]
pub struct UsageError(pub String);

/// A command's failure on one path: the text after `<cmd>: `.
pub type Failure = String;

/// The shell: configuration, clients per NameNode, output and error count.
pub struct Shell {
    pub conf: Configuration,
    default_authority: String,
    client_conf: ClientConf,
    clients: HashMap<String, DfsClient>,
    pub user: String,
    /// The working directory: `/user/<user>`.
    pub cwd: String,
    pub out: io::BufWriter<io::Stdout>,
    /// The running command's name (without `-`), for messages.
    pub name: &'static str,
    errors: u32,
    /// Set by commands that answer with their status (`-test`).
    pub exit_code: i32,
}

/// One path being processed (Hadoop's `PathData`).
#[derive(Debug, Clone)]
pub struct Item {
    pub fs: DfsClient,
    /// `hdfs://authority` of `fs` (Hadoop's `FileSystem.getUri()`).
    pub fs_uri: String,
    /// As shown in output and messages.
    pub display: String,
    /// Absolute path on `fs`.
    pub path: String,
    pub stat: Option<FileStatus>,
}

impl Item {
    pub fn is_dir(&self) -> bool {
        self.stat.as_ref().is_some_and(FileStatus::is_dir)
    }

    /// This item's entries, as items (display `parent/name`).
    pub fn children(&self) -> Result<Vec<Item>, Error> {
        Ok(self
            .fs
            .list(&self.path)?
            .into_iter()
            .map(|st| self.child(st))
            .collect())
    }

    pub fn child(&self, st: FileStatus) -> Item {
        Item {
            fs: self.fs.clone(),
            fs_uri: self.fs_uri.clone(),
            display: path::child_display(&self.display, &st.name),
            path: path::join(&self.path, &st.name),
            stat: Some(st),
        }
    }

    /// An item for `name` under this (directory) item, stat looked up.
    pub fn join(&self, name: &str) -> Result<Item, Error> {
        let p = path::join(&self.path, name);
        let stat = stat_opt(&self.fs, &p)?;
        Ok(Item {
            fs: self.fs.clone(),
            fs_uri: self.fs_uri.clone(),
            display: path::child_display(&self.display, name),
            path: p,
            stat,
        })
    }
}

/// `status`, with a missing path as `None`.
pub fn stat_opt(fs: &DfsClient, path: &str) -> Result<Option<FileStatus>, Error> {
    match fs.status(path) {
        Ok(s) => Ok(Some(s)),
        Err(Error::FileNotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `` `path': No such file or directory `` and friends (Hadoop's `PathIOException`s).
pub fn not_found(d: &str) -> Failure {
    format!("`{d}': No such file or directory")
}
pub fn exists(d: &str) -> Failure {
    format!("`{d}': File exists")
}
pub fn is_a_dir(d: &str) -> Failure {
    format!("`{d}': Is a directory")
}
pub fn not_a_dir(d: &str) -> Failure {
    format!("`{d}': Is not a directory")
}

/// A client error on the item displayed as `d`, as FsShell prints it.
pub fn client_failure(e: &Error, d: &str) -> Failure {
    let first_line = |s: &str| s.lines().next().unwrap_or("").to_owned();
    match e {
        Error::FileNotFound { .. } => not_found(d),
        Error::FileAlreadyExists { .. } => exists(d),
        Error::PathIsNotEmptyDirectory { .. } => format!("`{d}': Directory is not empty"),
        Error::ParentNotDirectory { .. } => not_a_dir(d),
        Error::AccessControl { message, .. } => first_line(message),
        Error::AlreadyBeingCreated { message, .. } => first_line(message),
        Error::SafeMode { message } => first_line(message),
        Error::Rpc { source, .. } => match source {
            ferrodfs_ipc::Error::Remote(r) | ferrodfs_ipc::Error::Fatal(r) => {
                first_line(&r.message)
            }
            other => first_line(&other.to_string()),
        },
        other => first_line(&other.to_string()),
    }
}

/// Parsed options of one command (Hadoop's `CommandFormat`).
#[derive(Debug, Default)]
pub struct Opts {
    flags: Vec<String>,
    values: HashMap<String, String>,
}

impl Opts {
    pub fn has(&self, f: &str) -> bool {
        self.flags.iter().any(|x| x == f)
    }
    pub fn value(&self, f: &str) -> Option<&str> {
        self.values.get(f).map(String::as_str)
    }
}

/// Takes the leading options off `args`: flags (whole words after `-`), options
/// with a value, stopping at the first non-option, `-` or `--`; then checks the
/// argument count.
pub fn parse_opts(
    args: &mut Vec<String>,
    flags: &[&str],
    with_value: &[&str],
    min: usize,
    max: usize,
) -> Result<Opts, UsageError> {
    let mut opts = Opts::default();
    while let Some(a) = args.first() {
        if !a.starts_with('-') || a == "-" {
            break;
        }
        if a == "--" {
            args.remove(0);
            break;
        }
        let o = a[1..].to_owned();
        if flags.contains(&o.as_str()) {
            args.remove(0);
            opts.flags.push(o);
        } else if with_value.contains(&o.as_str()) {
            if args.len() < 2 {
                return Err(UsageError(format!("Missing value for option {a}")));
            }
            let v = args.remove(1);
            args.remove(0);
            opts.values.insert(o, v);
        } else {
            return Err(UsageError(format!("Illegal option {a}")));
        }
    }
    if args.len() < min {
        return Err(UsageError(format!(
            "Not enough arguments: expected {min} but got {}",
            args.len()
        )));
    }
    if args.len() > max {
        return Err(UsageError(format!(
            "Too many arguments: expected {max} but got {}",
            args.len()
        )));
    }
    Ok(opts)
}

impl Shell {
    pub fn new(conf: Configuration) -> Result<Shell, String> {
        let fs = conf
            .get_trimmed(keys::FS_DEFAULT_FS)
            .map_err(|e| e.to_string())?
            .unwrap_or_else(|| "file:///".into());
        let authority = fs
            .get(..7)
            .filter(|s| s.eq_ignore_ascii_case("hdfs://"))
            .map(|_| fs[7..].trim_end_matches('/').to_owned());
        let mut client_conf = ClientConf::from_configuration(&conf).map_err(|e| e.to_string())?;
        let user = ferrodfs_ipc::client::current_user();
        client_conf.user = user.clone();
        let default_authority = match authority {
            Some(a) => a,
            // No hdfs:// default: dfs.namenode.rpc-address, as DfsClient does.
            None => match conf.namenode_rpc_address() {
                Ok(Some(hp)) => format!("{}:{}", hp.host, hp.port),
                // Nothing configured at all: where `ferrodfs cluster` listens.
                _ if conf.source(keys::FS_DEFAULT_FS) == Some("default") => {
                    UNCONFIGURED_NAMENODE.to_owned()
                }
                _ => String::new(),
            },
        };
        Ok(Shell {
            default_authority,
            client_conf,
            clients: HashMap::new(),
            cwd: format!("/user/{user}"),
            user,
            conf,
            out: io::BufWriter::with_capacity(64 * 1024, io::stdout()),
            name: "",
            errors: 0,
            exit_code: 0,
        })
    }

    /// The client of the NameNode at `authority` (`None`: the default one).
    pub fn client(&mut self, authority: Option<&str>) -> Result<DfsClient, Failure> {
        let auth = authority.unwrap_or(&self.default_authority).to_owned();
        if auth.is_empty() {
            return Err("fs.defaultFS is not an hdfs:// URI; use -fs hdfs://host:port".into());
        }
        if let Some(c) = self.clients.get(&auth) {
            return Ok(c.clone());
        }
        let c = DfsClient::connect(&format!("hdfs://{auth}"), self.client_conf.clone())
            .map_err(|e| e.to_string())?;
        self.clients.insert(auth, c.clone());
        Ok(c)
    }

    /// `hdfs://authority` of the NameNode at `authority` (`None`: the default).
    pub fn fs_uri(&self, authority: Option<&str>) -> String {
        format!("hdfs://{}", authority.unwrap_or(&self.default_authority))
    }

    /// Prints `<cmd>: <message>` on stderr and counts an error.
    pub fn error(&mut self, msg: impl AsRef<str>) {
        self.errors += 1;
        self.warn(msg);
    }

    /// Prints `<cmd>: <message>` on stderr.
    pub fn warn(&mut self, msg: impl AsRef<str>) {
        let _ = self.out.flush();
        eprintln!("{}: {}", self.name, msg.as_ref());
    }

    /// The item for a path that need not exist (a destination): no globbing.
    pub fn item(&mut self, arg: &str) -> Result<Item, Failure> {
        let p = path::parse(arg, &self.cwd)?;
        let fs = self.client(p.authority.as_deref())?;
        let stat = stat_opt(&fs, &p.path).map_err(|e| client_failure(&e, arg))?;
        let display = match stat {
            Some(_) => path::display_of(&p.form, &self.cwd, &p.path),
            None => arg.to_owned(),
        };
        Ok(Item {
            fs_uri: self.fs_uri(p.authority.as_deref()),
            fs,
            display,
            path: p.path,
            stat,
        })
    }

    /// Expands one argument (Hadoop's `expandArgument`): glob matches, or the path
    /// itself with no status when it is not a glob and does not exist.
    pub fn expand(&mut self, arg: &str) -> Result<Vec<Item>, Failure> {
        let p = path::parse(arg, &self.cwd)?;
        let fs = self.client(p.authority.as_deref())?;
        // Glob on the raw path so `..` inside braces is not collapsed early.
        let pattern = if path::has_glob(arg) {
            path::join(&self.cwd, &p.raw)
        } else {
            p.path.clone()
        };
        match path::glob(&fs, &pattern).map_err(|e| client_failure(&e, arg))? {
            None => Ok(vec![Item {
                fs_uri: self.fs_uri(p.authority.as_deref()),
                fs,
                display: path::unescape(arg),
                path: path::unescape(&p.path),
                stat: None,
            }]),
            Some(v) if v.is_empty() => Err(not_found(arg)),
            Some(v) => Ok(v
                .into_iter()
                .map(|(path, st)| Item {
                    fs: fs.clone(),
                    fs_uri: self.fs_uri(p.authority.as_deref()),
                    display: path::display_of(&p.form, &self.cwd, &path),
                    path,
                    stat: Some(st),
                })
                .collect()),
        }
    }

    /// Expands every argument; a failed expansion is reported and skipped.
    pub fn expand_all(&mut self, args: &[String]) -> Vec<Item> {
        let mut out = Vec::new();
        for a in args {
            match self.expand(a) {
                Ok(items) => out.extend(items),
                Err(e) => self.error(e),
            }
        }
        out
    }

    /// Runs `f` on every existing item of every argument; a missing one is
    /// `No such file or directory`.
    pub fn for_each_existing(
        &mut self,
        args: &[String],
        mut f: impl FnMut(&mut Shell, &Item) -> Result<(), Failure>,
    ) {
        for item in self.expand_all(args) {
            let r = if item.stat.is_none() {
                Err(not_found(&item.display))
            } else {
                f(self, &item)
            };
            if let Err(e) = r {
                self.error(e);
            }
        }
    }

    fn dispatch(&mut self, cmd: &str, mut args: Vec<String>) -> i32 {
        let Some(spec) = help::find(cmd) else {
            let _ = self.out.flush();
            eprintln!("{cmd}: Unknown command");
            help::print_usage(&mut io::stderr(), None);
            return USAGE_EXIT;
        };
        self.name = spec.name;
        let r = match spec.name {
            "ls" | "lsr" => ls::ls(self, &mut args, spec.name == "lsr"),
            "du" | "dus" => ls::du(self, &mut args, spec.name == "dus"),
            "df" => ls::df(self, &mut args),
            "count" => ls::count(self, &mut args),
            "stat" => ls::stat(self, &mut args),
            "test" => ls::test(self, &mut args),
            "checksum" => ls::checksum(self, &mut args),
            "cat" => copy::cat(self, &mut args, false),
            "text" => copy::cat(self, &mut args, true),
            "head" => copy::head(self, &mut args),
            "tail" => copy::tail(self, &mut args),
            "put" | "copyFromLocal" | "moveFromLocal" => copy::put(self, &mut args),
            "get" | "copyToLocal" => copy::get(self, &mut args),
            "cp" => copy::cp(self, &mut args),
            "appendToFile" => copy::append_to_file(self, &mut args),
            "mv" => modify::mv(self, &mut args),
            "mkdir" => modify::mkdir(self, &mut args),
            "rm" | "rmr" => modify::rm(self, &mut args, spec.name == "rmr"),
            "rmdir" => modify::rmdir(self, &mut args),
            "touchz" => modify::touchz(self, &mut args),
            "setrep" => modify::setrep(self, &mut args),
            "chmod" => modify::chmod(self, &mut args),
            "chown" => modify::chown(self, &mut args, false),
            "chgrp" => modify::chown(self, &mut args, true),
            "help" => {
                help::print_help(&mut self.out, &args);
                Ok(())
            }
            "usage" => {
                help::print_usage_of(&mut self.out, &args);
                Ok(())
            }
            _ => unreachable!("every command in help::COMMANDS is dispatched"),
        };
        if let Err(UsageError(msg)) = r {
            let _ = self.out.flush();
            eprintln!("-{}: {msg}", spec.name);
            help::print_usage(&mut io::stderr(), None);
            help::print_usage(&mut io::stderr(), Some(spec));
            return USAGE_EXIT;
        }
        let _ = self.out.flush();
        if self.errors > 0 {
            1
        } else {
            self.exit_code
        }
    }
}
