//! FsDataset on real files in temp dirs, with real fsync, across "restarts"
//! (a new FsDataset over the same directories).

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use ferrodfs_datanode::storage::{
    block_file_name, id_to_block_dir, meta_file_name, DatasetConfig, ExtendedBlock, FsDataset,
    NamespaceInfo, ReplicaState,
};
use ferrodfs_datanode::Error;
use ferrodfs_transfer::checksum::{ChecksumType, DataChecksum};

const BP: &str = "BP-526805057-127.0.0.1-1700000000000";
const BLK: i64 = 1_073_741_825;

fn ns() -> NamespaceInfo {
    NamespaceInfo::new(BP, 12345, "CID-test")
}

fn open(dirs: &[PathBuf]) -> FsDataset {
    let ds = FsDataset::open(DatasetConfig::new(dirs.to_vec())).unwrap();
    ds.add_block_pool(&ns()).unwrap();
    ds
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn crc32c() -> DataChecksum {
    DataChecksum::new(ChecksumType::Crc32c, 512).unwrap()
}

/// Writes `data` in packets of `packet` bytes (a multiple of the chunk size,
/// or the whole), as a client would.
fn write_all(w: &mut ferrodfs_datanode::storage::ReplicaWriter, data: &[u8], packet: usize) {
    let sum = w.checksum();
    let mut off = 0;
    while off < data.len() {
        let end = (off + packet).min(data.len());
        w.write_packet(off as u64, &data[off..end], &sum.compute(&data[off..end]))
            .unwrap();
        off = end;
    }
}

fn read_all(ds: &FsDataset, b: &ExtendedBlock) -> Vec<u8> {
    let r = ds.open_for_read(b).unwrap();
    let mut buf = vec![0; r.visible_length() as usize];
    r.read_data(0, &mut buf).unwrap();
    buf
}

fn finalized_path(vol: &Path, id: i64) -> PathBuf {
    id_to_block_dir(
        &vol.join("current")
            .join(BP)
            .join("current")
            .join("finalized"),
        id,
    )
}

#[test]
fn write_finalize_restart_read_both_checksum_types() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = vec![tmp.path().join("d1")];
    let data = pattern(5000, 1);
    let storage_id;
    {
        let ds = open(&dirs);
        storage_id = ds.storage_ids()[0].clone();
        assert!(storage_id.starts_with("DS-"));
        for (i, kind) in [ChecksumType::Crc32c, ChecksumType::Crc32]
            .into_iter()
            .enumerate()
        {
            let b = ExtendedBlock::new(BP, BLK + i as i64, 1001, 0);
            let sum = DataChecksum::new(kind, 512).unwrap();
            let mut w = ds.create_rbw(&b, sum, 0).unwrap();
            write_all(&mut w, &data, 1536);
            w.set_bytes_acked(5000).unwrap();
            // Readable (up to the acked length) while being written.
            assert_eq!(read_all(&ds, &b), data);
            let info = w.finalize().unwrap();
            assert_eq!(info.state, ReplicaState::Finalized);
            assert_eq!(info.num_bytes, 5000);
        }
        // Registering again (a NameNode restart) keeps every replica.
        ds.add_block_pool(&ns()).unwrap();
        for i in 0..2 {
            let b = ExtendedBlock::new(BP, BLK + i, 1001, 0);
            assert_eq!(read_all(&ds, &b), data);
        }
        assert!(matches!(
            ds.create_rbw(&ExtendedBlock::new(BP, BLK, 1001, 0), crc32c(), 0),
            Err(Error::ReplicaAlreadyExists { .. })
        ));
        // A second DataNode cannot take the same directory.
        assert!(matches!(
            FsDataset::open(DatasetConfig::new(dirs.clone())),
            Err(Error::Locked { .. })
        ));
    }
    // On-disk layout, as Hadoop's.
    let vol = &dirs[0];
    let version = std::fs::read_to_string(vol.join("current/VERSION")).unwrap();
    assert!(version.starts_with('#'));
    assert!(version.contains(&format!("storageID={storage_id}\n")));
    assert!(version.contains("clusterID=CID-test\n"));
    assert!(version.contains("storageType=DATA_NODE\nlayoutVersion=-57\n"));
    let bp_version =
        std::fs::read_to_string(vol.join("current").join(BP).join("current/VERSION")).unwrap();
    assert!(bp_version.contains(&format!("namespaceID=12345\ncTime=0\nblockpoolID={BP}\n")));
    let fdir = finalized_path(vol, BLK);
    assert!(fdir.ends_with("finalized/subdir0/subdir0"));
    assert_eq!(
        std::fs::read(fdir.join(block_file_name(BLK))).unwrap(),
        data
    );
    let meta = std::fs::read(fdir.join(meta_file_name(BLK, 1001))).unwrap();
    assert_eq!(&meta[..7], &[0, 1, 2, 0, 0, 2, 0]);
    assert_eq!(meta.len(), 7 + 10 * 4);
    assert_eq!(&meta[7..], &crc32c().compute(&data)[..]);
    let meta2 = std::fs::read(fdir.join(meta_file_name(BLK + 1, 1001))).unwrap();
    assert_eq!(&meta2[..7], &[0, 1, 1, 0, 0, 2, 0]);

    // Restart.
    let ds = open(&dirs);
    assert_eq!(ds.storage_ids(), vec![storage_id.clone()]);
    for i in 0..2 {
        let b = ExtendedBlock::new(BP, BLK + i, 1001, 5000);
        let info = ds.get_replica(BP, BLK + i).unwrap();
        assert_eq!(info.state, ReplicaState::Finalized);
        assert_eq!(info.num_bytes, 5000);
        assert_eq!(read_all(&ds, &b), data);
        ds.verify_replica(&b).unwrap();
    }
    assert_eq!(
        ds.get_replica(BP, BLK + 1).unwrap().checksum.kind(),
        ChecksumType::Crc32
    );
    let report = ds.block_report(BP).unwrap();
    assert_eq!(report.len(), 1);
    assert_eq!(report[0].storage_id, storage_id);
    assert_eq!(report[0].replicas.len(), 2);
    // An older generation stamp cannot be read; a newer one is required.
    assert!(matches!(
        ds.open_for_read(&ExtendedBlock::new(BP, BLK, 1002, 0)),
        Err(Error::GenStampMismatch { .. })
    ));
}

#[test]
fn corrupt_byte_on_disk_is_reported_with_chunk_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = vec![tmp.path().join("d")];
    let ds = open(&dirs);
    for (i, kind) in [ChecksumType::Crc32c, ChecksumType::Crc32]
        .into_iter()
        .enumerate()
    {
        let id = BLK + i as i64;
        let b = ExtendedBlock::new(BP, id, 7, 0);
        let mut w = ds
            .create_rbw(&b, DataChecksum::new(kind, 512).unwrap(), 0)
            .unwrap();
        write_all(&mut w, &pattern(4096, 9), 4096);
        w.finalize().unwrap();
        let path = finalized_path(&dirs[0], id).join(block_file_name(id));
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all_at(&[0xff], 2000).unwrap();
        f.sync_all().unwrap();
        match ds.verify_replica(&b) {
            Err(Error::Corrupt { block_id, offset }) => {
                assert_eq!(block_id, id);
                assert_eq!(offset, 1536);
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
        let r = ds.open_for_read(&b).unwrap();
        r.verify(0, 1536).unwrap();
        r.verify(2048, 2048).unwrap();
        assert!(matches!(
            r.verify(1999, 1),
            Err(Error::Corrupt { offset: 1536, .. })
        ));
    }
}

#[test]
fn packet_with_bad_checksum_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = open(&[tmp.path().join("d")]);
    let b = ExtendedBlock::new(BP, BLK, 1, 0);
    let mut w = ds.create_rbw(&b, crc32c(), 0).unwrap();
    let data = pattern(1024, 3);
    let mut sums = crc32c().compute(&data);
    sums[5] ^= 1;
    assert!(matches!(
        w.write_packet(0, &data, &sums),
        Err(Error::PacketChecksum { offset: 512, .. })
    ));
    assert_eq!(w.bytes_on_disk(), 0);
    assert!(matches!(
        w.write_packet(10, &data[..10], &crc32c().compute(&data[..10])),
        Err(Error::WriteBeyondEnd { .. })
    ));
}

#[test]
fn partial_rbw_is_recovered_as_rwr_and_inconsistent_ones_discarded() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = vec![tmp.path().join("d")];
    let data = pattern(3000, 5);
    let rbw = dirs[0].join("current").join(BP).join("current").join("rbw");
    {
        let ds = open(&dirs);
        let mut w = ds
            .create_rbw(&ExtendedBlock::new(BP, BLK, 1001, 0), crc32c(), 0)
            .unwrap();
        write_all(&mut w, &data, 1024);
        w.sync().unwrap();
        // Second replica: data only, no meta (crash right after create).
        let mut w2 = ds
            .create_rbw(&ExtendedBlock::new(BP, BLK + 1, 1001, 0), crc32c(), 0)
            .unwrap();
        write_all(&mut w2, &data[..600], 600);
        // Crash: writers dropped without finalize.
    }
    std::fs::remove_file(rbw.join(meta_file_name(BLK + 1, 1001))).unwrap();
    // A torn write: 700 more bytes of data reached the disk but not their
    // checksums, and the last stored chunk's data was damaged.
    {
        let mut f = OpenOptions::new()
            .append(true)
            .open(rbw.join(block_file_name(BLK)))
            .unwrap();
        f.write_all(&[0xAB; 700]).unwrap();
        let f = OpenOptions::new()
            .write(true)
            .open(rbw.join(block_file_name(BLK)))
            .unwrap();
        f.write_all_at(&[0u8; 4], 2600).unwrap();
    }
    let ds = open(&dirs);
    let info = ds.get_replica(BP, BLK).unwrap();
    assert_eq!(info.state, ReplicaState::Rwr);
    // Chunks: [0,512) ... [2048,2560) verify; [2560,3000) was damaged.
    assert_eq!(info.bytes_on_disk, 2560);
    assert_eq!(
        std::fs::metadata(rbw.join(block_file_name(BLK)))
            .unwrap()
            .len(),
        2560
    );
    assert_eq!(
        std::fs::metadata(rbw.join(meta_file_name(BLK, 1001)))
            .unwrap()
            .len(),
        7 + 5 * 4
    );
    assert!(ds.get_replica(BP, BLK + 1).is_none());
    assert!(!rbw.join(block_file_name(BLK + 1)).exists());
    // RWR is reported, with its length.
    let rep = &ds.block_report(BP).unwrap()[0].replicas;
    assert_eq!(rep.len(), 1);
    assert_eq!((rep[0].state, rep[0].num_bytes), (ReplicaState::Rwr, 2560));

    // Lease recovery of the RWR replica: agree on 2000 bytes, gs 1002.
    let b = ExtendedBlock::new(BP, BLK, 1001, 0);
    let rinfo = ds.init_replica_recovery(&b, 1002).unwrap();
    assert_eq!(rinfo.original_state, ReplicaState::Rwr);
    assert_eq!(rinfo.num_bytes, 2560);
    assert!(matches!(
        ds.init_replica_recovery(&b, 1002),
        Err(Error::RecoveryInProgress { .. })
    ));
    let done = ds.update_replica_under_recovery(&b, 1002, 2000).unwrap();
    assert_eq!(
        (done.state, done.gen_stamp, done.num_bytes),
        (ReplicaState::Finalized, 1002, 2000)
    );
    let fdir = finalized_path(&dirs[0], BLK);
    assert!(fdir.join(meta_file_name(BLK, 1002)).exists());
    assert!(!rbw.join(meta_file_name(BLK, 1001)).exists());
    let nb = ExtendedBlock::new(BP, BLK, 1002, 2000);
    assert_eq!(read_all(&ds, &nb), &data[..2000]);
    ds.verify_replica(&nb).unwrap(); // last partial chunk's checksum recomputed
}

#[test]
fn append_into_partial_chunk_and_pipeline_recovery() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = vec![tmp.path().join("d")];
    let ds = open(&dirs);
    let all = pattern(2000, 11);
    let b = ExtendedBlock::new(BP, BLK, 1001, 0);
    let mut w = ds.create_rbw(&b, crc32c(), 0).unwrap();
    write_all(&mut w, &all[..700], 700);
    w.finalize().unwrap();

    // Append with a new GS; the first packet ends at the chunk boundary
    // (1024) with a checksum over just its bytes, as clients send it.
    let mut w = ds.append(&b, 1002, 700).unwrap();
    assert!(matches!(
        ds.append(&b, 1003, 700),
        Err(Error::WrongState { .. })
    ));
    let sum = crc32c();
    w.write_packet(700, &all[700..1024], &sum.compute(&all[700..1024]))
        .unwrap();
    w.write_packet(1024, &all[1024..1500], &sum.compute(&all[1024..1500]))
        .unwrap();
    w.set_bytes_acked(1024).unwrap();

    // Pipeline recovery: only 1024 bytes were acked; the rest is dropped and
    // the old writer is superseded.
    let b2 = ExtendedBlock::new(BP, BLK, 1002, 0);
    let mut w2 = ds.recover_rbw(&b2, 1003, 1024, 1500).unwrap();
    assert_eq!(w2.bytes_on_disk(), 1024);
    assert!(matches!(
        w.write_packet(1500, &all[1500..1536], &sum.compute(&all[1500..1536])),
        Err(Error::WriterSuperseded { .. })
    ));
    // The client resends from its last acked chunk; overlap is skipped.
    w2.write_packet(512, &all[512..2000], &sum.compute(&all[512..2000]))
        .unwrap();
    w2.set_bytes_acked(2000).unwrap();
    w2.sync().unwrap();
    let info = w2.finalize().unwrap();
    assert_eq!((info.gen_stamp, info.num_bytes), (1003, 2000));
    let nb = ExtendedBlock::new(BP, BLK, 1003, 2000);
    assert_eq!(read_all(&ds, &nb), all);
    ds.verify_replica(&nb).unwrap();

    // recover_close on a finalized replica only bumps the GS.
    let info = ds.recover_close(&nb, 1004, 2000).unwrap();
    assert_eq!(
        (info.state, info.gen_stamp),
        (ReplicaState::Finalized, 1004)
    );
    // Writers share the dataset (and its directory locks): drop them all.
    drop(w);
    drop(ds);
    let ds = open(&dirs);
    let info = ds.get_replica(BP, BLK).unwrap();
    assert_eq!((info.gen_stamp, info.num_bytes), (1004, 2000));
}

#[test]
fn multiple_volumes_round_robin_reports_and_invalidate() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = vec![tmp.path().join("a"), tmp.path().join("b")];
    let ds = open(&dirs);
    let ids = ds.storage_ids();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    for i in 0..4 {
        let b = ExtendedBlock::new(BP, BLK + i, 1, 0);
        let mut w = ds.create_rbw(&b, crc32c(), 1024).unwrap();
        write_all(&mut w, &pattern(1000, i as u8), 1000);
        w.finalize().unwrap();
        assert_eq!(
            ds.get_replica(BP, BLK + i).unwrap().storage_id,
            ids[i as usize % 2]
        );
    }
    let report = ds.block_report(BP).unwrap();
    assert_eq!(report[0].replicas.len(), 2);
    assert_eq!(report[1].replicas.len(), 2);
    let sr = ds.storage_reports(BP).unwrap();
    for s in &sr {
        assert!(s.capacity > 0 && s.remaining <= s.capacity);
        assert_eq!(s.dfs_used, 2 * (1000 + 7 + 2 * 4));
        assert_eq!(s.block_pool_used, s.dfs_used);
    }
    // Nothing fits a huge block.
    assert!(matches!(
        ds.create_rbw(&ExtendedBlock::new(BP, 99, 1, 0), crc32c(), u64::MAX),
        Err(Error::DiskOutOfSpace { .. })
    ));
    assert!(matches!(
        ds.invalidate(BP, &[BLK, 424242]),
        Err(Error::ReplicaNotFound { block_id: 424242 })
    ));
    assert!(ds.get_replica(BP, BLK).is_none());
    assert!(!finalized_path(&dirs[0], BLK)
        .join(block_file_name(BLK))
        .exists());
    drop(ds);
    let ds = open(&dirs);
    let total: usize = ds
        .block_report(BP)
        .unwrap()
        .iter()
        .map(|r| r.replicas.len())
        .sum();
    assert_eq!(total, 3);
    assert!(matches!(
        ds.add_block_pool(&NamespaceInfo::new(BP, 1, "CID-other")),
        Err(Error::ClusterIdMismatch { .. })
    ));
}

#[test]
fn interrupted_finalize_is_completed_at_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = vec![tmp.path().join("d")];
    let data = pattern(1500, 2);
    {
        let ds = open(&dirs);
        let mut w = ds
            .create_rbw(&ExtendedBlock::new(BP, BLK, 5, 0), crc32c(), 0)
            .unwrap();
        write_all(&mut w, &data, 1500);
        w.finalize().unwrap();
    }
    // Simulate a crash between the meta rename and the data rename.
    let fdir = finalized_path(&dirs[0], BLK);
    let rbw = dirs[0].join("current").join(BP).join("current").join("rbw");
    std::fs::rename(
        fdir.join(block_file_name(BLK)),
        rbw.join(block_file_name(BLK)),
    )
    .unwrap();
    let ds = open(&dirs);
    let info = ds.get_replica(BP, BLK).unwrap();
    assert_eq!(
        (info.state, info.num_bytes),
        (ReplicaState::Finalized, 1500)
    );
    assert_eq!(read_all(&ds, &ExtendedBlock::new(BP, BLK, 5, 0)), data);
}

#[test]
fn temporary_replicas_do_not_survive_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = vec![tmp.path().join("d")];
    {
        let ds = open(&dirs);
        let b = ExtendedBlock::new(BP, BLK, 1, 0);
        let mut w = ds.create_temporary(&b, crc32c(), 0).unwrap();
        write_all(&mut w, &pattern(100, 0), 100);
        assert!(ds.block_report(BP).unwrap()[0].replicas.is_empty());
    }
    let ds = open(&dirs);
    assert!(ds.get_replica(BP, BLK).is_none());
    let tmpdir = dirs[0].join("current").join(BP).join("tmp");
    assert_eq!(std::fs::read_dir(tmpdir).unwrap().count(), 0);
}
