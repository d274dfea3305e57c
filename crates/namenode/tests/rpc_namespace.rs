//! ClientProtocol through the real RPC path (our ipc client → socket → ipc server →
//! handlers → NameNode): namespace semantics, reply shapes and error classes.

mod common;

use common::{class_of, su, TestNameNode};
use ferrodfs_ipc::client::namenode::NamenodeProtocol;
use ferrodfs_proto::hdfs::*;
use ferrodfs_proto::protocol::CLIENT_NAMENODE;

const FNF: &str = "java.io.FileNotFoundException";
const EXISTS: &str = "org.apache.hadoop.fs.FileAlreadyExistsException";
const DENIED: &str = "org.apache.hadoop.security.AccessControlException";
const NOT_EMPTY: &str = "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException";
const PARENT_NOT_DIR: &str = "org.apache.hadoop.fs.ParentNotDirectoryException";
const IOE: &str = "java.io.IOException";
const SAFE_MODE: &str = "org.apache.hadoop.hdfs.server.namenode.SafeModeException";

fn mkdirs(nn: &NamenodeProtocol, p: &str, parent: bool) -> ferrodfs_ipc::Result<bool> {
    nn.mkdirs(&MkdirsRequestProto {
        src: p.into(),
        masked: FsPermissionProto { perm: 0o755 },
        create_parent: parent,
        unmasked: None,
    })
    .map(|r| r.result)
}

fn create_req(p: &str, flag: u32, parent: bool) -> CreateRequestProto {
    CreateRequestProto {
        src: p.into(),
        masked: FsPermissionProto { perm: 0o644 },
        client_name: "DFSClient_test_1".into(),
        create_flag: flag,
        create_parent: parent,
        replication: 1,
        block_size: 1 << 20,
        ..Default::default()
    }
}

/// create + complete of an empty file (what `touchz` does).
fn touch(nn: &NamenodeProtocol, p: &str) -> HdfsFileStatusProto {
    let fs = nn.create(&create_req(p, 1, true)).unwrap().fs.unwrap();
    assert!(
        nn.complete(&CompleteRequestProto {
            src: p.into(),
            client_name: "DFSClient_test_1".into(),
            last: None,
            file_id: fs.file_id,
        })
        .unwrap()
        .result
    );
    fs
}

fn info(nn: &NamenodeProtocol, p: &str) -> Option<HdfsFileStatusProto> {
    nn.get_file_info(&GetFileInfoRequestProto { src: p.into() })
        .unwrap()
        .fs
}

fn list(nn: &NamenodeProtocol, p: &str, after: &[u8]) -> Option<DirectoryListingProto> {
    nn.get_listing(&GetListingRequestProto {
        src: p.into(),
        start_after: after.to_vec(),
        need_location: false,
    })
    .unwrap()
    .dir_list
}

#[test]
fn server_defaults_are_what_clients_need() {
    let t = TestNameNode::start();
    let d = t
        .client(&su())
        .get_server_defaults(&GetServerDefaultsRequestProto {})
        .unwrap()
        .server_defaults;
    assert_eq!(d.block_size, 128 << 20);
    assert_eq!(d.bytes_per_checksum, 512);
    assert_eq!(d.write_packet_size, 65536);
    assert_eq!(d.replication, 3);
    assert_eq!(d.file_buffer_size, 4096);
    assert_eq!(d.encrypt_data_transfer, Some(false));
    assert_eq!(d.trash_interval, Some(0));
    assert_eq!(
        d.checksum_type,
        Some(ChecksumTypeProto::ChecksumCrc32c as i32)
    );
}

#[test]
fn file_info_and_listing_shapes() {
    let t = TestNameNode::start_with(|c| c.namenode.ls_limit = 2);
    let nn = t.client(&su());
    assert!(
        info(&nn, "/nope").is_none(),
        "missing path: a reply without fs"
    );
    assert!(list(&nn, "/nope", b"").is_none(), "missing dir: no dirList");
    assert!(mkdirs(&nn, "/d/sub", true).unwrap());
    for name in ["b", "a", "c"] {
        touch(&nn, &format!("/d/{name}"));
    }
    let st = info(&nn, "/d").unwrap();
    assert!(st.path.is_empty(), "getFileInfo answers an empty path");
    assert_eq!(st.file_type, hdfs_file_status_proto::FileType::IsDir as i32);
    assert_eq!(st.children_num, Some(4));
    assert_eq!(st.owner, su());
    // Pages of 2, local names, byte-wise order.
    let p1 = list(&nn, "/d", b"").unwrap();
    let names: Vec<_> = p1.partial_listing.iter().map(|e| e.path.clone()).collect();
    assert_eq!(names, vec![b"a".to_vec(), b"b".to_vec()]);
    assert_eq!(p1.remaining_entries, 2);
    let p2 = list(&nn, "/d", b"b").unwrap();
    let names: Vec<_> = p2.partial_listing.iter().map(|e| e.path.clone()).collect();
    assert_eq!(names, vec![b"c".to_vec(), b"sub".to_vec()]);
    assert_eq!(p2.remaining_entries, 0);
    // What the Go client asks after the last page.
    let p3 = list(&nn, "/d", b"sub").unwrap();
    assert!(p3.partial_listing.is_empty());
    // Listing a file lists the file itself, with an empty local name.
    let f = list(&nn, "/d/a", b"").unwrap();
    assert_eq!(f.partial_listing.len(), 1);
    assert!(f.partial_listing[0].path.is_empty());
    assert_eq!(
        f.partial_listing[0].file_type,
        hdfs_file_status_proto::FileType::IsFile as i32
    );
    // needLocation attaches (empty) located blocks to files.
    let l = nn
        .get_listing(&GetListingRequestProto {
            src: "/d".into(),
            start_after: vec![],
            need_location: true,
        })
        .unwrap()
        .dir_list
        .unwrap();
    assert_eq!(
        l.partial_listing[0].locations.as_ref().unwrap().file_length,
        0
    );
}

#[test]
fn create_complete_and_block_locations() {
    let t = TestNameNode::start();
    let nn = t.client(&su());
    // createParent=false with a missing parent.
    assert_eq!(class_of(nn.create(&create_req("/x/y", 1, false))), FNF);
    let fs = touch(&nn, "/x/f");
    assert!(fs.path.is_empty());
    assert!(fs.file_id.unwrap() > 16385);
    assert_eq!(fs.blocksize, Some(1 << 20));
    assert_eq!(fs.block_replication, Some(1));
    // CREATE without OVERWRITE on an existing file.
    assert_eq!(class_of(nn.create(&create_req("/x/f", 1, true))), EXISTS);
    // CREATE|OVERWRITE replaces it.
    let again = nn.create(&create_req("/x/f", 3, true)).unwrap().fs.unwrap();
    assert_ne!(again.file_id, fs.file_id);
    assert!(
        !nn.is_file_closed(&IsFileClosedRequestProto { src: "/x/f".into() })
            .unwrap()
            .result
    );
    nn.complete(&CompleteRequestProto {
        src: "/x/f".into(),
        client_name: "DFSClient_test_1".into(),
        last: None,
        file_id: again.file_id,
    })
    .unwrap();
    let lbs = nn
        .get_block_locations(&GetBlockLocationsRequestProto {
            src: "/x/f".into(),
            offset: 0,
            length: u64::MAX,
        })
        .unwrap()
        .locations
        .unwrap();
    assert_eq!(lbs.file_length, 0);
    assert!(lbs.blocks.is_empty());
    assert!(!lbs.under_construction);
    let missing = nn.get_block_locations(&GetBlockLocationsRequestProto {
        src: "/x/missing".into(),
        offset: 0,
        length: 1,
    });
    assert_eq!(class_of(missing), FNF);
    // A file in the middle of a path.
    assert_eq!(class_of(mkdirs(&nn, "/x/f/g", true)), PARENT_NOT_DIR);
    // Append to a closed empty file: stat, and no block to continue.
    let a = nn
        .append(&AppendRequestProto {
            src: "/x/f".into(),
            client_name: "DFSClient_test_1".into(),
            flag: Some(4),
        })
        .unwrap();
    assert!(a.block.is_none());
    assert_eq!(a.stat.unwrap().file_id, again.file_id);
    assert_eq!(
        nn.get_preferred_block_size(&GetPreferredBlockSizeRequestProto {
            filename: "/x/f".into()
        })
        .unwrap()
        .bsize,
        1 << 20
    );
}

#[test]
fn delete_rename_and_their_errors() {
    let t = TestNameNode::start();
    let nn = t.client(&su());
    mkdirs(&nn, "/a/b/c", true).unwrap();
    touch(&nn, "/a/b/f");
    let del = |p: &str, r: bool| {
        nn.delete(&DeleteRequestProto {
            src: p.into(),
            recursive: r,
        })
        .map(|r| r.result)
    };
    assert_eq!(class_of(del("/a", false)), NOT_EMPTY);
    // Rename into its own subtree: v1 answers false, v2 throws.
    let rename = |s: &str, d: &str| {
        nn.rename(&RenameRequestProto {
            src: s.into(),
            dst: d.into(),
        })
        .map(|r| r.result)
    };
    assert!(!rename("/a", "/a/b/c/a").unwrap());
    let r2 = nn.rename2(&Rename2RequestProto {
        src: "/a".into(),
        dst: "/a/b/c/a".into(),
        overwrite_dest: false,
        move_to_trash: None,
    });
    assert_eq!(class_of(r2), IOE);
    // v1 into an existing directory moves inside it.
    mkdirs(&nn, "/dst", true).unwrap();
    assert!(rename("/a/b/f", "/dst").unwrap());
    assert!(info(&nn, "/dst/f").is_some());
    // rename2 with overwrite over a file.
    touch(&nn, "/dst/g");
    nn.rename2(&Rename2RequestProto {
        src: "/dst/f".into(),
        dst: "/dst/g".into(),
        overwrite_dest: true,
        move_to_trash: None,
    })
    .unwrap();
    assert!(info(&nn, "/dst/f").is_none());
    assert!(del("/a", true).unwrap());
    assert!(
        !del("/a", true).unwrap(),
        "deleting a missing path answers false"
    );
    let cs = nn
        .get_content_summary(&GetContentSummaryRequestProto { path: "/".into() })
        .unwrap()
        .summary;
    assert_eq!((cs.directory_count, cs.file_count, cs.length), (2, 1, 0));
    assert_eq!(cs.quota as i64, -1);
}

#[test]
fn permissions_follow_the_connection_user() {
    let t = TestNameNode::start();
    let nn = t.client(&su());
    mkdirs(&nn, "/private", true).unwrap();
    nn.set_permission(&SetPermissionRequestProto {
        src: "/private".into(),
        permission: FsPermissionProto { perm: 0o700 },
    })
    .unwrap();
    let bob = t.client("bob");
    assert_eq!(class_of(mkdirs(&bob, "/private/x", true)), DENIED);
    assert_eq!(
        class_of(bob.get_listing(&GetListingRequestProto {
            src: "/private".into(),
            start_after: vec![],
            need_location: false,
        })),
        DENIED
    );
    assert_eq!(class_of(mkdirs(&bob, "/bobs", true)), DENIED, "/ is 755");
    // The superuser gives bob a home; bob owns what he creates there.
    mkdirs(&nn, "/user/bob", true).unwrap();
    nn.set_owner(&SetOwnerRequestProto {
        src: "/user/bob".into(),
        username: Some("bob".into()),
        groupname: Some("staff".into()),
    })
    .unwrap();
    assert!(mkdirs(&bob, "/user/bob/x", true).unwrap());
    let st = info(&bob, "/user/bob/x").unwrap();
    assert_eq!((st.owner.as_str(), st.group.as_str()), ("bob", "staff"));
    assert_eq!(st.permission.perm, 0o755);
    // Only the owner changes modes; only the superuser changes owners.
    let chmod = nn.set_permission(&SetPermissionRequestProto {
        src: "/user/bob/x".into(),
        permission: FsPermissionProto { perm: 0o700 },
    });
    assert!(chmod.is_ok(), "superuser may");
    let eve = t.client("eve");
    assert_eq!(
        class_of(eve.set_permission(&SetPermissionRequestProto {
            src: "/user/bob/x".into(),
            permission: FsPermissionProto { perm: 0o777 },
        })),
        DENIED
    );
    assert_eq!(
        class_of(bob.set_owner(&SetOwnerRequestProto {
            src: "/user/bob/x".into(),
            username: Some("eve".into()),
            groupname: None,
        })),
        DENIED
    );
    // Safe mode is the superuser's.
    let enter = SetSafeModeRequestProto {
        action: SafeModeActionProto::SafemodeEnter as i32,
        checked: None,
    };
    assert_eq!(class_of(bob.set_safe_mode(&enter)), DENIED);
    assert!(nn.set_safe_mode(&enter).unwrap().result);
    assert_eq!(class_of(mkdirs(&nn, "/in-safe-mode", true)), SAFE_MODE);
    let leave = SetSafeModeRequestProto {
        action: SafeModeActionProto::SafemodeLeave as i32,
        checked: None,
    };
    assert!(!nn.set_safe_mode(&leave).unwrap().result);
    assert!(mkdirs(&nn, "/in-safe-mode", true).unwrap());
}

#[test]
fn attributes_times_replication_and_misc_calls() {
    let t = TestNameNode::start();
    let nn = t.client(&su());
    touch(&nn, "/f");
    nn.set_times(&SetTimesRequestProto {
        src: "/f".into(),
        mtime: 1_000_000,
        atime: u64::MAX, // -1: unchanged
    })
    .unwrap();
    let st = info(&nn, "/f").unwrap();
    assert_eq!(st.modification_time, 1_000_000);
    assert!(
        nn.set_replication(&SetReplicationRequestProto {
            src: "/f".into(),
            replication: 2
        })
        .unwrap()
        .result
    );
    assert_eq!(info(&nn, "/f").unwrap().block_replication, Some(2));
    // Clients with no lease renew successfully (the Go client does it every second).
    nn.renew_lease(&RenewLeaseRequestProto {
        client_name: "DFSClient_nobody".into(),
        namespaces: vec![],
    })
    .unwrap();
    nn.msync(&MsyncRequestProto {}).unwrap();
    let stats = nn.get_fs_stats(&GetFsStatusRequestProto {}).unwrap();
    assert!(stats.capacity > 0, "clients divide by the capacity");
    assert_eq!(stats.used, 0);
    assert!(
        nn.truncate(&TruncateRequestProto {
            src: "/f".into(),
            new_length: 0,
            client_name: "DFSClient_test_1".into(),
        })
        .unwrap()
        .result
    );
    let report = nn
        .get_datanode_report(&GetDatanodeReportRequestProto {
            r#type: DatanodeReportTypeProto::All as i32,
        })
        .unwrap();
    assert!(report.di.is_empty());
}

#[test]
fn unknown_methods_and_undecodable_requests() {
    let t = TestNameNode::start();
    let nn = t.client(&su());
    let r: ferrodfs_ipc::Result<GetFsStatsResponseProto> = nn.client().call(
        t.addr(),
        CLIENT_NAMENODE,
        "getStoragePolicies",
        &GetFsStatusRequestProto {},
    );
    assert_eq!(
        class_of(r),
        "org.apache.hadoop.ipc.RpcNoSuchMethodException"
    );
    // A request missing a required field is refused, and the connection lives on.
    let r: ferrodfs_ipc::Result<GetFileInfoResponseProto> = nn.client().call(
        t.addr(),
        CLIENT_NAMENODE,
        "getFileInfo",
        &GetFsStatusRequestProto {},
    );
    assert!(r.is_err());
    assert!(info(&nn, "/").is_some());
}

#[test]
fn acknowledged_changes_survive_restart() {
    let mut t = TestNameNode::start();
    let nn = t.client(&su());
    mkdirs(&nn, "/keep/me", true).unwrap();
    touch(&nn, "/keep/file");
    nn.rename(&RenameRequestProto {
        src: "/keep/me".into(),
        dst: "/keep/moved".into(),
    })
    .unwrap();
    t.restart();
    let nn = t.client(&su());
    assert!(info(&nn, "/keep/moved").is_some());
    assert!(info(&nn, "/keep/me").is_none());
    assert!(info(&nn, "/keep/file").is_some());
    // The clean shutdown wrote a checkpoint.
    let images = std::fs::read_dir(t.name_dir().join("current"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("fsimage_")
        })
        .count();
    assert!(images >= 2, "format image + shutdown checkpoint");
}

#[test]
fn xattr_calls_over_rpc() {
    let t = TestNameNode::start();
    let nn = t.client(&su());
    mkdirs(&nn, "/xa", true).unwrap();
    let x = |ns: i32, name: &str, value: Option<&[u8]>| XAttrProto {
        namespace: ns,
        name: name.into(),
        value: value.map(<[u8]>::to_vec),
    };
    let set = |xa: XAttrProto, flag: u32| {
        nn.set_xattr(&SetXAttrRequestProto {
            src: "/xa".into(),
            x_attr: Some(xa),
            flag: Some(flag),
        })
    };
    set(x(0, "a", Some(b"1")), 1).unwrap();
    set(x(0, "b", None), 1).unwrap();
    set(x(1, "t", Some(b"t")), 1).unwrap();
    assert_eq!(
        class_of(set(x(0, "a", Some(b"2")), 1)),
        "java.io.IOException"
    );
    assert_eq!(
        class_of(set(x(3, "s", None), 3)),
        "org.apache.hadoop.security.AccessControlException"
    );
    let got = nn
        .get_xattrs(&GetXAttrsRequestProto {
            src: "/xa".into(),
            x_attrs: vec![],
        })
        .unwrap()
        .x_attrs;
    assert_eq!(
        got,
        [
            x(0, "a", Some(b"1")),
            x(0, "b", None),
            x(1, "t", Some(b"t"))
        ]
    );
    let named = nn
        .get_xattrs(&GetXAttrsRequestProto {
            src: "/xa".into(),
            x_attrs: vec![x(0, "zz", None)],
        })
        .map(|r| r.x_attrs);
    assert_eq!(class_of(named), "java.io.IOException");
    let listed = nn
        .list_xattrs(&ListXAttrsRequestProto { src: "/xa".into() })
        .unwrap()
        .x_attrs;
    assert_eq!(listed, [x(0, "a", None), x(0, "b", None), x(1, "t", None)]);
    nn.remove_xattr(&RemoveXAttrRequestProto {
        src: "/xa".into(),
        x_attr: Some(x(0, "a", None)),
    })
    .unwrap();
    let again = nn.remove_xattr(&RemoveXAttrRequestProto {
        src: "/xa".into(),
        x_attr: Some(x(0, "a", None)),
    });
    assert_eq!(class_of(again), "java.io.IOException");
    let missing = nn.list_xattrs(&ListXAttrsRequestProto {
        src: "/nope".into(),
    });
    assert_eq!(class_of(missing), FNF);
}
