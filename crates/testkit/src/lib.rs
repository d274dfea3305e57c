//! Test support for ferrodfs: run the HDFS clients that nobody here wrote against
//! our servers.
//!
//! * [`go_hdfs`] runs colinmarc's Go `hdfs` command (Debian package `hdfs-cli`) with
//!   `HADOOP_NAMENODE` pointing at a NameNode address.
//! * [`java_fs_shell`] runs Hadoop 3.3.4's own `org.apache.hadoop.fs.FsShell` (the
//!   `hadoop fs` command) with the machine's Java, using the `hadoop-client-api` and
//!   `hadoop-client-runtime` jars that PyPI's `pyspark==3.5.3` source distribution
//!   ships. The jars are fetched once with `pip download` into
//!   `target/interop-cache/` (or taken from `$FERRODFS_HADOOP_JARS`).
//!
//! Both return a [`CmdOutput`] and kill the client after a timeout, so a server that
//! hangs fails the test instead of stalling the suite. A missing tool is a test
//! failure with instructions, never a silent skip: `.ci/run` installs them.
#![forbid(unsafe_code)]

mod process;

pub use process::{run_with_timeout, CmdOutput};

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

/// How long a client command may run before it is killed.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);

/// The Hadoop jars FsShell needs, as named inside the pyspark 3.5.3 sdist's `deps/jars/`.
pub const HADOOP_JARS: &[&str] = &[
    "hadoop-client-api-3.3.4.jar",
    "hadoop-client-runtime-3.3.4.jar",
    "commons-logging-1.1.3.jar",
    "slf4j-api-2.0.7.jar",
    "log4j-slf4j2-impl-2.20.0.jar",
    "log4j-api-2.20.0.jar",
    "log4j-core-2.20.0.jar",
    "log4j-1.2-api-2.20.0.jar",
];

const PYSPARK_SDIST: &str = "pyspark-3.5.3.tar.gz";

/// Runs the Go `hdfs` command against the NameNode at `namenode` as `user`.
///
/// # Panics
/// If the `hdfs` binary is missing (install Debian's `hdfs-cli`, as `.ci/run` does).
pub fn go_hdfs(namenode: SocketAddr, user: &str, args: &[&str]) -> CmdOutput {
    let conf_dir = tempfile::tempdir().expect("temp dir for an empty HADOOP_CONF_DIR");
    let mut cmd = Command::new(go_hdfs_binary());
    cmd.args(args)
        .env("HADOOP_NAMENODE", namenode.to_string())
        .env("HADOOP_USER_NAME", user)
        // An empty conf dir, so the machine's own Hadoop configuration cannot leak in.
        .env("HADOOP_CONF_DIR", conf_dir.path());
    run_with_timeout(cmd, CLIENT_TIMEOUT)
}

/// The path of the Go `hdfs` command (`$FERRODFS_GO_HDFS` or `/usr/bin/hdfs`).
pub fn go_hdfs_binary() -> PathBuf {
    let path = std::env::var_os("FERRODFS_GO_HDFS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/hdfs"));
    assert!(
        path.exists(),
        "the Go `hdfs` command is missing at {}: install Debian's `hdfs-cli` \
         (sudo apt-get install hdfs-cli, or run `sudo bash .ci/run`)",
        path.display()
    );
    path
}

/// Runs Hadoop's Java `FsShell` (`hadoop fs <args>`) with `fs.defaultFS = default_fs`
/// (e.g. `hdfs://127.0.0.1:9000`) as `user`. `extra_conf` adds properties to the
/// generated `core-site.xml`.
///
/// # Panics
/// If `java` or the Hadoop jars cannot be found or fetched.
pub fn java_fs_shell(
    default_fs: &str,
    user: &str,
    extra_conf: &[(&str, &str)],
    args: &[&str],
) -> CmdOutput {
    let jars = hadoop_jars_dir();
    let conf_dir = tempfile::tempdir().expect("temp dir for core-site.xml");
    let mut props = vec![("fs.defaultFS", default_fs)];
    props.extend_from_slice(extra_conf);
    fs::write(conf_dir.path().join("core-site.xml"), site_xml(&props))
        .expect("write core-site.xml");
    fs::write(conf_dir.path().join("log4j2.properties"), LOG4J2_QUIET).expect("write log4j2");
    let classpath = format!("{}:{}/*", conf_dir.path().display(), jars.display());
    let mut cmd = Command::new("java");
    cmd.arg("-Xshare:auto")
        .arg("-XX:TieredStopAtLevel=1")
        .arg("-cp")
        .arg(classpath)
        .arg("org.apache.hadoop.fs.FsShell")
        .args(args)
        .env("HADOOP_USER_NAME", user)
        .env_remove("HADOOP_CONF_DIR");
    run_with_timeout(cmd, CLIENT_TIMEOUT)
}

/// Renders `<configuration>` XML with the given properties.
pub fn site_xml(props: &[(&str, &str)]) -> String {
    let mut xml = String::from("<?xml version=\"1.0\"?>\n<configuration>\n");
    for (name, value) in props {
        xml.push_str(&format!(
            "  <property><name>{}</name><value>{}</value></property>\n",
            xml_escape(name),
            xml_escape(value)
        ));
    }
    xml.push_str("</configuration>\n");
    xml
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Keeps Hadoop's client logging to warnings on stderr.
const LOG4J2_QUIET: &str = "rootLogger.level = warn\n\
rootLogger.appenderRef.stderr.ref = STDERR\n\
appender.stderr.type = Console\n\
appender.stderr.name = STDERR\n\
appender.stderr.target = SYSTEM_ERR\n\
appender.stderr.layout.type = PatternLayout\n\
appender.stderr.layout.pattern = %d{HH:mm:ss.SSS} %p %c{1}: %m%n\n";

/// The directory holding [`HADOOP_JARS`]: `$FERRODFS_HADOOP_JARS`, or
/// `target/interop-cache/hadoop-jars`, fetched there on first use.
pub fn hadoop_jars_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FERRODFS_HADOOP_JARS").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    static FETCH: Mutex<()> = Mutex::new(());
    let _guard = FETCH.lock().unwrap_or_else(|e| e.into_inner());
    let cache = interop_cache_dir();
    let jars = cache.join("hadoop-jars");
    if HADOOP_JARS.iter().all(|j| jars.join(j).exists()) {
        return jars;
    }
    fetch_hadoop_jars(&cache, &jars);
    jars
}

/// `<workspace>/target/interop-cache`, shared by every test binary of a build.
pub fn interop_cache_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("interop-cache")
}

fn fetch_hadoop_jars(cache: &Path, jars: &Path) {
    fs::create_dir_all(cache).expect("create interop cache dir");
    // Test binaries run in parallel processes: take a file lock around the fetch.
    let lock = cache.join("fetch.lock");
    let _lock = FileLock::acquire(&lock);
    if HADOOP_JARS.iter().all(|j| jars.join(j).exists()) {
        return;
    }
    let sdist = cache.join(PYSPARK_SDIST);
    if !sdist.exists() {
        let mut pip = Command::new("python3");
        pip.args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "pyspark==3.5.3",
            "-d",
        ])
        .arg(cache);
        let out = run_with_timeout(pip, Duration::from_secs(900));
        assert!(
            out.success(),
            "pip download pyspark==3.5.3 failed:\n{}",
            out.stderr
        );
    }
    let staging = cache.join("hadoop-jars.tmp");
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging).expect("create staging dir");
    let mut tar = Command::new("tar");
    tar.arg("xzf")
        .arg(&sdist)
        .arg("-C")
        .arg(&staging)
        .arg("--strip-components=3");
    for jar in HADOOP_JARS {
        tar.arg(format!("pyspark-3.5.3/deps/jars/{jar}"));
    }
    let out = run_with_timeout(tar, Duration::from_secs(300));
    assert!(
        out.success(),
        "extracting the Hadoop jars failed:\n{}",
        out.stderr
    );
    let _ = fs::remove_dir_all(jars);
    fs::rename(&staging, jars).expect("move jars into place");
}

/// An exclusive lock held by creating a file with `create_new`; removed on drop.
struct FileLock(PathBuf);

impl FileLock {
    fn acquire(path: &Path) -> FileLock {
        let deadline = std::time::Instant::now() + Duration::from_secs(1200);
        loop {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(_) => return FileLock(path.to_path_buf()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    // A lock older than the deadline is a leftover of a killed run.
                    let stale = fs::metadata(path)
                        .and_then(|m| m.modified())
                        .map(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(1200))
                        .unwrap_or(false);
                    if stale || std::time::Instant::now() > deadline {
                        let _ = fs::remove_file(path);
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("cannot create lock file {}: {e}", path.display()),
            }
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}
