//! The real clients against our NameNode: hdfs-native's metadata calls, the Go `hdfs`
//! command and Hadoop's Java FsShell, with their outputs checked.

mod common;

use common::{su, TestNameNode};
use ferrodfs_testkit::{go_hdfs, java_fs_shell};

#[test]
fn hdfs_native_metadata_calls() {
    let t = TestNameNode::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = hdfs_native::ClientBuilder::new()
            .with_url(t.uri())
            .build()
            .unwrap();
        c.mkdirs("/native/a/b", 0o755, true).await.unwrap();
        c.mkdirs("/native/c", 0o700, true).await.unwrap();
        let st = c.get_file_info("/native/c").await.unwrap();
        assert!(st.isdir);
        assert_eq!(st.path, "/native/c");
        assert_eq!(st.permission, 0o700);
        assert_eq!(st.owner, su());
        let missing = c.get_file_info("/native/nope").await;
        assert!(
            matches!(missing, Err(hdfs_native::HdfsError::FileNotFound(_))),
            "{missing:?}"
        );
        let names: Vec<String> = c
            .list_status("/native", false)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.path)
            .collect();
        assert_eq!(names, vec!["/native/a", "/native/c"]);
        let all = c.list_status("/native", true).await.unwrap();
        assert_eq!(all.len(), 3, "{all:?}");
        c.rename("/native/a", "/native/z", false).await.unwrap();
        assert!(c.get_file_info("/native/z/b").await.unwrap().isdir);
        // Not empty without recursive.
        assert!(c.delete("/native/z", false).await.is_err());
        assert!(c.delete("/native/z", true).await.unwrap());
        assert!(c.get_file_info("/native/z").await.is_err());
        let cs = c.get_content_summary("/native").await.unwrap();
        assert_eq!(cs.directory_count, 2);
    });
}

#[test]
fn go_hdfs_commands() {
    let t = TestNameNode::start();
    let u = su();
    let go = |args: &[&str]| go_hdfs(t.addr(), &u, args);
    go(&["mkdir", "-p", "/a/b"]).expect_success("mkdir -p");
    let out = go(&["ls", "/a"]);
    assert_eq!(out.expect_success("ls").trim(), "b");
    // mkdir without -p (createParent=false) under a missing parent fails.
    assert!(!go(&["mkdir", "/m/n"]).success());
    go(&["mv", "/a/b", "/a/c"]).expect_success("mv");
    go(&["touch", "/a/t"]).expect_success("touch");
    let out = go(&["ls", "/a"]);
    assert_eq!(
        out.expect_success("ls")
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["c", "t"]
    );
    go(&["chmod", "700", "/a/c"]).expect_success("chmod");
    let out = go(&["ls", "-l", "/a"]);
    let listing = out.expect_success("ls -l");
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("drwx------") && l.ends_with(" c")),
        "{listing}"
    );
    let out = go(&["du", "-s", "/a"]);
    let du = out.expect_success("du -s");
    assert!(
        du.split_whitespace().next() == Some("0") && du.contains("/a"),
        "{du}"
    );
    let out = go(&["df"]);
    let df = out.expect_success("df");
    assert!(df.contains("Filesystem") && df.contains("Use%"), "{df}");
    go(&["rm", "-r", "/a"]).expect_success("rm -r");
    assert!(!go(&["ls", "/a"]).success());
}

#[test]
fn java_fs_shell_commands() {
    let t = TestNameNode::start();
    let (fs, u) = (t.uri(), su());
    let sh = |args: &[&str]| java_fs_shell(&fs, &u, &[], args);
    sh(&["-mkdir", "-p", "/x/y"]).expect_success("-mkdir -p");
    sh(&["-touchz", "/x/y/z"]).expect_success("-touchz");
    let out = sh(&["-ls", "/x/y"]);
    let ls = out.expect_success("-ls");
    assert!(
        ls.contains("Found 1 items") && ls.contains("/x/y/z"),
        "{ls}"
    );
    // -ls of a file lists the file itself.
    let out = sh(&["-ls", "/x/y/z"]);
    let ls = out.expect_success("-ls file");
    assert!(
        ls.trim_end().ends_with("/x/y/z") && !ls.contains("/x/y/z/z"),
        "{ls}"
    );
    sh(&["-mv", "/x/y", "/x/w"]).expect_success("-mv");
    let out = sh(&["-count", "/x"]);
    let count = out.expect_success("-count");
    assert_eq!(
        count.split_whitespace().collect::<Vec<_>>(),
        ["2", "1", "0", "/x"],
        "{count}"
    );
    sh(&["-chmod", "700", "/x/w"]).expect_success("-chmod");
    let out = sh(&["-ls", "/x"]);
    let ls = out.expect_success("-ls");
    assert!(ls.contains("drwx------") && ls.contains("/x/w"), "{ls}");
    sh(&["-rm", "-r", "/x"]).expect_success("-rm -r");
    let out = sh(&["-ls", "/x"]);
    assert!(!out.success());
    assert!(
        out.stderr.contains("No such file or directory"),
        "{}",
        out.stderr
    );
}
