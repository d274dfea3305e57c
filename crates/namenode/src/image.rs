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
//!
//! ```text
//! ```

use crate::blocks::{BlockInfo, BlockState};
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
pub fn load(
    bytes: &[u8],
    path: &Path,
    config: NameNodeConfig,
    block_pool_id: &str,
) -> Result<(FsNamesystem, u64)> {
    let corrupt = |reason: &'static str| Error::Corrupt {
        file: path.to_owned(),
        offset: 0,
        reason,
    };
    if bytes.len() < 16 || &bytes[..8] != IMAGE_MAGIC {
        return Err(corrupt("not an image"));
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    let mut crc_bytes = [0u8; 4];
    crc_bytes.copy_from_slice(crc);
    if crc32c::crc32c(body) != u32::from_le_bytes(crc_bytes) {
        return Err(corrupt("image checksum mismatch"));
    }
    let decode_err = |e: DecodeError| match e {
        DecodeError::Truncated => corrupt("image truncated"),
        DecodeError::Invalid(why) => corrupt(why),
    };
    let mut r = Reader::new(&body[8..]);
    parse(&mut r, config, block_pool_id, &corrupt).map_err(|e| match e {
        ParseError::Decode(d) => decode_err(d),
        ParseError::Other(e) => e,
    })
}

enum ParseError {
    Decode(DecodeError),
    Other(Error),
}

impl From<DecodeError> for ParseError {
    fn from(e: DecodeError) -> Self {
        ParseError::Decode(e)
    }
}

impl From<Error> for ParseError {
    fn from(e: Error) -> Self {
        ParseError::Other(e)
    }
}

fn parse(
    r: &mut Reader<'_>,
    config: NameNodeConfig,
    block_pool_id: &str,
    corrupt: &dyn Fn(&'static str) -> Error,
) -> Result<(FsNamesystem, u64), ParseError> {
    let version = r.u32()?;
    if !(IMAGE_VERSION_MIN..=IMAGE_VERSION).contains(&version) {
        return Err(corrupt("unsupported image version").into());
    }
    let last_txid = r.u64()?;
    let next_inode_id = r.u64()?;
    let next_block_id = r.u64()?;
    let gen_stamp = r.u64()?;
    let count = r.u64()?;
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
                return Err(corrupt("image does not start with the root").into());
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
        let fs = fs.as_mut().ok_or_else(|| corrupt("no root"))?;
        let pix = fs
            .ns
            .ix_of(parent)
            .ok_or_else(|| corrupt("parent before child"))?;
        let kind = match kind {
            0 => InodeKind::Directory(Vec::new()),
            1 => {
                let replication = r.u16()?;
                let block_size = r.u64()?;
                let nblocks = r.u32()?;
                let mut data = FileData::new(replication, block_size);
                let mut ids = Vec::with_capacity((nblocks as usize).min(r.remaining() / 24));
                for _ in 0..nblocks {
                    let (b, gs, len) = (r.u64()?, r.u64()?, r.u64()?);
                    ids.push(b);
                    if !fs
                        .blocks
                        .insert(b, BlockInfo::new(id, gs, len, BlockState::Complete))
                    {
                        return Err(corrupt("duplicate block").into());
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
            _ => return Err(corrupt("bad inode kind").into()),
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
        fs.ns.add(id, pix, inode)?;
    }
    let mut fs = fs.ok_or_else(|| corrupt("empty image"))?;
    if version >= 2 {
        // Each entry is at least 12 bytes: a hostile count cannot make us loop long.
        let n = r.u64()?;
        if n > (r.remaining() / 12) as u64 {
            return Err(DecodeError::Truncated.into());
        }
        for _ in 0..n {
            let id = r.u64()?;
            if fs.ns.ix_of(id).is_none() {
                return Err(corrupt("xattrs of an unknown inode").into());
            }
            let count = r.u32()?;
            if count as usize > r.remaining() / 9 {
                return Err(DecodeError::Truncated.into());
            }
            for _ in 0..count {
                let ns = XAttrNameSpace::from_proto(i32::from(r.u8()?))
                    .ok_or_else(|| corrupt("bad xattr namespace"))?;
                let name = r.str()?;
                let value = r.bytes()?;
                fs.ns.set_xattr(id, XAttr { ns, name, value });
            }
        }
    }
    if r.remaining() != 0 {
        return Err(corrupt("trailing bytes in image").into());
    }
    fs.next_inode_id = next_inode_id;
    fs.next_block_id = next_block_id;
    fs.gen_stamp = gen_stamp;
    Ok((fs, last_txid))
}
