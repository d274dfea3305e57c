//! The checkpoint image: the whole namespace, the block map and the id / generation-stamp
//! counters as of one txid, in one file with a trailing CRC32C.
//!
//! Layout (little-endian, field encoding of [`crate::editlog::codec`]):
//!
//! ```text
//! "FERROIMG" u32 version
//! u64 last_txid, u64 next_inode_id, u64 next_block_id, u64 gen_stamp
//! u64 inode_count, then inodes in pre-order (a parent before its children):
//!   u64 id, u64 parent_id (root: its own id), bytes name, u8 kind (0 dir, 1 file),
//!   u16 perm, str owner, str group, i64 mtime, i64 atime,
//!   file only: u16 replication, u64 block_size, u32 block_count,
//!              block_count x (u64 id, u64 gs, u64 num_bytes),
//!              u8 under_construction, [str client_name, str client_machine]
//! version >= 2: xattr section: u64 inode_count, then per inode (in pre-order)
//!   u64 id, u32 xattr_count, xattr_count x (u8 namespace, str name, bytes value)
//! u32 crc32c of every byte before it
//! ```
//!
//! Version 1 images (written before extended attributes existed) have no xattr section
//! and are still read.

use crate::blocks::{BlockInfo, BlockState, FIRST_BLOCK_ID};
use crate::config::NameNodeConfig;
use crate::editlog::codec::{DecodeError, Reader, Writer};
use crate::error::{Error, Result};
use crate::namespace::xattr::{XAttr, XAttrNameSpace};
use crate::namespace::{
    BlockList, FileData, Inode, InodeKind, Name, Namespace, UnderConstruction, ROOT_INODE_ID,
};
use crate::namesystem::FsNamesystem;
use std::path::Path;
use std::time::Instant;

pub const IMAGE_MAGIC: &[u8; 8] = b"FERROIMG";
pub const IMAGE_VERSION: u32 = 2;
/// The oldest version still read (no xattr section).
pub const IMAGE_VERSION_MIN: u32 = 1;
/// Fewest bytes an inode takes: id, parent, name length, kind, perm, owner and
/// group lengths, mtime, atime.
const MIN_INODE_LEN: usize = 8 + 8 + 4 + 1 + 2 + 4 + 4 + 8 + 8;
/// Bytes of one block in a file's list: id, generation stamp, length.
const BLOCK_LEN: usize = 24;

/// Serializes the namesystem as of `last_txid`.
pub fn save(fs: &FsNamesystem, last_txid: u64) -> Vec<u8> {
    let ns = fs.namespace();
    let mut w = Writer::default();
    w.buf.extend_from_slice(IMAGE_MAGIC);
    w.u32(IMAGE_VERSION);
    w.u64(last_txid);
    w.u64(fs.next_inode_id);
    w.u64(fs.next_block_id);
    w.u64(fs.gen_stamp);
    let order = ns.preorder();
    w.u64(order.len() as u64);
    for ix in order {
        let Some(inode) = ns.get(ix) else { continue };
        w.u64(ns.id_of(ix));
        w.u64(ns.id_of(inode.parent));
        w.bytes(inode.name.as_bytes());
        w.u8(u8::from(!inode.is_dir()));
        w.u16(inode.perm);
        w.str(ns.owner_name(inode));
        w.str(ns.group_name(inode));
        w.i64(inode.mtime);
        w.i64(inode.atime);
        if let InodeKind::File(f) = &inode.kind {
            w.u16(f.replication());
            w.u64(f.block_size());
            let blocks = f.blocks.as_slice();
            w.u32(blocks.len() as u32);
            for &b in blocks {
                let info = fs.blocks.get(b);
                w.u64(b);
                w.u64(info.map_or(0, |i| i.gs));
                w.u64(info.map_or(0, |i| i.num_bytes));
            }
            match &f.uc {
                None => w.u8(0),
                Some(uc) => {
                    w.u8(1);
                    w.str(&uc.client_name);
                    w.str(&uc.client_machine);
                }
            }
        }
    }
    let with_xattrs: Vec<(u64, &[XAttr])> = ns
        .preorder()
        .into_iter()
        .map(|ix| ns.id_of(ix))
        .map(|id| (id, ns.xattrs(id)))
        .filter(|(_, x)| !x.is_empty())
        .collect();
    w.u64(with_xattrs.len() as u64);
    for (id, xattrs) in with_xattrs {
        w.u64(id);
        w.u32(xattrs.len() as u32);
        for x in xattrs {
            w.u8(x.ns.to_proto() as u8);
            w.str(&x.name);
            w.bytes(&x.value);
        }
    }
    let crc = crc32c::crc32c(&w.buf);
    w.u32(crc);
    w.buf
}

/// Rebuilds a namesystem from an image; returns it with the image's last txid.
///
/// A damaged image is [`Error::Corrupt`] naming `path` and the byte offset of
/// the field that failed (the checksum's offset for a checksum mismatch); no
/// count or length in it reserves memory before its bytes are known to exist,
/// and no inode or block id beyond the image's own `next_inode_id` /
/// `next_block_id` is accepted (both tables are dense: an id sizes its table).
pub fn load(
    bytes: &[u8],
    path: &Path,
    config: NameNodeConfig,
    block_pool_id: &str,
) -> Result<(FsNamesystem, u64)> {
    let corrupt_at = |offset: usize, reason: &'static str| Error::Corrupt {
        file: path.to_owned(),
        offset: offset as u64,
        reason,
    };
    if bytes.len() < IMAGE_MIN_LEN || &bytes[..8] != IMAGE_MAGIC {
        return Err(corrupt_at(0, "not an image"));
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    let mut crc_bytes = [0u8; 4];
    crc_bytes.copy_from_slice(crc);
    if crc32c::crc32c(body) != u32::from_le_bytes(crc_bytes) {
        return Err(corrupt_at(body.len(), "image checksum mismatch"));
    }
    let mut r = Reader::new(&body[IMAGE_MAGIC.len()..]);
    let parsed = parse(&mut r, config, block_pool_id);
    let at = IMAGE_MAGIC.len() + r.position();
    parsed.map_err(|e| match e {
        ParseError::Decode(DecodeError::Truncated) => corrupt_at(at, "image truncated"),
        ParseError::Decode(DecodeError::Invalid(why)) | ParseError::Corrupt(why) => {
            corrupt_at(at, why)
        }
    })
}

/// Magic, version, four counters, inode count and the trailing checksum.
const IMAGE_MIN_LEN: usize = 8 + 4 + 5 * 8 + 4;

enum ParseError {
    Decode(DecodeError),
    /// Fields that decode but cannot be right.
    Corrupt(&'static str),
}

impl From<DecodeError> for ParseError {
    fn from(e: DecodeError) -> Self {
        ParseError::Decode(e)
    }
}

fn parse(
    r: &mut Reader<'_>,
    config: NameNodeConfig,
    block_pool_id: &str,
) -> Result<(FsNamesystem, u64), ParseError> {
    use ParseError::Corrupt;
    let version = r.u32()?;
    if !(IMAGE_VERSION_MIN..=IMAGE_VERSION).contains(&version) {
        return Err(Corrupt("unsupported image version"));
    }
    let last_txid = r.u64()?;
    let next_inode_id = r.u64()?;
    let next_block_id = r.u64()?;
    let gen_stamp = r.u64()?;
    let count = r.u64()?;
    // Every inode takes at least its fixed fields: a count beyond what the bytes
    // can hold is corrupt (and would otherwise only fail at the end).
    if count > (r.remaining() / MIN_INODE_LEN) as u64 + 1 {
        return Err(Corrupt("inode count beyond the image's length"));
    }
    let mut fs: Option<FsNamesystem> = None;
    for i in 0..count {
        let id = r.u64()?;
        let parent = r.u64()?;
        let name = r.bytes()?;
        let kind = r.u8()?;
        let perm = r.u16()?;
        let owner = r.str()?;
        let group = r.str()?;
        let mtime = r.i64()?;
        let atime = r.i64()?;
        if i == 0 {
            if id != ROOT_INODE_ID || kind != 0 {
                return Err(Corrupt("image does not start with the root"));
            }
            let mut ns = Namespace::new(&owner, &group, perm, mtime);
            if let Some(root) = ns.get_mut(0) {
                root.atime = atime;
            }
            fs = Some(FsNamesystem::with_namespace(
                config.clone(),
                block_pool_id,
                ns,
            ));
            continue;
        }
        let fs = fs.as_mut().ok_or(Corrupt("no root"))?;
        if id <= ROOT_INODE_ID || id >= next_inode_id {
            return Err(Corrupt("inode id outside the image's allocated range"));
        }
        let pix = fs.ns.ix_of(parent).ok_or(Corrupt("parent before child"))?;
        let kind = match kind {
            0 => InodeKind::Directory(Vec::new()),
            1 => {
                let replication = r.u16()?;
                let block_size = r.u64()?;
                let nblocks = r.u32()?;
                if nblocks as usize > r.remaining() / BLOCK_LEN {
                    return Err(DecodeError::Truncated.into());
                }
                let mut data = FileData::new(replication, block_size);
                let mut ids = Vec::with_capacity(nblocks as usize);
                for _ in 0..nblocks {
                    let (b, gs, len) = (r.u64()?, r.u64()?, r.u64()?);
                    if b < FIRST_BLOCK_ID || b >= next_block_id {
                        return Err(Corrupt("block id outside the image's allocated range"));
                    }
                    ids.push(b);
                    if !fs
                        .blocks
                        .insert(b, BlockInfo::new(id, gs, len, BlockState::Complete))
                    {
                        return Err(Corrupt("duplicate block"));
                    }
                }
                if r.u8()? == 1 {
                    let client_name = r.str()?;
                    let client_machine = r.str()?;
                    if let Some(&last) = ids.last() {
                        if let Some(b) = fs.blocks.get_mut(last) {
                            b.state = BlockState::UnderConstruction;
                        }
                    }
                    fs.leases.add(&client_name, id, Instant::now());
                    data.uc = Some(Box::new(UnderConstruction {
                        client_name,
                        client_machine,
                    }));
                }
                data.blocks = BlockList::from_vec(ids);
                InodeKind::File(data)
            }
            _ => return Err(Corrupt("bad inode kind")),
        };
        let inode = Inode {
            parent: pix,
            perm,
            owner: fs.ns.strings.intern(&owner),
            group: fs.ns.strings.intern(&group),
            mtime,
            atime,
            name: Name::new(&name),
            kind,
        };
        fs.ns.add(id, pix, inode).map_err(|_| {
            Corrupt(
                "inode does not fit the namespace (duplicate name or id, parent not a directory)",
            )
        })?;
    }
    let mut fs = fs.ok_or(Corrupt("empty image"))?;
    if version >= 2 {
        // Each entry is at least 12 bytes: a hostile count cannot make us loop long.
        let n = r.u64()?;
        if n > (r.remaining() / 12) as u64 {
            return Err(DecodeError::Truncated.into());
        }
        for _ in 0..n {
            let id = r.u64()?;
            if fs.ns.ix_of(id).is_none() {
                return Err(Corrupt("xattrs of an unknown inode"));
            }
            let count = r.u32()?;
            if count as usize > r.remaining() / 9 {
                return Err(DecodeError::Truncated.into());
            }
            for _ in 0..count {
                let ns = XAttrNameSpace::from_proto(i32::from(r.u8()?))
                    .ok_or(Corrupt("bad xattr namespace"))?;
                let name = r.str()?;
                let value = r.bytes()?;
                fs.ns.set_xattr(id, XAttr { ns, name, value });
            }
        }
    }
    if r.remaining() != 0 {
        return Err(Corrupt("trailing bytes in image"));
    }
    fs.next_inode_id = next_inode_id;
    fs.next_block_id = next_block_id;
    fs.gen_stamp = gen_stamp;
    Ok((fs, last_txid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::editlog::op::EditOp;

    fn namesystem() -> FsNamesystem {
        let mut fs = FsNamesystem::new(NameNodeConfig::default(), "BP-1");
        let ops = [
            EditOp::Mkdir {
                id: 16386,
                parent: 16385,
                name: b"user".to_vec(),
                perm: 0o755,
                owner: "alice".into(),
                group: "supergroup".into(),
                mtime: 1,
            },
            EditOp::AddFile {
                id: 16387,
                parent: 16386,
                name: b"closed-file-with-a-long-name".to_vec(),
                perm: 0o644,
                owner: "alice".into(),
                group: "supergroup".into(),
                mtime: 2,
                replication: 3,
                block_size: 128 << 20,
                client_name: "DFSClient_1".into(),
                client_machine: "10.0.0.1".into(),
            },
            EditOp::AllocBlock {
                file: 16387,
                block: 1_073_741_825,
                gs: 1001,
            },
            EditOp::UpdateBlock {
                block: 1_073_741_825,
                gs: 1001,
                num_bytes: 77,
            },
            EditOp::Close {
                file: 16387,
                mtime: 3,
                atime: 3,
            },
            EditOp::AddFile {
                id: 16388,
                parent: 16386,
                name: b"open".to_vec(),
                perm: 0o644,
                owner: "bob".into(),
                group: "supergroup".into(),
                mtime: 4,
                replication: 1,
                block_size: 1 << 20,
                client_name: "DFSClient_2".into(),
                client_machine: "10.0.0.2".into(),
            },
            EditOp::AllocBlock {
                file: 16388,
                block: 1_073_741_826,
                gs: 1002,
            },
        ];
        for op in &ops {
            fs.apply(op).unwrap();
        }
        fs
    }

    fn with_crc(mut body: Vec<u8>) -> Vec<u8> {
        let crc = crc32c::crc32c(&body);
        body.extend_from_slice(&crc.to_le_bytes());
        body
    }

    fn load_at(bytes: &[u8]) -> Result<(FsNamesystem, u64)> {
        load(
            bytes,
            Path::new("/nn/fsimage_7"),
            NameNodeConfig::default(),
            "BP-1",
        )
    }

    /// A corrupt image is `Corrupt` naming the file and an offset inside it.
    fn assert_corrupt(r: Result<(FsNamesystem, u64)>, len: usize, case: &str) {
        match r {
            Err(Error::Corrupt { file, offset, .. }) => {
                assert_eq!(file, Path::new("/nn/fsimage_7"), "{case}");
                assert!(
                    offset as usize <= len,
                    "{case}: offset {offset} beyond {len}"
                );
            }
            Err(e) => panic!("{case}: not Corrupt: {e:?}"),
            Ok(_) => panic!("{case}: loaded"),
        }
    }

    #[test]
    fn round_trip() {
        let fs = namesystem();
        let bytes = save(&fs, 7);
        let (back, txid) = load_at(&bytes).unwrap();
        assert_eq!(txid, 7);
        assert_eq!(save(&back, 7), bytes);
    }

    #[test]
    fn every_truncation_is_a_typed_error() {
        let bytes = save(&namesystem(), 7);
        let body = &bytes[..bytes.len() - 4];
        for cut in 0..bytes.len() {
            // Truncated as written (checksum fails) and re-checksummed (the parser
            // runs out of bytes).
            assert_corrupt(load_at(&bytes[..cut]), cut, &format!("cut at {cut}"));
            if cut < body.len() {
                let fixed = with_crc(body[..cut].to_vec());
                assert_corrupt(load_at(&fixed), fixed.len(), &format!("re-crc cut {cut}"));
            }
        }
    }

    #[test]
    fn every_flipped_byte_is_loaded_or_a_typed_error() {
        let bytes = save(&namesystem(), 7);
        let body = &bytes[..bytes.len() - 4];
        for at in 0..body.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut b = body.to_vec();
                b[at] ^= flip;
                let image = with_crc(b);
                if let Err(e) = load_at(&image) {
                    assert!(matches!(e, Error::Corrupt { .. }), "byte {at}: {e:?}");
                }
                // And with the checksum left as it was.
                let mut raw = bytes.clone();
                raw[at] ^= flip;
                assert_corrupt(load_at(&raw), raw.len(), &format!("flip {at}"));
            }
        }
    }

    #[test]
    fn hostile_counts_and_ids_reserve_nothing() {
        let bytes = save(&namesystem(), 7);
        let body = bytes[..bytes.len() - 4].to_vec();
        // The inode count (after magic, version and four u64 counters).
        let count_at = 8 + 4 + 4 * 8;
        let mut b = body.clone();
        b[count_at..count_at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        match load_at(&with_crc(b)) {
            Err(Error::Corrupt { offset, reason, .. }) => {
                assert_eq!(offset as usize, count_at + 8, "{reason}");
            }
            other => panic!("{:?}", other.map(|r| r.1)),
        }
        // The second inode's id (right after the root inode) far beyond
        // next_inode_id: refused before it sizes the inode table.
        let id_at = count_at
            + 8
            + 8 // the root's id; its parent is its own id, so search after it
            + body[count_at + 16..]
                .windows(8)
                .position(|w| w == 16386u64.to_le_bytes())
                .unwrap();
        let mut b = body.clone();
        b[id_at..id_at + 8].copy_from_slice(&(16385u64 + (1 << 31)).to_le_bytes());
        match load_at(&with_crc(b)) {
            Err(Error::Corrupt { reason, .. }) => assert!(reason.contains("inode id"), "{reason}"),
            other => panic!("{:?}", other.map(|r| r.1)),
        }
    }
}
