//! Hadoop's Java client (hadoop-client-api + -runtime 3.3.4) driven from Rust: a
//! small program (`src/java/BenchIo.java`) compiled with `javac` at bench time and
//! kept running, so every write and read is timed inside a warm JVM and JVM
//! start-up is excluded. Commands go to its stdin, one a line; it answers one line
//! each (see the program's header).
//!
//! The jars come from `$FERRODFS_HADOOP_JARS`, or the cache `ferrodfs-testkit`
//! fills from PyPI's pyspark 3.5.3 sdist (`target/interop-cache/hadoop-jars`).

use crate::{Error, Pattern, Result};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SOURCE: &str = include_str!("java/BenchIo.java");
/// How long one command may take before the JVM is declared hung.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(900);

const LOG4J2_QUIET: &str = "rootLogger.level = warn\n\
rootLogger.appenderRef.stderr.ref = STDERR\n\
appender.stderr.type = Console\n\
appender.stderr.name = STDERR\n\
appender.stderr.target = SYSTEM_ERR\n\
appender.stderr.layout.type = PatternLayout\n\
appender.stderr.layout.pattern = %d{HH:mm:ss.SSS} %p %c{1}: %m%n\n";

fn java_error(message: impl Into<String>) -> Error {
    Error::Java {
        message: message.into(),
    }
}

/// The directory with the Hadoop jars, without fetching: `$FERRODFS_HADOOP_JARS` or
/// the interop cache if it holds every jar; otherwise testkit fetches them (pip).
fn jars_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("FERRODFS_HADOOP_JARS").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        if let Some(missing) = ferrodfs_testkit::HADOOP_JARS
            .iter()
            .find(|j| !dir.join(j).exists())
        {
            return Err(java_error(format!(
                "FERRODFS_HADOOP_JARS={} has no {missing}",
                dir.display()
            )));
        }
        return Ok(dir);
    }
    let cached = ferrodfs_testkit::interop_cache_dir().join("hadoop-jars");
    if ferrodfs_testkit::HADOOP_JARS
        .iter()
        .all(|j| cached.join(j).exists())
    {
        return Ok(cached);
    }
    std::panic::catch_unwind(ferrodfs_testkit::hadoop_jars_dir).map_err(|_| {
        java_error(
            "the Hadoop jars are not cached and could not be fetched \
             (pip download pyspark==3.5.3); set FERRODFS_HADOOP_JARS",
        )
    })
}

/// A running JVM with the bench program.
#[derive(Debug)]
pub struct JavaClient {
    child: Child,
    stdin: ChildStdin,
    answers: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl JavaClient {
    /// Compiles the program and starts it against `default_fs` as `user`, writing
    /// `pattern`'s bytes. Any error means the Java client cannot run here (no `javac`,
    /// no jars, a JVM that does not start): callers report it as skipped.
    pub fn start(default_fs: &str, user: &str, pattern: &Pattern) -> Result<JavaClient> {
        let jars = jars_dir()?;
        let dir = tempfile::Builder::new()
            .prefix("ferrodfs-bench-java")
            .tempdir()?;
        let src = dir.path().join("BenchIo.java");
        std::fs::write(&src, SOURCE)?;
        std::fs::write(dir.path().join("log4j2.properties"), LOG4J2_QUIET)?;
        let pattern_file = dir.path().join("pattern.bin");
        std::fs::write(&pattern_file, pattern.at(0, Pattern::PIECE))?;
        let jar_glob = format!("{}/*", jars.display());
        let javac = Command::new("javac")
            .arg("-nowarn")
            .arg("-cp")
            .arg(&jar_glob)
            .arg("-d")
            .arg(dir.path())
            .arg(&src)
            .output()
            .map_err(|e| java_error(format!("cannot run javac ({e}): install a JDK")))?;
        if !javac.status.success() {
            let stderr = String::from_utf8_lossy(&javac.stderr);
            let head: Vec<&str> = stderr.lines().take(4).collect();
            return Err(java_error(format!("javac failed: {}", head.join(" | "))));
        }
        let classpath = format!("{}:{jar_glob}", dir.path().display());
        let mut child = Command::new("java")
            .arg("-cp")
            .arg(classpath)
            .arg("BenchIo")
            .arg(default_fs)
            .arg(&pattern_file)
            .env("HADOOP_USER_NAME", user)
            .env_remove("HADOOP_CONF_DIR")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| java_error(format!("cannot run java ({e})")))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            return Err(java_error("no pipes to the JVM"));
        };
        let (tx, answers) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("java bench stdout".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })?;
        let err_text = Arc::new(Mutex::new(String::new()));
        let sink = err_text.clone();
        std::thread::Builder::new()
            .name("java bench stderr".into())
            .spawn(move || drain_stderr(stderr, &sink))?;
        let mut client = JavaClient {
            child,
            stdin,
            answers,
            stderr: err_text,
            _dir: dir,
        };
        let ready = client.answer()?;
        if ready != "ready" {
            return Err(client.failure(&ready));
        }
        Ok(client)
    }

    fn answer(&mut self) -> Result<String> {
        match self.answers.recv_timeout(ANSWER_TIMEOUT) {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                Err(self.failure("no answer in time (JVM killed)"))
            }
            Err(RecvTimeoutError::Disconnected) => Err(self.failure("the JVM exited")),
        }
    }

    fn failure(&self, what: &str) -> Error {
        let stderr = self.stderr.lock().map(|s| s.clone()).unwrap_or_default();
        java_error(format!("{what}; stderr: {}", stderr.trim()))
    }

    /// Sends one command; returns the numbers after `ok`.
    fn command(&mut self, line: &str) -> Result<Vec<u64>> {
        writeln!(self.stdin, "{line}")?;
        self.stdin.flush()?;
        let answer = self.answer()?;
        let Some(rest) = answer.strip_prefix("ok ") else {
            return Err(self.failure(&answer));
        };
        rest.split_whitespace()
            .map(|n| n.parse().map_err(|_| self.failure(&answer)))
            .collect()
    }

    /// Writes `size` bytes to `path` (overwriting); the time the JVM measured.
    pub fn write(
        &mut self,
        path: &str,
        size: u64,
        block_size: u64,
        replication: u16,
    ) -> Result<Duration> {
        let got = self.command(&format!("write {path} {size} {block_size} {replication}"))?;
        let nanos = got
            .first()
            .copied()
            .ok_or_else(|| self.failure("no time"))?;
        Ok(Duration::from_nanos(nanos))
    }

    /// Reads `path` to its end; the time the JVM measured and the bytes read.
    pub fn read(&mut self, path: &str) -> Result<(Duration, u64)> {
        let got = self.command(&format!("read {path}"))?;
        match got[..] {
            [nanos, bytes] => Ok((Duration::from_nanos(nanos), bytes)),
            _ => Err(self.failure("bad read answer")),
        }
    }

    /// The JVM's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Deletes `path`.
    pub fn delete(&mut self, path: &str) -> Result<()> {
        self.command(&format!("delete {path}")).map(drop)
    }
}

fn drain_stderr(mut from: impl Read, sink: &Mutex<String>) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        if let Ok(mut s) = sink.lock() {
            s.push_str(&String::from_utf8_lossy(&buf[..n]));
            // Keep the tail: the last 16 KiB say what went wrong.
            if s.len() > 32 * 1024 {
                let mut cut = s.len() - 16 * 1024;
                while !s.is_char_boundary(cut) {
                    cut += 1;
                }
                s.drain(..cut);
            }
        }
    }
}

impl Drop for JavaClient {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
