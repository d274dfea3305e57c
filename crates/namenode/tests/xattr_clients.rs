//! Extended attributes through Hadoop's Java FsShell (`-setfattr` / `-getfattr`) against
//! our NameNode: values, encodings, Hadoop's error messages and exit codes, and the
//! attributes surviving a restart (image) of the NameNode.

mod common;

use common::{su, TestNameNode};
use ferrodfs_testkit::java_fs_shell;

#[test]
fn java_fs_shell_setfattr_getfattr() {
    let mut t = TestNameNode::start();
    let u = su();
    let fs = t.uri();
    let sh = |fs: &str, user: &str, args: &[&str]| java_fs_shell(fs, user, &[], args);
    sh(&fs, &u, &["-mkdir", "-p", "/x"]).expect_success("-mkdir");
    sh(&fs, &u, &["-touchz", "/x/f"]).expect_success("-touchz");
    sh(
        &fs,
        &u,
        &["-setfattr", "-n", "user.a", "-v", "hello", "/x/f"],
    )
    .expect_success("-setfattr -v");
    sh(&fs, &u, &["-setfattr", "-n", "user.b", "/x/f"]).expect_success("-setfattr no value");
    sh(
        &fs,
        &u,
        &["-setfattr", "-n", "user.c", "-v", "0x00ff", "/x/f"],
    )
    .expect_success("-setfattr hex");
    sh(
        &fs,
        &u,
        &["-setfattr", "-n", "trusted.t", "-v", "t", "/x/f"],
    )
    .expect_success("-setfattr trusted as superuser");
    sh(&fs, &u, &["-setfattr", "-x", "user.c", "/x/f"]).expect_success("-setfattr -x");
    let out = sh(&fs, &u, &["-getfattr", "-d", "/x/f"]);
    assert_eq!(
        out.expect_success("-getfattr -d"),
        // FsShell prints the client's HashMap order.
        "# file: /x/f\nuser.b\nuser.a=\"hello\"\ntrusted.t=\"t\"\n"
    );
    let out = sh(&fs, &u, &["-getfattr", "-n", "user.a", "-e", "hex", "/x/f"]);
    assert_eq!(
        out.expect_success("-getfattr -n -e hex"),
        "# file: /x/f\nuser.a=0x68656c6c6f\n"
    );

    // Errors: Hadoop's messages on stderr, exit code 1, nothing changed.
    let out = sh(
        &fs,
        "alice",
        &["-setfattr", "-n", "trusted.z", "-v", "1", "/x/f"],
    );
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("setfattr: User doesn't have permission for xattr: trusted.z"),
        "{}",
        out.stderr
    );
    let out = sh(&fs, &u, &["-getfattr", "-n", "user.nope", "/x/f"]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("At least one of the attributes provided was not found."),
        "{}",
        out.stderr
    );
    let big = "v".repeat(16384);
    let out = sh(
        &fs,
        &u,
        &["-setfattr", "-n", "user.big", "-v", &big, "/x/f"],
    );
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("The XAttr is too big. The maximum combined size of the name and value is 16384, but the total size is 16387"),
        "{}",
        out.stderr
    );
    let out = sh(&fs, &u, &["-setfattr", "-x", "user.nope", "/x/missing"]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("No such file or directory"),
        "{}",
        out.stderr
    );

    // Durable: a restarted NameNode serves the same attributes.
    t.restart();
    let fs = t.uri();
    let out = sh(&fs, &u, &["-getfattr", "-R", "-d", "/x"]);
    assert_eq!(
        out.expect_success("-getfattr -R -d after restart"),
        "# file: /x\n# file: /x/f\nuser.b\nuser.a=\"hello\"\ntrusted.t=\"t\"\n"
    );
}
