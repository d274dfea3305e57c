//! Extended attributes: Hadoop's rules and messages, replay and the image.

use super::*;
use crate::error::ErrorKind;
use crate::namespace::xattr::set_flag::{CREATE, REPLACE};
use crate::namespace::xattr::XAttr;
use crate::namespace::FsPermission;

const SU: &str = "hdfs";

fn fs() -> FsNamesystem {
    let config = NameNodeConfig {
        superuser: SU.into(),
        min_block_size: 0,
        ..NameNodeConfig::default()
    };
    FsNamesystem::new(config, "BP-1-127.0.0.1-1")
}

fn su() -> Caller {
    Caller::user(SU)
}

/// `/f` owned by alice (0644) and `/sticky` (1777, owned by alice).
fn setup() -> FsNamesystem {
    let mut fs = fs();
    let alice = Caller::user("alice");
    fs.mkdirs(&su(), "/u", FsPermission(0o777), true).unwrap();
    fs.create(
        &alice,
        "/u/f",
        FsPermission(0o644),
        CreateFlags(CreateFlags::CREATE),
        true,
        3,
        1024,
    )
    .unwrap();
    fs.mkdirs(&alice, "/u/sticky", FsPermission(0o1777), true)
        .unwrap();
    fs.set_permission(&alice, "/u/sticky", FsPermission(0o1777))
        .unwrap();
    fs.take_pending_edits();
    fs
}

fn names(xs: &[XAttr]) -> Vec<String> {
    xs.iter().map(XAttr::prefixed_name).collect()
}

#[test]
fn set_get_list_remove_with_flags() {
    let mut fs = setup();
    let a = Caller::user("alice");
    fs.set_xattr(&a, "/u/f", "user.a", b"1", CREATE).unwrap();
    fs.set_xattr(&a, "/u/f", "USER.b", b"", CREATE | REPLACE)
        .unwrap();
    let e = fs
        .set_xattr(&a, "/u/f", "user.a", b"2", CREATE)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert_eq!(
        e.to_string(),
        "XAttr: user.a already exists. The REPLACE flag must be specified."
    );
    let e = fs
        .set_xattr(&a, "/u/f", "user.c", b"2", REPLACE)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "XAttr: user.c does not exist. The CREATE flag must be specified."
    );
    fs.set_xattr(&a, "/u/f", "user.a", b"2", REPLACE).unwrap();
    let all = fs.get_xattrs(&a, "/u/f", &[]).unwrap();
    assert_eq!(names(&all), ["user.a", "user.b"]);
    assert_eq!(all[0].value, b"2");
    let one = fs.get_xattrs(&a, "/u/f", &["user.b".into()]).unwrap();
    assert_eq!(names(&one), ["user.b"]);
    let e = fs
        .get_xattrs(&a, "/u/f", &["user.a".into(), "user.zz".into()])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "At least one of the attributes provided was not found."
    );
    assert_eq!(
        names(&fs.list_xattrs(&a, "/u/f").unwrap()),
        ["user.a", "user.b"]
    );
    fs.remove_xattr(&a, "/u/f", "user.a").unwrap();
    let e = fs.remove_xattr(&a, "/u/f", "user.a").unwrap_err();
    assert_eq!(
        e.to_string(),
        "No matching attributes found for remove operation"
    );
    assert_eq!(names(&fs.get_xattrs(&a, "/u/f", &[]).unwrap()), ["user.b"]);
    let e = fs
        .set_xattr(&a, "/u/nope", "user.a", b"", CREATE)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FileNotFound);
    let e = fs.get_xattrs(&a, "/u/nope", &[]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FileNotFound);
    // Successful changes are logged: 4 sets + 1 remove.
    assert_eq!(fs.take_pending_edits().len(), 4);
}

#[test]
fn namespaces_and_permissions() {
    let mut fs = setup();
    let a = Caller::user("alice");
    let b = Caller::user("bob");
    for bad in ["foo.a", "a", "user."] {
        let e = fs.set_xattr(&a, "/u/f", bad, b"", CREATE).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IllegalArgument, "{bad}");
    }
    for p in ["trusted.t", "system.s", "security.s", "raw.r"] {
        let e = fs.set_xattr(&a, "/u/f", p, b"v", CREATE).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AccessControl, "{p}");
        assert_eq!(
            e.to_string(),
            format!("User doesn't have permission for xattr: {p}")
        );
    }
    // trusted. is the superuser's; others do not see it.
    fs.set_xattr(&su(), "/u/f", "trusted.t", b"v", CREATE)
        .unwrap();
    fs.set_xattr(&a, "/u/f", "user.u", b"v", CREATE).unwrap();
    assert_eq!(names(&fs.get_xattrs(&a, "/u/f", &[]).unwrap()), ["user.u"]);
    assert_eq!(
        names(&fs.get_xattrs(&su(), "/u/f", &[]).unwrap()),
        ["trusted.t", "user.u"]
    );
    let e = fs
        .get_xattrs(&a, "/u/f", &["trusted.t".into()])
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessControl);
    // bob may read (0644) but not write alice's file.
    let e = fs.set_xattr(&b, "/u/f", "user.x", b"", CREATE).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessControl);
    assert!(e.to_string().contains("access=WRITE"), "{e}");
    let e = fs.remove_xattr(&b, "/u/f", "user.u").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessControl);
    assert_eq!(fs.get_xattrs(&b, "/u/f", &[]).unwrap().len(), 1);
    fs.set_permission(&a, "/u/f", FsPermission(0o600)).unwrap();
    let e = fs.get_xattrs(&b, "/u/f", &[]).unwrap_err();
    assert!(e.to_string().contains("access=READ"), "{e}");
    // A sticky directory: only its owner (or a superuser) changes user. attributes,
    // even though it is world-writable.
    let e = fs
        .set_xattr(&b, "/u/sticky", "user.x", b"", CREATE)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessControl);
    fs.set_xattr(&a, "/u/sticky", "user.x", b"", CREATE)
        .unwrap();
}

#[test]
fn limits() {
    let mut fs = setup();
    let a = Caller::user("alice");
    // Name without prefix plus value: 16384 fits, 16385 does not.
    let v = vec![7u8; 16384 - 1];
    fs.set_xattr(&a, "/u/f", "user.n", &v, CREATE).unwrap();
    let v = vec![7u8; 16384];
    let e = fs.set_xattr(&a, "/u/f", "user.n", &v, REPLACE).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::IllegalArgument);
    assert_eq!(
        e.to_string(),
        "The XAttr is too big. The maximum combined size of the name and value is 16384, but the total size is 16385"
    );
    for i in 1..32 {
        fs.set_xattr(&a, "/u/f", &format!("user.k{i}"), b"", CREATE)
            .unwrap();
    }
    let before = fs.get_xattrs(&a, "/u/f", &[]).unwrap();
    assert_eq!(before.len(), 32);
    let e = fs
        .set_xattr(&a, "/u/f", "user.k99", b"", CREATE)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Cannot add additional XAttr to inode, would exceed limit of 32"
    );
    // Replacing one at the limit is fine; nothing else changed.
    fs.set_xattr(&a, "/u/f", "user.k1", b"x", REPLACE).unwrap();
    assert_eq!(fs.get_xattrs(&a, "/u/f", &[]).unwrap().len(), 32);
}

#[test]
fn replay_and_image_keep_xattrs() {
    let mut live = fs();
    let mut log = Vec::new();
    live.mkdirs(&su(), "/d", FsPermission(0o755), true).unwrap();
    live.set_xattr(&su(), "/d", "user.a", b"\x00\xff", CREATE)
        .unwrap();
    live.set_xattr(&su(), "/d", "trusted.b", b"t", CREATE)
        .unwrap();
    live.set_xattr(&su(), "/d", "user.c", b"c", CREATE).unwrap();
    live.remove_xattr(&su(), "/d", "user.c").unwrap();
    log.extend(live.take_pending_edits());
    let mut replayed = fs();
    for op in &log {
        replayed.apply(op).unwrap();
    }
    let want = live.get_xattrs(&su(), "/d", &[]).unwrap();
    assert_eq!(names(&want), ["user.a", "trusted.b"]);
    assert_eq!(replayed.get_xattrs(&su(), "/d", &[]).unwrap(), want);
    let bytes = crate::image::save(&live, 7);
    let (loaded, txid) = crate::image::load(
        &bytes,
        std::path::Path::new("fsimage"),
        live.config().clone(),
        "BP-1-127.0.0.1-1",
    )
    .unwrap();
    assert_eq!(txid, 7);
    assert_eq!(loaded.get_xattrs(&su(), "/d", &[]).unwrap(), want);
    assert_eq!(crate::image::save(&loaded, 7), bytes);
    // Deleting the inode drops its attributes.
    live.delete(&su(), "/d", true).unwrap();
    live.mkdirs(&su(), "/d", FsPermission(0o755), true).unwrap();
    assert!(live.get_xattrs(&su(), "/d", &[]).unwrap().is_empty());
}

#[test]
fn version_1_image_still_loads() {
    let mut fs = fs();
    fs.mkdirs(&su(), "/d", FsPermission(0o755), true).unwrap();
    // A version 2 image with an empty xattr section, rewritten as version 1: the same
    // bytes minus the section, with the version field set to 1 and a fresh CRC.
    let v2 = crate::image::save(&fs, 3);
    let body_end = v2.len() - 4 - 8;
    assert_eq!(&v2[body_end..body_end + 8], &[0u8; 8]);
    let mut v1 = v2[..body_end].to_vec();
    v1[8..12].copy_from_slice(&1u32.to_le_bytes());
    let crc = crc32c::crc32c(&v1);
    v1.extend_from_slice(&crc.to_le_bytes());
    let (loaded, _) = crate::image::load(
        &v1,
        std::path::Path::new("fsimage"),
        fs.config().clone(),
        "BP-1-127.0.0.1-1",
    )
    .unwrap();
    assert_eq!(crate::image::save(&loaded, 3), v2);
    let mut v9 = v1.clone();
    v9[8..12].copy_from_slice(&9u32.to_le_bytes());
    assert!(crate::image::load(
        &v9,
        std::path::Path::new("fsimage"),
        fs.config().clone(),
        "BP-1-127.0.0.1-1"
    )
    .is_err());
}
