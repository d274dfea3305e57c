//! The compact in-memory inode representation.
//!
//! Memory per file matters (HDFS needs ~300 bytes for a one-block file; the goal here is
//! under 150), so:
//! - inodes live in a [`DenseTable`] indexed by `id - base` (ids are allocated
//!   sequentially and never reused, like Hadoop's), so the id is not stored and there is
//!   no hash-table slack; a removed inode leaves an empty slot.
//! - parent and children are `u32` table indices; a directory's children are kept sorted
//!   by name (byte-wise, the order of getListing).
//! - names up to 22 bytes are stored inline ([`Name`]); owner and group are interned.
//! - a file's replication and preferred block size share one `u64` (Hadoop's "header"
//!   long: replication in the top 16 bits, block size in the low 48), and a one-block file
//!   keeps its block id inline ([`BlockList`]).
//!
//! Layout on 64-bit: `Inode` is 96 bytes (asserted in tests).

use std::collections::HashMap;

/// Inode ids as exposed to clients (`fileId`).
pub type InodeId = u64;
/// Block ids.
pub type BlockId = u64;

/// The root directory's inode id (Hadoop's `INodeId.ROOT_INODE_ID`).
pub const ROOT_INODE_ID: InodeId = 16385;

/// A table of `T` indexed by a dense id range starting at `base`.
#[derive(Debug, Clone)]
pub struct DenseTable<T> {
    base: u64,
    slots: Vec<Option<T>>,
    len: usize,
}

impl<T> DenseTable<T> {
    pub fn new(base: u64) -> DenseTable<T> {
        DenseTable {
            base,
            slots: Vec::new(),
            len: 0,
        }
    }

    /// Slot index for an id (None if out of range).
    pub fn index_of(&self, id: u64) -> Option<u32> {
        id.checked_sub(self.base)
            .and_then(|i| u32::try_from(i).ok())
    }

    pub fn id_of(&self, index: u32) -> u64 {
        self.base + u64::from(index)
    }

    pub fn get(&self, id: u64) -> Option<&T> {
        self.at(self.index_of(id)?)
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut T> {
        let ix = self.index_of(id)?;
        self.at_mut(ix)
    }

    pub fn at(&self, ix: u32) -> Option<&T> {
        self.slots.get(ix as usize)?.as_ref()
    }

    pub fn at_mut(&mut self, ix: u32) -> Option<&mut T> {
        self.slots.get_mut(ix as usize)?.as_mut()
    }

    /// Inserts at `id`, returning the previous value. Panics never: an id below `base` or
    /// beyond `base + u32::MAX` is refused (returns `Err(value)`).
    pub fn insert(&mut self, id: u64, value: T) -> Result<Option<T>, T> {
        let Some(ix) = self.index_of(id) else {
            return Err(value);
        };
        let ix = ix as usize;
        if ix >= self.slots.len() {
            self.slots.resize_with(ix + 1, || None);
        }
        let old = self.slots[ix].replace(value);
        if old.is_none() {
            self.len += 1;
        }
        Ok(old)
    }

    pub fn remove(&mut self, id: u64) -> Option<T> {
        let ix = self.index_of(id)? as usize;
        let old = self.slots.get_mut(ix)?.take();
        if old.is_some() {
            self.len -= 1;
            while matches!(self.slots.last(), Some(None)) {
                self.slots.pop();
            }
        }
        old
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// All present entries as (id, value), in id order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &T)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(move |(i, s)| s.as_ref().map(|v| (self.base + i as u64, v)))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (u64, &mut T)> + '_ {
        let base = self.base;
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(move |(i, s)| s.as_mut().map(|v| (base + i as u64, v)))
    }
}

const INLINE_NAME: usize = 22;

/// A path component, inline when short.
#[derive(Clone, PartialEq, Eq)]
pub enum Name {
    Inline { len: u8, bytes: [u8; INLINE_NAME] },
    Heap(Box<[u8]>),
}

impl Name {
    pub fn new(name: &[u8]) -> Name {
        if name.len() <= INLINE_NAME {
            let mut bytes = [0u8; INLINE_NAME];
            bytes[..name.len()].copy_from_slice(name);
            Name::Inline {
                len: name.len() as u8,
                bytes,
            }
        } else {
            Name::Heap(name.into())
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Name::Inline { len, bytes } => &bytes[..usize::from(*len).min(INLINE_NAME)],
            Name::Heap(b) => b,
        }
    }
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

/// A file's blocks: none, one inline, or many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockList {
    One(BlockId),
    Many(Box<[BlockId]>),
}

impl BlockList {
    pub fn empty() -> BlockList {
        BlockList::Many(Box::new([]))
    }

    pub fn as_slice(&self) -> &[BlockId] {
        match self {
            BlockList::One(b) => std::slice::from_ref(b),
            BlockList::Many(v) => v,
        }
    }

    pub fn from_vec(v: Vec<BlockId>) -> BlockList {
        if let [one] = v[..] {
            BlockList::One(one)
        } else {
            BlockList::Many(v.into_boxed_slice())
        }
    }

    pub fn push(&mut self, id: BlockId) {
        let mut v = self.as_slice().to_vec();
        v.push(id);
        *self = BlockList::from_vec(v);
    }

    pub fn truncate(&mut self, n: usize) {
        let mut v = self.as_slice().to_vec();
        v.truncate(n);
        *self = BlockList::from_vec(v);
    }
}

/// The lease holder of a file open for writing (Hadoop's `FileUnderConstructionFeature`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnderConstruction {
    pub client_name: String,
    pub client_machine: String,
}

/// File-only data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileData {
    /// Replication in the top 16 bits, preferred block size in the low 48.
    header: u64,
    pub blocks: BlockList,
    pub uc: Option<Box<UnderConstruction>>,
}

const BLOCK_SIZE_BITS: u32 = 48;
const BLOCK_SIZE_MASK: u64 = (1 << BLOCK_SIZE_BITS) - 1;

impl FileData {
    pub fn new(replication: u16, block_size: u64) -> FileData {
        FileData {
            header: pack_header(replication, block_size),
            blocks: BlockList::empty(),
            uc: None,
        }
    }

    pub fn replication(&self) -> u16 {
        (self.header >> BLOCK_SIZE_BITS) as u16
    }

    pub fn block_size(&self) -> u64 {
        self.header & BLOCK_SIZE_MASK
    }

    pub fn set_replication(&mut self, r: u16) {
        self.header = pack_header(r, self.block_size());
    }
}

fn pack_header(replication: u16, block_size: u64) -> u64 {
    (u64::from(replication) << BLOCK_SIZE_BITS) | (block_size & BLOCK_SIZE_MASK)
}

/// The largest preferred block size the header can hold (2^48 - 1).
pub const MAX_BLOCK_SIZE: u64 = BLOCK_SIZE_MASK;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InodeKind {
    /// Children's table indices, sorted by name.
    Directory(Vec<u32>),
    File(FileData),
}

/// One inode. Its id is its position in the [`DenseTable`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inode {
    /// Parent's table index (the root is its own parent).
    pub parent: u32,
    /// Mode bits incl. sticky.
    pub perm: u16,
    pub owner: u32,
    pub group: u32,
    pub mtime: i64,
    pub atime: i64,
    pub name: Name,
    pub kind: InodeKind,
}

impl Inode {
    pub fn is_dir(&self) -> bool {
        matches!(self.kind, InodeKind::Directory(_))
    }

    pub fn file(&self) -> Option<&FileData> {
        match &self.kind {
            InodeKind::File(f) => Some(f),
            InodeKind::Directory(_) => None,
        }
    }

    pub fn file_mut(&mut self) -> Option<&mut FileData> {
        match &mut self.kind {
            InodeKind::File(f) => Some(f),
            InodeKind::Directory(_) => None,
        }
    }

    pub fn children(&self) -> &[u32] {
        match &self.kind {
            InodeKind::Directory(c) => c,
            InodeKind::File(_) => &[],
        }
    }
}

/// Interns owner and group names.
#[derive(Debug, Clone, Default)]
pub struct Interner {
    names: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(s.to_owned());
        self.ids.insert(s.to_owned(), id);
        id
    }

    pub fn lookup(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }

    pub fn get(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_stay_compact() {
        assert_eq!(std::mem::size_of::<Name>(), 24);
        assert_eq!(std::mem::size_of::<Inode>(), 96);
        assert_eq!(std::mem::size_of::<Option<Inode>>(), 96);
    }

    #[test]
    fn names_inline_and_heap() {
        let short = Name::new(b"part-00000");
        assert!(matches!(short, Name::Inline { .. }));
        assert_eq!(short.as_bytes(), b"part-00000");
        let long = Name::new(&[b'x'; 40]);
        assert!(matches!(long, Name::Heap(_)));
        assert_eq!(long.as_bytes().len(), 40);
        assert_eq!(Name::new(b"").as_bytes(), b"");
    }

    #[test]
    fn header_packs_replication_and_block_size() {
        let mut f = FileData::new(3, 128 << 20);
        assert_eq!((f.replication(), f.block_size()), (3, 128 << 20));
        f.set_replication(512);
        assert_eq!((f.replication(), f.block_size()), (512, 128 << 20));
    }

    #[test]
    fn block_list_grows_and_shrinks() {
        let mut b = BlockList::empty();
        assert!(b.as_slice().is_empty());
        b.push(7);
        assert_eq!(b, BlockList::One(7));
        b.push(8);
        assert_eq!(b.as_slice(), &[7, 8]);
        b.truncate(1);
        assert_eq!(b, BlockList::One(7));
    }

    #[test]
    fn dense_table_insert_remove() {
        let mut t = DenseTable::new(100);
        assert!(t.insert(99, 'a').is_err());
        assert_eq!(t.insert(100, 'r'), Ok(None));
        assert_eq!(t.insert(103, 'x'), Ok(None));
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(103), Some(&'x'));
        assert_eq!(t.get(101), None);
        assert_eq!(t.remove(103), Some('x'));
        assert_eq!(t.remove(103), None);
        assert_eq!(t.iter().collect::<Vec<_>>(), vec![(100, &'r')]);
        assert_eq!(t.index_of(100), Some(0));
        assert_eq!(t.id_of(2), 102);
    }

    #[test]
    fn interner_reuses_ids() {
        let mut i = Interner::default();
        let a = i.intern("alice");
        assert_eq!(i.intern("bob"), a + 1);
        assert_eq!(i.intern("alice"), a);
        assert_eq!(i.get(a), "alice");
        assert_eq!(i.lookup("carol"), None);
    }
}
