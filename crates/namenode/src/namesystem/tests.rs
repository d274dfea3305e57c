//! Semantics of each operation, including error cases.

use std::time::{Duration, Instant};

use super::*;
use crate::datanodes::{DatanodeCommand, DatanodeId};
use crate::namespace::FsPermission;

const SU: &str = "hdfs";

fn fs() -> FsNamesystem {
    let config = NameNodeConfig {
        superuser: SU.into(),
        min_block_size: 0,
        ls_limit: 1000,
        ..NameNodeConfig::default()
    };
    FsNamesystem::new(config, "BP-1-127.0.0.1-1")
}

fn su() -> Caller {
    Caller::user(SU)
}

fn create(fs: &mut FsNamesystem, c: &Caller, p: &str) -> Result<FileStatus> {
    fs.create(
        c,
        p,
        FsPermission(0o644),
        CreateFlags(CreateFlags::CREATE),
        true,
        3,
        1024,
    )
}

fn dn(n: u8) -> DatanodeId {
    DatanodeId {
        uuid: format!("dn-{n}"),
        ip_addr: format!("127.0.0.{n}"),
        host_name: format!("h{n}"),
        xfer_port: 9866,
        info_port: 9864,
        info_secure_port: 0,
        ipc_port: 9867,
    }
}

fn with_datanodes(fs: &mut FsNamesystem, n: u8) {
    for i in 1..=n {
        fs.register_datanode(dn(i), Instant::now());
    }
}

fn received(fs: &mut FsNamesystem, lb: &LocatedBlock, len: u64) {
    for loc in &lb.locations {
        fs.incremental_block_report(
            &loc.id.uuid,
            &loc.storage_id,
            &[ReceivedDeletedBlock {
                block_id: lb.block.block_id,
                gs: lb.block.gs,
                num_bytes: len,
                status: ReceivedDeletedStatus::Received,
            }],
            Instant::now(),
        )
        .unwrap();
    }
}

#[test]
fn mkdirs_semantics() {
    let mut fs = fs();
    assert!(fs
        .mkdirs(&su(), "/a/b/c", FsPermission(0o750), true)
        .unwrap());
    assert!(fs
        .mkdirs(&su(), "/a/b/c", FsPermission(0o750), false)
        .unwrap());
    let st = fs.get_file_info(&su(), "/a/b/c").unwrap().unwrap();
    assert_eq!(
        (st.file_type, st.permission, st.owner.as_str()),
        (FileType::Directory, 0o750, SU)
    );
    // Implicit parents get u+wx.
    assert_eq!(
        fs.get_file_info(&su(), "/a").unwrap().unwrap().permission,
        0o750 | 0o300
    );
    assert!(matches!(
        fs.mkdirs(&su(), "/x/y", FsPermission(0o755), false),
        Err(Error::FileNotFound { .. })
    ));
    create(&mut fs, &su(), "/f").unwrap();
    assert!(matches!(
        fs.mkdirs(&su(), "/f", FsPermission(0o755), true),
        Err(Error::FileAlreadyExists { .. })
    ));
    assert!(matches!(
        fs.mkdirs(&su(), "/f/g", FsPermission(0o755), true),
        Err(Error::ParentNotDirectory { .. })
    ));
    assert!(matches!(
        fs.mkdirs(&su(), "a/b", FsPermission(0o755), true),
        Err(Error::InvalidPath { .. })
    ));
}

#[test]
fn mkdirs_checks_write_on_ancestor_before_missing_parent() {
    let mut fs = fs();
    fs.mkdirs(&su(), "/locked", FsPermission(0o755), true)
        .unwrap();
    let bob = Caller::user("bob");
    // The parent /locked/missing does not exist, but the permission error comes first.
    assert!(matches!(
        fs.mkdirs(&bob, "/locked/missing/dir", FsPermission(0o755), false),
        Err(Error::AccessControl {
            access: "WRITE",
            ..
        })
    ));
    fs.set_permission(&su(), "/locked", FsPermission(0o777))
        .unwrap();
    assert!(matches!(
        fs.mkdirs(&bob, "/locked/missing/dir", FsPermission(0o755), false),
        Err(Error::FileNotFound { .. })
    ));
    assert!(fs
        .mkdirs(&bob, "/locked/missing/dir", FsPermission(0o755), true)
        .unwrap());
    assert_eq!(
        fs.get_file_info(&su(), "/locked/missing")
            .unwrap()
            .unwrap()
            .owner,
        "bob"
    );
}

#[test]
fn create_semantics() {
    let mut fs = fs();
    let st = create(&mut fs, &su(), "/d/f").unwrap();
    assert!(st.file_id > crate::namespace::ROOT_INODE_ID);
    assert_eq!((st.block_replication, st.block_size), (3, 1024));
    assert!(st.under_construction);
    // Same client again: AlreadyBeingCreated; another client: also (lease is fresh).
    assert!(matches!(
        create(&mut fs, &su(), "/d/f"),
        Err(Error::AlreadyBeingCreated { .. })
    ));
    let other = su().with_client("DFSClient_other", "10.0.0.2");
    assert!(matches!(
        create(&mut fs, &other, "/d/f"),
        Err(Error::AlreadyBeingCreated { .. })
    ));
    assert!(fs.complete(&su(), "/d/f", Some(st.file_id), None).unwrap());
    assert!(matches!(
        create(&mut fs, &su(), "/d/f"),
        Err(Error::FileAlreadyExists { .. })
    ));
    assert!(matches!(
        create(&mut fs, &su(), "/d"),
        Err(Error::FileAlreadyExists { .. })
    ));
    let ow = CreateFlags(CreateFlags::CREATE | CreateFlags::OVERWRITE);
    let st2 = fs
        .create(&su(), "/d/f", FsPermission(0o600), ow, false, 2, 2048)
        .unwrap();
    assert_ne!(st2.file_id, st.file_id);
    assert!(matches!(
        fs.create(&su(), "/nope/f", FsPermission(0o644), ow, false, 3, 1024),
        Err(Error::FileNotFound { .. })
    ));
    assert!(matches!(
        fs.create(&su(), "/d/g", FsPermission(0o644), ow, true, 0, 1024),
        Err(Error::IllegalArgument { .. })
    ));
}

#[test]
fn listing_pages_bytewise_with_remaining() {
    let mut fs = fs();
    fs.mkdirs(&su(), "/d", FsPermission(0o755), true).unwrap();
    for i in 0..2500 {
        fs.mkdirs(&su(), &format!("/d/e{i:04}"), FsPermission(0o755), false)
            .unwrap();
    }
    fs.mkdirs(&su(), "/d/E", FsPermission(0o755), false)
        .unwrap();
    let page = fs.get_listing(&su(), "/d", b"").unwrap().unwrap();
    assert_eq!(page.entries.len(), 1000);
    assert_eq!(page.remaining, 1501);
    assert_eq!(page.entries[0].path, b"E");
    assert_eq!(page.entries[1].path, b"e0000");
    let mut all = page.entries.clone();
    let mut last = page.entries.last().unwrap().path.clone();
    loop {
        let p = fs.get_listing(&su(), "/d", &last).unwrap().unwrap();
        if p.entries.is_empty() {
            assert_eq!(p.remaining, 0);
            break;
        }
        last = p.entries.last().unwrap().path.clone();
        all.extend(p.entries);
    }
    assert_eq!(all.len(), 2501);
    assert!(all.windows(2).all(|w| w[0].path < w[1].path));
    // startAfter need not exist.
    let p = fs.get_listing(&su(), "/d", b"e2499x").unwrap().unwrap();
    assert!(p.entries.is_empty());
    let p = fs.get_listing(&su(), "/d", b"e1").unwrap().unwrap();
    assert_eq!(p.entries[0].path, b"e1000");
    assert!(fs.get_listing(&su(), "/missing", b"").unwrap().is_none());
    create(&mut fs, &su(), "/d/file").unwrap();
    let p = fs.get_listing(&su(), "/d/file", b"").unwrap().unwrap();
    assert_eq!(p.entries.len(), 1);
    assert!(p.entries[0].path.is_empty());
}

#[test]
fn delete_semantics() {
    let mut fs = fs();
    fs.mkdirs(&su(), "/a/b", FsPermission(0o755), true).unwrap();
    assert!(matches!(
        fs.delete(&su(), "/a", false),
        Err(Error::PathIsNotEmptyDirectory { .. })
    ));
    assert!(fs.delete(&su(), "/a/b", false).unwrap());
    assert!(!fs.delete(&su(), "/a/b", false).unwrap());
    fs.mkdirs(&su(), "/a/b/c", FsPermission(0o755), true)
        .unwrap();
    assert!(fs.delete(&su(), "/a", true).unwrap());
    assert!(fs.get_file_info(&su(), "/a").unwrap().is_none());
    assert!(!fs.delete(&su(), "/", true).unwrap());
}

#[test]
fn rename_semantics() {
    let mut fs = fs();
    fs.mkdirs(&su(), "/a/b", FsPermission(0o755), true).unwrap();
    fs.mkdirs(&su(), "/dst", FsPermission(0o755), true).unwrap();
    // Into own subtree: v1 false, v2 error.
    assert!(!fs.rename(&su(), "/a", "/a/b/c").unwrap());
    assert!(matches!(
        fs.rename2(&su(), "/a", "/a/b/c", false),
        Err(Error::InvalidRename { .. })
    ));
    // Missing source.
    assert!(!fs.rename(&su(), "/nope", "/x").unwrap());
    assert!(matches!(
        fs.rename2(&su(), "/nope", "/x", false),
        Err(Error::FileNotFound { .. })
    ));
    // v1 into an existing directory moves inside.
    assert!(fs.rename(&su(), "/a", "/dst").unwrap());
    assert!(fs.get_file_info(&su(), "/dst/a/b").unwrap().is_some());
    // Missing destination parent.
    assert!(!fs.rename(&su(), "/dst/a", "/no/where").unwrap());
    assert!(matches!(
        fs.rename2(&su(), "/dst/a", "/no/where", false),
        Err(Error::FileNotFound { .. })
    ));
    // rename2 over an existing file needs OVERWRITE; a non-empty dir is never replaced.
    let f1 = create(&mut fs, &su(), "/f1").unwrap();
    fs.complete(&su(), "/f1", Some(f1.file_id), None).unwrap();
    let f2 = create(&mut fs, &su(), "/f2").unwrap();
    fs.complete(&su(), "/f2", Some(f2.file_id), None).unwrap();
    assert!(!fs.rename(&su(), "/f1", "/f2").unwrap());
    assert!(matches!(
        fs.rename2(&su(), "/f1", "/f2", false),
        Err(Error::FileAlreadyExists { .. })
    ));
    fs.rename2(&su(), "/f1", "/f2", true).unwrap();
    assert_eq!(
        fs.get_file_info(&su(), "/f2").unwrap().unwrap().file_id,
        f1.file_id
    );
    assert!(matches!(
        fs.rename2(&su(), "/f2", "/dst", true),
        Err(Error::InvalidRename { .. })
    ));
    fs.mkdirs(&su(), "/e", FsPermission(0o755), true).unwrap();
    assert!(matches!(
        fs.rename2(&su(), "/e", "/dst", true),
        Err(Error::PathIsNotEmptyDirectory { .. })
    ));
    assert!(fs.rename(&su(), "/f2", "/f2").unwrap());
}

#[test]
fn permissions_enforced_for_non_superusers() {
    let mut fs = fs();
    fs.mkdirs(&su(), "/user/alice", FsPermission(0o755), true)
        .unwrap();
    fs.set_owner(&su(), "/user/alice", Some("alice"), Some("staff"))
        .unwrap();
    let alice = Caller::user("alice").with_groups(&["staff"]);
    let bob = Caller::user("bob");
    create(&mut fs, &alice, "/user/alice/f").unwrap();
    assert!(matches!(
        create(&mut fs, &bob, "/user/alice/g"),
        Err(Error::AccessControl { .. })
    ));
    assert!(matches!(
        fs.delete(&bob, "/user/alice/f", false),
        Err(Error::AccessControl { .. })
    ));
    assert!(matches!(
        fs.set_permission(&bob, "/user/alice", FsPermission(0o777)),
        Err(Error::NotOwner { .. })
    ));
    assert!(matches!(
        fs.set_owner(&alice, "/user/alice", Some("bob"), None),
        Err(Error::SuperuserRequired { .. })
    ));
    fs.set_owner(&alice, "/user/alice", None, Some("staff"))
        .unwrap();
    fs.set_permission(&alice, "/user/alice", FsPermission(0o700))
        .unwrap();
    assert!(matches!(
        fs.get_listing(&bob, "/user/alice", b""),
        Err(Error::AccessControl { .. })
    ));
    assert!(matches!(
        fs.get_file_info(&bob, "/user/alice/f"),
        Err(Error::AccessControl { .. })
    ));
    // Members of the supergroup are superusers.
    let admin = Caller::user("carol").with_groups(&["supergroup"]);
    assert!(fs
        .get_listing(&admin, "/user/alice", b"")
        .unwrap()
        .is_some());
    // Sticky bit: bob may not delete alice's file in a world-writable sticky dir.
    fs.mkdirs(&su(), "/tmp", FsPermission(0o1777), true)
        .unwrap();
    create(&mut fs, &alice, "/tmp/a").unwrap();
    assert!(matches!(
        fs.delete(&bob, "/tmp/a", false),
        Err(Error::AccessControl { .. })
    ));
    assert!(fs.delete(&alice, "/tmp/a", false).unwrap());
    // Switch off: everything allowed.
    let mut open = FsNamesystem::new(
        NameNodeConfig {
            permissions_enabled: false,
            ..fs.config.clone()
        },
        "bp",
    );
    open.mkdirs(&su(), "/p", FsPermission(0o700), true).unwrap();
    assert!(open
        .mkdirs(&bob, "/p/q", FsPermission(0o700), true)
        .unwrap());
}

#[test]
fn write_path_with_generation_stamps_and_complete_false() {
    let mut fs = fs();
    with_datanodes(&mut fs, 3);
    let c = su().with_client("DFSClient_w", "127.0.0.2");
    let st = create(&mut fs, &c, "/f").unwrap();
    let lb = fs
        .add_block(&c, "/f", Some(st.file_id), None, &[], &[])
        .unwrap();
    assert_eq!(lb.locations.len(), 3);
    assert_eq!(
        lb.locations[0].id.ip_addr, "127.0.0.2",
        "writer's node first"
    );
    assert_eq!(lb.offset, 0);
    // updateBlockForPipeline hands out a new GS but the old one stays valid (Go).
    let newer = fs.update_block_for_pipeline(&c, &lb.block).unwrap();
    assert!(newer.block.gs > lb.block.gs);
    let mut b1 = lb.block.clone();
    b1.num_bytes = 1024;
    let lb2 = fs
        .add_block(&c, "/f", Some(st.file_id), Some(&b1), &[], &[])
        .unwrap();
    assert_eq!(lb2.offset, 1024);
    // A retried addBlock returns the same block.
    let again = fs
        .add_block(&c, "/f", Some(st.file_id), Some(&b1), &[], &[])
        .unwrap();
    assert_eq!(again.block.block_id, lb2.block.block_id);
    let mut b2 = lb2.block.clone();
    b2.num_bytes = 10;
    // No replicas reported yet: complete returns false.
    assert!(!fs.complete(&c, "/f", Some(st.file_id), Some(&b2)).unwrap());
    received(&mut fs, &lb, 1024);
    received(&mut fs, &lb2, 10);
    assert!(fs.complete(&c, "/f", Some(st.file_id), Some(&b2)).unwrap());
    // A retry after success is fine.
    assert!(fs.complete(&c, "/f", Some(st.file_id), Some(&b2)).unwrap());
    let locs = fs.get_block_locations(&su(), "/f", 0, u64::MAX).unwrap();
    assert_eq!(locs.file_length, 1034);
    assert_eq!(locs.blocks.len(), 2);
    assert_eq!(locs.blocks[1].offset, 1024);
    assert_eq!(locs.blocks[1].locations.len(), 3);
    assert!(!locs.under_construction);
    assert!(matches!(
        fs.get_block_locations(&su(), "/missing", 0, 1),
        Err(Error::FileNotFound { .. })
    ));
    // Other clients have no lease.
    let other = su().with_client("DFSClient_x", "h");
    assert!(matches!(
        fs.add_block(&other, "/f", None, None, &[], &[]),
        Err(Error::LeaseExpired { .. })
    ));
}

#[test]
fn add_block_without_datanodes_fails_and_excludes_are_honoured() {
    let mut fs = fs();
    let st = create(&mut fs, &su(), "/f").unwrap();
    assert!(matches!(
        fs.add_block(&su(), "/f", Some(st.file_id), None, &[], &[]),
        Err(Error::NoDatanodes { .. })
    ));
    with_datanodes(&mut fs, 2);
    let lb = fs
        .add_block(
            &su(),
            "/f",
            Some(st.file_id),
            None,
            &["dn-1".to_owned()],
            &[],
        )
        .unwrap();
    assert_eq!(lb.locations.len(), 1);
    assert_eq!(lb.locations[0].id.uuid, "dn-2");
    fs.abandon_block(&su(), &lb.block, "/f", Some(st.file_id))
        .unwrap();
    assert!(fs.block_map().get(lb.block.block_id).is_none());
}

#[test]
fn append_returns_partial_last_block() {
    let mut fs = fs();
    with_datanodes(&mut fs, 3);
    let st = create(&mut fs, &su(), "/f").unwrap();
    let lb = fs
        .add_block(&su(), "/f", Some(st.file_id), None, &[], &[])
        .unwrap();
    received(&mut fs, &lb, 100);
    let mut b = lb.block.clone();
    b.num_bytes = 100;
    assert!(fs
        .complete(&su(), "/f", Some(st.file_id), Some(&b))
        .unwrap());
    let r = fs
        .append(&su(), "/f", CreateFlags(CreateFlags::APPEND))
        .unwrap();
    let last = r.last_block.unwrap();
    assert_eq!(
        (last.block.block_id, last.block.num_bytes),
        (b.block_id, 100)
    );
    assert_eq!(last.locations.len(), 3);
    assert!(r.status.under_construction);
    assert_eq!(r.status.length, 100);
    let other = su().with_client("DFSClient_o", "h");
    assert!(matches!(
        fs.append(&other, "/f", CreateFlags(CreateFlags::APPEND)),
        Err(Error::AlreadyBeingCreated { .. })
    ));
}

#[test]
fn hard_limit_expiry_recovers_the_block() {
    let mut fs = fs();
    with_datanodes(&mut fs, 2);
    let c = su().with_client("DFSClient_dead", "10.9.9.9");
    let st = fs
        .create(
            &c,
            "/open",
            FsPermission(0o644),
            CreateFlags(CreateFlags::CREATE),
            true,
            2,
            1024,
        )
        .unwrap();
    let lb = fs
        .add_block(&c, "/open", Some(st.file_id), None, &[], &[])
        .unwrap();
    assert!(fs.check_leases(Instant::now()).is_empty());
    let later = Instant::now() + fs.config.lease_hard_limit + Duration::from_secs(1);
    assert_eq!(fs.check_leases(later), vec!["/open".to_owned()]);
    // The primary DataNode gets a recover command with a new recovery id.
    let mut recover = None;
    let mut primary = None;
    for n in 1..=2 {
        for cmd in fs.heartbeat(&format!("dn-{n}"), &[], 0, later) {
            if let DatanodeCommand::Recover {
                new_gs,
                block,
                locations,
                ..
            } = cmd
            {
                assert_eq!(block.block_id, lb.block.block_id);
                assert_eq!(locations.len(), 2);
                recover = Some(new_gs);
                primary = fs.dns.index_of(&format!("dn-{n}"));
            }
        }
    }
    let recovery_id = recover.expect("a recover command");
    assert!(recovery_id > lb.block.gs);
    assert!(matches!(
        create(&mut fs, &c, "/open"),
        Err(Error::RecoveryInProgress { .. })
    ));
    let primary = primary.expect("a primary");
    let other = fs
        .dns
        .nodes()
        .map(|(ix, _)| ix)
        .find(|&ix| ix != primary)
        .unwrap();
    let targets = vec![
        ("dn-1".to_owned(), String::new()),
        ("dn-2".to_owned(), String::new()),
    ];
    // Refused, changing nothing: a wrong recovery id, or a caller that is not the primary.
    assert!(fs
        .commit_block_synchronization(&[primary], &lb.block, recovery_id + 5, 77, true, false, &[])
        .is_err());
    let e = fs
        .commit_block_synchronization(&[other], &lb.block, recovery_id, 1 << 30, true, true, &[])
        .unwrap_err();
    assert!(e.to_string().contains("not the primary"), "{e}");
    assert!(
        fs.get_file_info(&su(), "/open")
            .unwrap()
            .unwrap()
            .under_construction
    );
    fs.commit_block_synchronization(
        &[primary],
        &lb.block,
        recovery_id,
        77,
        true,
        false,
        &targets,
    )
    .unwrap();
    let info = fs.get_file_info(&su(), "/open").unwrap().unwrap();
    assert!(!info.under_construction);
    assert_eq!(info.length, 77);
    assert!(fs.lease_manager().is_empty());
    assert_eq!(
        fs.block_map().get(lb.block.block_id).unwrap().gs,
        recovery_id
    );
}

#[test]
fn recover_lease_closes_empty_files_at_once() {
    let mut fs = fs();
    create(&mut fs, &su(), "/e").unwrap();
    let other = su().with_client("DFSClient_r", "h");
    assert!(fs.recover_lease(&other, "/e").unwrap());
    assert!(
        !fs.get_file_info(&su(), "/e")
            .unwrap()
            .unwrap()
            .under_construction
    );
    assert!(fs.recover_lease(&other, "/e").unwrap());
}

#[test]
fn truncate_on_block_boundary_and_concat() {
    let mut fs = fs();
    with_datanodes(&mut fs, 1);
    let write = |fs: &mut FsNamesystem, p: &str, blocks: u64| {
        let st = fs
            .create(
                &su(),
                p,
                FsPermission(0o644),
                CreateFlags(CreateFlags::CREATE),
                true,
                1,
                1024,
            )
            .unwrap();
        let mut prev: Option<crate::blocks::ExtendedBlock> = None;
        for _ in 0..blocks {
            let lb = fs
                .add_block(&su(), p, Some(st.file_id), prev.as_ref(), &[], &[])
                .unwrap();
            received(fs, &lb, 1024);
            let mut b = lb.block.clone();
            b.num_bytes = 1024;
            prev = Some(b);
        }
        assert!(fs
            .complete(&su(), p, Some(st.file_id), prev.as_ref())
            .unwrap());
    };
    write(&mut fs, "/d/t", 3);
    assert!(fs.truncate(&su(), "/d/t", 2048).unwrap());
    assert_eq!(
        fs.get_file_info(&su(), "/d/t").unwrap().unwrap().length,
        2048
    );
    assert!(matches!(
        fs.truncate(&su(), "/d/t", 5000),
        Err(Error::IllegalArgument { .. })
    ));
    // Mid-block truncate needs recovery: false, file reopened.
    assert!(!fs.truncate(&su(), "/d/t", 1500).unwrap());
    assert!(
        fs.get_file_info(&su(), "/d/t")
            .unwrap()
            .unwrap()
            .under_construction
    );
    write(&mut fs, "/d/a", 1);
    write(&mut fs, "/d/b", 2);
    fs.concat(&su(), "/d/a", &["/d/b".to_owned()]).unwrap();
    assert_eq!(
        fs.get_file_info(&su(), "/d/a").unwrap().unwrap().length,
        3072
    );
    assert!(fs.get_file_info(&su(), "/d/b").unwrap().is_none());
    let cs = fs.get_content_summary(&su(), "/d").unwrap();
    assert_eq!(
        (cs.file_count, cs.directory_count, cs.length),
        (2, 1, 3072 + 2048)
    );
    assert_eq!(cs.space_consumed, 3072 + 2048);
}

#[test]
fn setters() {
    let mut fs = fs();
    create(&mut fs, &su(), "/f").unwrap();
    assert!(fs.set_replication(&su(), "/f", 2).unwrap());
    fs.mkdirs(&su(), "/d", FsPermission(0o755), true).unwrap();
    assert!(!fs.set_replication(&su(), "/d", 2).unwrap());
    assert!(matches!(
        fs.set_replication(&su(), "/nope", 2),
        Err(Error::FileNotFound { .. })
    ));
    fs.set_times(&su(), "/f", 1234, -1).unwrap();
    let st = fs.get_file_info(&su(), "/f").unwrap().unwrap();
    assert_eq!((st.modification_time, st.block_replication), (1234, 2));
    fs.set_permission(&su(), "/f", FsPermission(0o1600))
        .unwrap();
    assert_eq!(
        fs.get_file_info(&su(), "/f").unwrap().unwrap().permission,
        0o1600
    );
}

#[test]
fn safe_mode_tip_reads_as_hadoops() {
    let mut fs = fs();
    fs.config.safemode_extension = Duration::from_secs(30);
    assert_eq!(fs.safe_mode_tip(Instant::now()), "");
    fs.enter_startup_safe_mode();
    assert_eq!(
        fs.safe_mode_tip(Instant::now()),
        "The reported blocks 0 has reached the threshold 0.9990 of total blocks 0. \
         The number of live datanodes 0 has reached the minimum number 0. \
         Safe mode will be turned off automatically once the thresholds have been reached."
    );
    // Truncated as Java's (long) cast: 999 of 1000 blocks, 0 of 1.
    assert_eq!(fs.safe_block_threshold(1000), 999);
    assert_eq!(fs.safe_block_threshold(1), 0);
    let now = Instant::now();
    fs.safe_mode.reached_at = Some(now);
    assert!(fs
        .safe_mode_tip(now + Duration::from_millis(10_500))
        .ends_with(
            "In safe mode extension. Safe mode will be turned off automatically in 19 seconds."
        ));
    fs.set_safe_mode(SafeModeAction::Enter);
    assert_eq!(
        fs.safe_mode_tip(now),
        "It was turned on manually. Use \"hdfs dfsadmin -safemode leave\" to turn safe mode off."
    );
    let err = fs
        .mkdirs(&su(), "/x", FsPermission(0o755), true)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "Cannot create directory. Name node is in safe mode.\nIt was turned on manually. \
         Use \"hdfs dfsadmin -safemode leave\" to turn safe mode off."
    );
}

#[test]
fn safe_mode_refuses_changes() {
    let mut fs = fs();
    assert!(fs.set_safe_mode(SafeModeAction::Enter));
    assert!(matches!(
        fs.mkdirs(&su(), "/x", FsPermission(0o755), true),
        Err(Error::SafeMode { .. })
    ));
    assert!(fs.get_file_info(&su(), "/").unwrap().is_some());
    assert!(!fs.set_safe_mode(SafeModeAction::Leave));
    fs.mkdirs(&su(), "/x", FsPermission(0o755), true).unwrap();
}

#[test]
fn dead_node_and_corrupt_replica_trigger_rereplication() {
    let mut fs = fs();
    with_datanodes(&mut fs, 3);
    let st = fs
        .create(
            &su(),
            "/r",
            FsPermission(0o644),
            CreateFlags(CreateFlags::CREATE),
            true,
            2,
            1024,
        )
        .unwrap();
    let lb = fs
        .add_block(&su(), "/r", Some(st.file_id), None, &[], &[])
        .unwrap();
    received(&mut fs, &lb, 5);
    let mut b = lb.block.clone();
    b.num_bytes = 5;
    assert!(fs
        .complete(&su(), "/r", Some(st.file_id), Some(&b))
        .unwrap());
    // A corrupt replica is dropped and replaced from the good one.
    let bad_node = lb.locations[0].id.uuid.clone();
    fs.report_bad_blocks(&[(
        b.clone(),
        vec![(bad_node.clone(), lb.locations[0].storage_id.clone())],
    )]);
    assert_eq!(fs.block_map().replica_count(b.block_id), 1);
    assert_eq!(fs.compute_replication_work(10, Instant::now()), 1);
    let good = &lb.locations[1].id.uuid;
    let cmds = fs.heartbeat(good, &[], 0, Instant::now());
    assert!(cmds.iter().any(|c| matches!(c, DatanodeCommand::Transfer { targets, .. } if targets.len() == 1 && targets[0].id.uuid != *good && targets[0].id.uuid != bad_node)));
    let cmds = fs.heartbeat(&bad_node, &[], 0, Instant::now());
    assert!(cmds.iter().any(
        |c| matches!(c, DatanodeCommand::Invalidate { blocks } if blocks[0].block_id == b.block_id)
    ));
    // Everyone but dn-1 stops heartbeating: their replicas are forgotten.
    let later = Instant::now() + fs.config.dead_node_interval() + Duration::from_secs(1);
    fs.heartbeat("dn-1", &[], 0, later);
    let dead = fs.check_heartbeats(later);
    assert_eq!(dead.len(), 2);
    assert_eq!(
        fs.heartbeat("dn-2", &[], 0, later),
        vec![DatanodeCommand::Register]
    );
    // Deleting the file invalidates the remaining replicas.
    fs.delete(&su(), "/r", false).unwrap();
    assert!(fs.block_map().is_empty());
}

#[test]
fn full_block_report_and_startup_safe_mode() {
    let mut fs = fs();
    with_datanodes(&mut fs, 1);
    let st = fs
        .create(
            &su(),
            "/f",
            FsPermission(0o644),
            CreateFlags(CreateFlags::CREATE),
            true,
            1,
            1024,
        )
        .unwrap();
    let lb = fs
        .add_block(&su(), "/f", Some(st.file_id), None, &[], &[])
        .unwrap();
    received(&mut fs, &lb, 9);
    let mut b = lb.block.clone();
    b.num_bytes = 9;
    assert!(fs
        .complete(&su(), "/f", Some(st.file_id), Some(&b))
        .unwrap());
    // Every block needed: Hadoop's (long) (1 * 0.999) would need none.
    fs.config.safemode_threshold = 1.0;
    fs.enter_startup_safe_mode();
    let sid = lb.locations[0].storage_id.clone();
    // An empty report removes the replica; safe mode stays on.
    fs.block_report("dn-1", &sid, &[], Instant::now()).unwrap();
    assert_eq!(fs.block_map().replica_count(b.block_id), 0);
    fs.config.safemode_extension = Duration::ZERO;
    fs.check_safe_mode(Instant::now());
    assert!(fs.in_safe_mode());
    assert_eq!(
        fs.safe_mode_tip(Instant::now()),
        "The reported blocks 0 needs additional 1 blocks to reach the threshold 1.0000 of \
         total blocks 1.\nThe number of live datanodes 1 has reached the minimum number 0. \
         Safe mode will be turned off automatically once the thresholds have been reached."
    );
    // Not yet reported is not missing: the replication queues are not populated.
    assert!(!fs.replication_queues_populated());
    assert_eq!(fs.get_fs_stats().missing_blocks, 0);
    let report = [
        ReportedBlock {
            block_id: b.block_id,
            gs: b.gs,
            num_bytes: 9,
            finalized: true,
        },
        ReportedBlock {
            block_id: 999,
            gs: 1,
            num_bytes: 1,
            finalized: true,
        },
    ];
    fs.block_report("dn-1", &sid, &report, Instant::now())
        .unwrap();
    assert!(!fs.in_safe_mode());
    assert_eq!(fs.block_map().replica_count(b.block_id), 1);
    // The unknown block is to be deleted.
    let cmds = fs.heartbeat("dn-1", &[], 0, Instant::now());
    assert!(cmds
        .iter()
        .any(|c| matches!(c, DatanodeCommand::Invalidate { blocks } if blocks[0].block_id == 999)));
    assert!(matches!(
        fs.block_report("dn-9", &sid, &[], Instant::now()),
        Err(Error::UnregisteredNode { .. })
    ));
}

#[test]
fn mode_strings() {
    assert_eq!(mode_string(0o755), "rwxr-xr-x");
    assert_eq!(mode_string(0o1777), "rwxrwxrwt");
    assert_eq!(mode_string(0o1776), "rwxrwxrwT");
}

fn invalidated(cmds: &[DatanodeCommand]) -> Vec<BlockId> {
    cmds.iter()
        .filter_map(|c| match c {
            DatanodeCommand::Invalidate { blocks } => Some(blocks.iter().map(|b| b.block_id)),
            _ => None,
        })
        .flatten()
        .collect()
}

fn deleted(fs: &mut FsNamesystem, uuid: &str, storage: &str, b: &crate::blocks::ExtendedBlock) {
    fs.incremental_block_report(
        uuid,
        storage,
        &[ReceivedDeletedBlock {
            block_id: b.block_id,
            gs: b.gs,
            num_bytes: b.num_bytes,
            status: ReceivedDeletedStatus::Deleted,
        }],
        Instant::now(),
    )
    .unwrap();
}

#[test]
fn lowering_replication_deletes_excess_replicas() {
    use crate::datanodes::StorageReport;
    let mut fs = fs();
    with_datanodes(&mut fs, 3);
    let st = create(&mut fs, &su(), "/x").unwrap();
    let lb = fs
        .add_block(&su(), "/x", Some(st.file_id), None, &[], &[])
        .unwrap();
    assert_eq!(lb.locations.len(), 3);
    received(&mut fs, &lb, 7);
    let mut b = lb.block.clone();
    b.num_bytes = 7;
    assert!(fs
        .complete(&su(), "/x", Some(st.file_id), Some(&b))
        .unwrap());
    // Remaining space: dn-2 < dn-1 < dn-3, so dn-2 goes first, then dn-1.
    let loc = |u: &str| {
        lb.locations
            .iter()
            .find(|l| l.id.uuid == u)
            .unwrap()
            .storage_id
            .clone()
    };
    for (u, remaining) in [("dn-1", 100), ("dn-2", 50), ("dn-3", 200)] {
        let r = StorageReport {
            storage_id: loc(u),
            failed: false,
            capacity: 1000,
            dfs_used: 1000 - remaining,
            remaining,
        };
        assert!(fs.heartbeat(u, &[r], 0, Instant::now()).is_empty());
    }
    assert_eq!(fs.blocks_per_node().values().sum::<u32>(), 3);

    fs.set_replication(&su(), "/x", 2).unwrap();
    assert_eq!(fs.live_replicas(b.block_id).len(), 2);
    assert_eq!(
        invalidated(&fs.heartbeat("dn-2", &[], 0, Instant::now())),
        [b.block_id]
    );
    assert!(invalidated(&fs.heartbeat("dn-1", &[], 0, Instant::now())).is_empty());
    // Asking again schedules nothing more: the replica being deleted is not live.
    fs.set_replication(&su(), "/x", 2).unwrap();
    assert!(invalidated(&fs.heartbeat("dn-2", &[], 0, Instant::now())).is_empty());
    fs.set_replication(&su(), "/x", 1).unwrap();
    assert_eq!(
        invalidated(&fs.heartbeat("dn-1", &[], 0, Instant::now())),
        [b.block_id]
    );
    assert!(invalidated(&fs.heartbeat("dn-3", &[], 0, Instant::now())).is_empty());
    assert_eq!(fs.live_replicas(b.block_id).len(), 1);
    // The locations stay until the DataNodes report the deletions.
    assert_eq!(fs.block_map().replica_count(b.block_id), 3);
    deleted(&mut fs, "dn-2", &loc("dn-2"), &b);
    deleted(&mut fs, "dn-1", &loc("dn-1"), &b);
    assert_eq!(fs.block_map().replica_count(b.block_id), 1);
    assert_eq!(fs.redundancy.excess_count(), 0);
    let per_node = fs.blocks_per_node();
    assert_eq!(per_node.values().sum::<u32>(), 1);

    // A node coming back with its replica while in safe mode: nothing is deleted
    // until safe mode ends.
    fs.set_safe_mode(SafeModeAction::Enter);
    received(&mut fs, &lb, 7);
    assert_eq!(fs.block_map().replica_count(b.block_id), 3);
    for u in ["dn-1", "dn-2", "dn-3"] {
        assert!(invalidated(&fs.heartbeat(u, &[], 0, Instant::now())).is_empty());
    }
    fs.set_safe_mode(SafeModeAction::Leave);
    let mut victims: Vec<&str> = ["dn-1", "dn-2", "dn-3"]
        .into_iter()
        .filter(|u| !invalidated(&fs.heartbeat(u, &[], 0, Instant::now())).is_empty())
        .collect();
    victims.sort_unstable();
    assert_eq!(victims, ["dn-1", "dn-2"]);

    // Raising the replication again while the deletions are in flight: the nodes still
    // holding a doomed copy are not targets, and only the kept replica is a source.
    fs.set_replication(&su(), "/x", 3).unwrap();
    assert_eq!(fs.compute_replication_work(10, Instant::now()), 0);
    deleted(&mut fs, "dn-2", &loc("dn-2"), &b);
    assert_eq!(fs.compute_replication_work(10, Instant::now()), 1);
    let cmds = fs.heartbeat("dn-3", &[], 0, Instant::now());
    assert!(cmds
        .iter()
        .any(|c| matches!(c, DatanodeCommand::Transfer { targets, .. }
        if targets.len() == 1 && targets[0].id.uuid == "dn-2")));
}

/// One consistent history using every opcode: each record is encoded, decoded and
/// replayed, must apply, and must change the saved image (so its replay does something).
fn every_op_history() -> Vec<EditOp> {
    let (d, f, g, b0) = (16386, 16387, 16388, (1u64 << 30) + 1);
    let add = |id: u64, name: &[u8], client: &str| EditOp::AddFile {
        id,
        parent: d,
        name: name.to_vec(),
        perm: 0o644,
        owner: "alice".into(),
        group: "supergroup".into(),
        mtime: 5,
        replication: 3,
        block_size: 1024,
        client_name: client.into(),
        client_machine: "10.0.0.1".into(),
    };
    vec![
        EditOp::Mkdir {
            id: d,
            parent: 16385,
            name: b"d".to_vec(),
            perm: 0o755,
            owner: "alice".into(),
            group: "supergroup".into(),
            mtime: 1,
        },
        add(f, b"f", "c1"),
        EditOp::AllocBlock {
            file: f,
            block: b0,
            gs: 1001,
        },
        EditOp::UpdateBlock {
            block: b0,
            gs: 1002,
            num_bytes: 10,
        },
        EditOp::AllocBlock {
            file: f,
            block: b0 + 1,
            gs: 1003,
        },
        EditOp::AbandonBlock {
            file: f,
            block: b0 + 1,
        },
        EditOp::Close {
            file: f,
            mtime: 20,
            atime: 21,
        },
        EditOp::Reopen {
            file: f,
            client_name: "c2".into(),
            client_machine: "m2".into(),
        },
        EditOp::ReassignLease {
            file: f,
            client_name: "HDFS_NameNode".into(),
        },
        EditOp::Close {
            file: f,
            mtime: 22,
            atime: 22,
        },
        add(g, b"g", "c3"),
        EditOp::AllocBlock {
            file: g,
            block: b0 + 2,
            gs: 1004,
        },
        EditOp::Close {
            file: g,
            mtime: 23,
            atime: 23,
        },
        EditOp::Concat {
            target: f,
            srcs: vec![g],
            mtime: 30,
        },
        EditOp::Truncate {
            file: f,
            keep_blocks: 1,
            last_len: 5,
            mtime: 31,
        },
        EditOp::Rename {
            id: f,
            parent: 16385,
            name: b"h".to_vec(),
            mtime: 32,
        },
        EditOp::SetReplication {
            id: f,
            replication: 2,
        },
        EditOp::SetPermission { id: f, perm: 0o600 },
        EditOp::SetOwner {
            id: f,
            owner: Some("bob".into()),
            group: None,
        },
        EditOp::SetTimes {
            id: f,
            mtime: -1,
            atime: 40,
        },
        EditOp::SetGenstamp { gs: 2000 },
        EditOp::SetXAttr {
            id: f,
            ns: 0,
            name: "a".into(),
            value: b"1".to_vec(),
        },
        EditOp::RemoveXAttr {
            id: f,
            ns: 0,
            name: "a".into(),
        },
        EditOp::Delete { id: f, mtime: 50 },
    ]
}

#[test]
fn every_opcode_round_trips_and_replays() {
    use crate::editlog::codec::Writer;
    use crate::editlog::op::opcode;
    let history = every_op_history();
    let covered: std::collections::BTreeSet<u8> = history.iter().map(EditOp::opcode).collect();
    let all: std::collections::BTreeSet<u8> = opcode::ALL.iter().copied().collect();
    assert_eq!(
        covered, all,
        "every opcode needs a step in every_op_history()"
    );
    let mut fs = fs();
    for op in &history {
        let mut w = Writer::default();
        op.encode(&mut w);
        let decoded = EditOp::decode(&w.buf).unwrap();
        assert_eq!(&decoded, op);
        let before = crate::image::save(&fs, 0);
        fs.apply(&decoded)
            .unwrap_or_else(|e| panic!("{} does not replay: {e}", op.name()));
        let after = crate::image::save(&fs, 0);
        assert_ne!(before, after, "{} changed nothing", op.name());
    }
    assert_eq!(fs.generation_stamp(), 2000);
    assert!(fs.namespace().ix_of(16387).is_none());
    assert!(fs.namespace().ix_of(16386).is_some());
}
