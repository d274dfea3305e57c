//! The interop clients the other crates' tests depend on are installed and runnable.

use ferrodfs_testkit::{go_hdfs_binary, java_fs_shell, run_with_timeout};
use std::process::Command;
use std::time::Duration;

#[test]
fn go_hdfs_command_runs() {
    let mut cmd = Command::new(go_hdfs_binary());
    cmd.arg("--help");
    let out = run_with_timeout(cmd, Duration::from_secs(30));
    // `hdfs --help` prints its usage (exit code 0 or 1 by version); it must not hang.
    assert!(!out.timed_out);
    assert!(
        format!("{}{}", out.stdout, out.stderr).contains("Valid commands"),
        "unexpected `hdfs --help` output: {out:?}"
    );
}

#[test]
fn java_fs_shell_lists_a_local_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), b"hi").unwrap();
    let uri = format!("file://{}", dir.path().display());
    let out = java_fs_shell("file:///", "tester", &[], &["-ls", &uri]);
    let stdout = out.expect_success("hadoop fs -ls on a local dir");
    assert!(stdout.contains("hello.txt"), "{stdout}");
}
