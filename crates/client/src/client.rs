//! [`DfsClient`]: one NameNode, its namespace calls, and the streams.

use crate::config::ClientConf;
use crate::datanode::{connect, node_name, PeerCache};
use crate::input::DfsInputStream;
use crate::lease::LeaseRenewer;
use crate::output::pipeline::client_header;
use crate::output::{DfsOutputStream, Start, WriteContext};
use crate::{Error, Result};
use ferrodfs_conf::Configuration;
use ferrodfs_ipc::client::namenode::NamenodeProtocol;
use ferrodfs_ipc::client::random_client_id;
use ferrodfs_ipc::RpcClient;
use ferrodfs_proto::hdfs::hdfs_file_status_proto::FileType;
use ferrodfs_proto::hdfs::*;
use ferrodfs_transfer::checksum::ChecksumType;
use ferrodfs_transfer::op::{read_delimited, write_op, Op};
use md5::{Digest, Md5};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

/// `CreateFlag.CREATE`.
pub const CREATE_FLAG_CREATE: u32 = 1;
/// `CreateFlag.OVERWRITE`.
pub const CREATE_FLAG_OVERWRITE: u32 = 2;
/// `CreateFlag.APPEND`.
pub const CREATE_FLAG_APPEND: u32 = 4;
/// `CryptoProtocolVersion.ENCRYPTION_ZONES`, what clients offer on create.
pub const CRYPTO_PROTOCOL_ENCRYPTION_ZONES: i32 = 2;
/// Hadoop's `setTimes` value for "leave unchanged" (-1 as a Java long).
pub const TIME_UNCHANGED: u64 = u64::MAX;
/// Default permission of a new file (before the umask).
pub const DEFAULT_FILE_PERMISSION: u16 = 0o666;
/// Default permission of a new directory (before the umask).
pub const DEFAULT_DIR_PERMISSION: u16 = 0o777;

/// What a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    File,
    Directory,
    Symlink,
}

/// A file's or directory's status (`HdfsFileStatusProto`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStatus {
    /// The entry's local name in a listing; empty from [`DfsClient::status`].
    pub name: String,
    pub kind: FileKind,
    pub length: u64,
    pub permission: u16,
    pub owner: String,
    pub group: String,
    /// Milliseconds since the epoch.
    pub modification_time: u64,
    pub access_time: u64,
    pub replication: u16,
    pub block_size: u64,
    pub file_id: u64,
    pub children: Option<i32>,
}

impl FileStatus {
    fn from_proto(p: &HdfsFileStatusProto) -> FileStatus {
        let kind = match FileType::try_from(p.file_type) {
            Ok(FileType::IsDir) => FileKind::Directory,
            Ok(FileType::IsSymlink) => FileKind::Symlink,
            _ => FileKind::File,
        };
        FileStatus {
            name: String::from_utf8_lossy(&p.path).into_owned(),
            kind,
            length: p.length,
            permission: (p.permission.perm & 0o7777) as u16,
            owner: p.owner.clone(),
            group: p.group.clone(),
            modification_time: p.modification_time,
            access_time: p.access_time,
            replication: p.block_replication.unwrap_or(0) as u16,
            block_size: p.blocksize.unwrap_or(0),
            file_id: p.file_id.unwrap_or(0),
            children: p.children_num,
        }
    }

    pub fn is_dir(&self) -> bool {
        self.kind == FileKind::Directory
    }

    pub fn is_file(&self) -> bool {
        self.kind == FileKind::File
    }
}

/// `getContentSummary`'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentSummary {
    pub length: u64,
    pub file_count: u64,
    pub directory_count: u64,
    pub quota: u64,
    pub space_consumed: u64,
    pub space_quota: u64,
}

/// `getFsStats`'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsStats {
    pub capacity: u64,
    pub used: u64,
    pub remaining: u64,
    pub under_replicated: u64,
    pub corrupt_blocks: u64,
    pub missing_blocks: u64,
}

/// Hadoop's `MD5MD5CRC32FileChecksum`: the MD5 of the blocks' MD5s of their chunk
/// CRCs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChecksum {
    pub bytes_per_crc: u32,
    pub crc_per_block: u64,
    pub crc_type: ChecksumType,
    pub md5: [u8; 16],
}

impl FileChecksum {
    /// Hadoop's algorithm name, e.g. `MD5-of-0MD5-of-512CRC32C`.
    pub fn algorithm(&self) -> String {
        format!(
            "MD5-of-{}MD5-of-{}{}",
            self.crc_per_block,
            self.bytes_per_crc,
            self.crc_type.name()
        )
    }

    /// The 28 bytes Hadoop serialises: bytesPerCRC (i32), crcPerBlock (i64), MD5.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(28);
        out.extend_from_slice(&self.bytes_per_crc.to_be_bytes());
        out.extend_from_slice(&self.crc_per_block.to_be_bytes());
        out.extend_from_slice(&self.md5);
        out
    }
}

/// The MD5 of concatenated block MD5s as Java computes it: over its
/// `DataOutputBuffer`'s whole backing array, which starts at 32 bytes and doubles, so
/// the bytes are zero-padded to the smallest `32 * 2^k` that holds them.
pub fn md5_of_block_md5s(block_md5s: &[u8]) -> [u8; 16] {
    let mut cap = 32;
    while cap < block_md5s.len() {
        cap *= 2;
    }
    let mut buf = block_md5s.to_vec();
    buf.resize(cap, 0);
    Md5::digest(&buf).into()
}

/// Options of [`DfsClient::create_with`].
#[derive(Debug, Clone, Copy)]
pub struct CreateOptions {
    pub overwrite: bool,
    /// `None`: `dfs.replication`.
    pub replication: Option<u16>,
    /// `None`: `dfs.blocksize`.
    pub block_size: Option<u64>,
    /// Before the umask.
    pub permission: u16,
    pub create_parent: bool,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            overwrite: false,
            replication: None,
            block_size: None,
            permission: DEFAULT_FILE_PERMISSION,
            create_parent: true,
        }
    }
}

#[derive(Debug)]
struct Inner {
    nn: NamenodeProtocol,
    conf: Arc<ClientConf>,
    client_name: String,
    lease: LeaseRenewer,
    /// Idle READ_BLOCK sockets (`dfs.client.socketcache.*`).
    peers: Arc<PeerCache>,
}

/// A client of one HDFS NameNode (Hadoop's `DFSClient`). Cheap to clone; clones share
/// the RPC connections and the lease renewer.
///
/// ```no_run
/// use ferrodfs_client::DfsClient;
/// use std::io::{Read, Write};
///
/// let client = DfsClient::connect("hdfs://127.0.0.1:8020", Default::default())?;
/// let mut out = client.create("/tmp/hello", true)?;
/// out.write_all(b"hello")?;
/// out.close()?;
/// let mut text = String::new();
/// client.open("/tmp/hello")?.read_to_string(&mut text)?;
/// assert_eq!(text, "hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct DfsClient {
    inner: Arc<Inner>,
}

impl DfsClient {
    /// A client of the NameNode that `conf` names (`dfs.namenode.rpc-address`, else
    /// `fs.defaultFS`), with the client keys of `conf`.
    pub fn from_configuration(conf: &Configuration) -> Result<DfsClient> {
        let nn = conf
            .namenode_rpc_address()?
            .ok_or_else(|| Error::NoNameNode("fs.defaultFS is not an hdfs:// URI".into()))?;
        let addr = resolve(&nn.host, nn.port)?;
        Ok(DfsClient::new(addr, ClientConf::from_configuration(conf)?))
    }

    /// A client of the NameNode at `uri` (`hdfs://host[:port]`, port 8020 by default).
    pub fn connect(uri: &str, conf: ClientConf) -> Result<DfsClient> {
        let rest = uri
            .get(..7)
            .filter(|s| s.eq_ignore_ascii_case("hdfs://"))
            .map(|_| &uri[7..])
            .ok_or_else(|| Error::NoNameNode(format!("{uri} is not an hdfs:// URI")))?;
        let hp = ferrodfs_conf::HostPort::parse(
            rest,
            Some(ferrodfs_conf::keys::DFS_NAMENODE_RPC_PORT_DEFAULT),
        )
        .ok_or_else(|| Error::NoNameNode(format!("bad authority in {uri}")))?;
        Ok(DfsClient::new(resolve(&hp.host, hp.port)?, conf))
    }

    /// A client of the NameNode at `addr`.
    pub fn new(addr: SocketAddr, conf: ClientConf) -> DfsClient {
        let mut rpc_conf = conf.rpc.clone();
        rpc_conf.user = conf.user.clone();
        let nn = NamenodeProtocol::new(RpcClient::new(rpc_conf), addr);
        let id = random_client_id();
        let client_name = format!(
            "DFSClient_NONMAPREDUCE_{}_1",
            u32::from_be_bytes([id[0], id[1], id[2], id[3]]) & 0x7fff_ffff
        );
        let lease = LeaseRenewer::new(nn.clone(), client_name.clone(), conf.lease_renew_interval);
        let peers = Arc::new(PeerCache::new(
            conf.socket_cache_capacity,
            conf.socket_cache_expiry,
        ));
        DfsClient {
            inner: Arc::new(Inner {
                nn,
                conf: Arc::new(conf),
                client_name,
                lease,
                peers,
            }),
        }
    }

    /// The name the NameNode knows this client (its lease holder) by.
    pub fn client_name(&self) -> &str {
        &self.inner.client_name
    }

    pub fn conf(&self) -> &ClientConf {
        &self.inner.conf
    }

    /// The typed NameNode proxy underneath.
    pub fn namenode(&self) -> &NamenodeProtocol {
        &self.inner.nn
    }

    /// Fresh DataNode connections made for READ_BLOCK so far (reads over a socket
    /// from the peer cache make none).
    pub fn datanode_connects(&self) -> u64 {
        self.inner.peers.connects()
    }

    /// Idle DataNode sockets the peer cache holds now.
    pub fn cached_datanode_sockets(&self) -> usize {
        self.inner.peers.len()
    }

    pub(crate) fn peer_cache(&self) -> &Arc<PeerCache> {
        &self.inner.peers
    }

    /// `renewLease` calls made by the lease renewer so far.
    pub fn lease_renewals(&self) -> u64 {
        self.inner.lease.renewals()
    }

    fn nn(&self) -> &NamenodeProtocol {
        &self.inner.nn
    }

    /// The status of `path`; [`Error::FileNotFound`] if it does not exist.
    pub fn status(&self, path: &str) -> Result<FileStatus> {
        let path = check_path(path)?;
        let resp = self
            .nn()
            .get_file_info(&GetFileInfoRequestProto { src: path.into() })
            .map_err(|e| Error::rpc("getFileInfo", path, e))?;
        resp.fs
            .map(|fs| FileStatus::from_proto(&fs))
            .ok_or_else(|| Error::FileNotFound { path: path.into() })
    }

    /// True if `path` exists.
    pub fn exists(&self, path: &str) -> Result<bool> {
        match self.status(path) {
            Ok(_) => Ok(true),
            Err(Error::FileNotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The entries of directory `path` (or the file itself), paging through
    /// `getListing` until no entries remain.
    pub fn list(&self, path: &str) -> Result<Vec<FileStatus>> {
        let path = check_path(path)?;
        let mut out = Vec::new();
        let mut start_after = Vec::new();
        loop {
            let resp = self
                .nn()
                .get_listing(&GetListingRequestProto {
                    src: path.into(),
                    start_after: start_after.clone(),
                    need_location: false,
                })
                .map_err(|e| Error::rpc("getListing", path, e))?;
            let Some(list) = resp.dir_list else {
                return Err(Error::FileNotFound { path: path.into() });
            };
            let Some(last) = list.partial_listing.last() else {
                break;
            };
            start_after = last.path.clone();
            out.extend(list.partial_listing.iter().map(FileStatus::from_proto));
            if list.remaining_entries == 0 {
                break;
            }
        }
        Ok(out)
    }

    /// `mkdirs` with parents; `permission` before the umask.
    pub fn mkdirs(&self, path: &str, permission: u16) -> Result<bool> {
        let path = check_path(path)?;
        let resp = self
            .nn()
            .mkdirs(&MkdirsRequestProto {
                src: path.into(),
                masked: perm(permission & !self.conf().umask),
                create_parent: true,
                unmasked: Some(perm(permission)),
            })
            .map_err(|e| Error::rpc("mkdirs", path, e))?;
        Ok(resp.result)
    }

    /// `rename2`: moves `src` to `dst`; with `overwrite`, replaces an existing `dst`.
    pub fn rename(&self, src: &str, dst: &str, overwrite: bool) -> Result<()> {
        let src = check_path(src)?;
        let dst = check_path(dst)?;
        self.nn()
            .rename2(&Rename2RequestProto {
                src: src.into(),
                dst: dst.into(),
                overwrite_dest: overwrite,
                move_to_trash: None,
            })
            .map_err(|e| Error::rpc("rename2", src, e))?;
        Ok(())
    }

    /// Deletes `path` (a non-empty directory only with `recursive`). False if it did
    /// not exist.
    pub fn delete(&self, path: &str, recursive: bool) -> Result<bool> {
        let path = check_path(path)?;
        let resp = self
            .nn()
            .delete(&DeleteRequestProto {
                src: path.into(),
                recursive,
            })
            .map_err(|e| Error::rpc("delete", path, e))?;
        Ok(resp.result)
    }

    pub fn set_permission(&self, path: &str, permission: u16) -> Result<()> {
        let path = check_path(path)?;
        self.nn()
            .set_permission(&SetPermissionRequestProto {
                src: path.into(),
                permission: perm(permission),
            })
            .map_err(|e| Error::rpc("setPermission", path, e))?;
        Ok(())
    }

    pub fn set_owner(&self, path: &str, owner: Option<&str>, group: Option<&str>) -> Result<()> {
        let path = check_path(path)?;
        self.nn()
            .set_owner(&SetOwnerRequestProto {
                src: path.into(),
                username: owner.map(str::to_owned),
                groupname: group.map(str::to_owned),
            })
            .map_err(|e| Error::rpc("setOwner", path, e))?;
        Ok(())
    }

    /// `setReplication`; false if `path` is not a file.
    pub fn set_replication(&self, path: &str, replication: u16) -> Result<bool> {
        let path = check_path(path)?;
        let resp = self
            .nn()
            .set_replication(&SetReplicationRequestProto {
                src: path.into(),
                replication: u32::from(replication),
            })
            .map_err(|e| Error::rpc("setReplication", path, e))?;
        Ok(resp.result)
    }

    /// `setTimes` (milliseconds since the epoch; `None` leaves a time unchanged).
    pub fn set_times(&self, path: &str, mtime: Option<u64>, atime: Option<u64>) -> Result<()> {
        let path = check_path(path)?;
        self.nn()
            .set_times(&SetTimesRequestProto {
                src: path.into(),
                mtime: mtime.unwrap_or(TIME_UNCHANGED),
                atime: atime.unwrap_or(TIME_UNCHANGED),
            })
            .map_err(|e| Error::rpc("setTimes", path, e))?;
        Ok(())
    }

    pub fn content_summary(&self, path: &str) -> Result<ContentSummary> {
        let path = check_path(path)?;
        let s = self
            .nn()
            .get_content_summary(&GetContentSummaryRequestProto { path: path.into() })
            .map_err(|e| Error::rpc("getContentSummary", path, e))?
            .summary;
        Ok(ContentSummary {
            length: s.length,
            file_count: s.file_count,
            directory_count: s.directory_count,
            quota: s.quota,
            space_consumed: s.space_consumed,
            space_quota: s.space_quota,
        })
    }

    pub fn fs_stats(&self) -> Result<FsStats> {
        let s = self
            .nn()
            .get_fs_stats(&GetFsStatusRequestProto {})
            .map_err(|e| Error::rpc("getFsStats", "/", e))?;
        Ok(FsStats {
            capacity: s.capacity,
            used: s.used,
            remaining: s.remaining,
            under_replicated: s.under_replicated,
            corrupt_blocks: s.corrupt_blocks,
            missing_blocks: s.missing_blocks,
        })
    }

    pub fn server_defaults(&self) -> Result<FsServerDefaultsProto> {
        Ok(self
            .nn()
            .get_server_defaults(&GetServerDefaultsRequestProto {})
            .map_err(|e| Error::rpc("getServerDefaults", "/", e))?
            .server_defaults)
    }

    /// Creates `path` with the configured replication and block size.
    pub fn create(&self, path: &str, overwrite: bool) -> Result<DfsOutputStream> {
        self.create_with(
            path,
            CreateOptions {
                overwrite,
                ..Default::default()
            },
        )
    }

    /// Creates `path` (Hadoop's `create(path, overwrite, replication, blockSize, perm)`)
    /// and starts its DataStreamer.
    pub fn create_with(&self, path: &str, opts: CreateOptions) -> Result<DfsOutputStream> {
        let path = check_path(path)?;
        let conf = self.conf();
        let replication = opts.replication.unwrap_or(conf.replication);
        let block_size = opts.block_size.unwrap_or(conf.block_size);
        let bpc = u64::from(conf.checksum.bytes_per_checksum());
        if block_size == 0 || block_size % bpc != 0 {
            return Err(Error::InvalidArgument(format!(
                "block size {block_size} is not a multiple of bytes per checksum {bpc}"
            )));
        }
        let mut flag = CREATE_FLAG_CREATE;
        if opts.overwrite {
            flag |= CREATE_FLAG_OVERWRITE;
        }
        let resp = self
            .nn()
            .create(&CreateRequestProto {
                src: path.into(),
                masked: perm(opts.permission & !conf.umask),
                client_name: self.client_name().into(),
                create_flag: flag,
                create_parent: opts.create_parent,
                replication: u32::from(replication),
                block_size,
                crypto_protocol_version: vec![CRYPTO_PROTOCOL_ENCRYPTION_ZONES],
                unmasked: Some(perm(opts.permission)),
                ec_policy_name: None,
                storage_policy: None,
            })
            .map_err(|e| Error::rpc("create", path, e))?;
        let fs = resp.fs.ok_or(Error::BadReply {
            method: "create",
            what: "no file status",
        })?;
        let file_id = fs.file_id.ok_or(Error::BadReply {
            method: "create",
            what: "no fileId",
        })?;
        let block_size = fs.blocksize.filter(|&b| b > 0).unwrap_or(block_size);
        let replication = fs
            .block_replication
            .filter(|&r| r > 0)
            .map_or(replication, |r| r as u16);
        self.start_stream(path, file_id, replication, block_size, Start::NewBlock)
    }

    /// Opens `path` for appending (Hadoop's `append`): continues its partial last
    /// block (WRITE_BLOCK stage PIPELINE_SETUP_APPEND with a new generation stamp), or
    /// starts a new block.
    pub fn append(&self, path: &str) -> Result<DfsOutputStream> {
        let path = check_path(path)?;
        let resp = self
            .nn()
            .append(&AppendRequestProto {
                src: path.into(),
                client_name: self.client_name().into(),
                flag: Some(CREATE_FLAG_APPEND),
            })
            .map_err(|e| Error::rpc("append", path, e))?;
        let stat = resp.stat.ok_or(Error::BadReply {
            method: "append",
            what: "no file status",
        })?;
        let file_id = stat.file_id.ok_or(Error::BadReply {
            method: "append",
            what: "no fileId",
        })?;
        let block_size = stat
            .blocksize
            .filter(|&b| b > 0)
            .unwrap_or(self.conf().block_size);
        let replication = stat
            .block_replication
            .filter(|&r| r > 0)
            .map_or(self.conf().replication, |r| r as u16);
        let start = match resp.block {
            Some(lb) if lb.b.num_bytes.unwrap_or(0) < block_size => Start::Append(Box::new(lb)),
            _ => Start::NewBlock,
        };
        self.start_stream(path, file_id, replication, block_size, start)
    }

    fn start_stream(
        &self,
        path: &str,
        file_id: u64,
        replication: u16,
        block_size: u64,
        start: Start,
    ) -> Result<DfsOutputStream> {
        let open = self.inner.lease.open_file()?;
        let ctx = WriteContext {
            nn: self.inner.nn.clone(),
            conf: self.inner.conf.clone(),
            client_name: self.inner.client_name.clone(),
            src: path.to_owned(),
            file_id,
            replication,
            checksum: self.inner.conf.checksum,
        };
        DfsOutputStream::start(ctx, block_size, start, open)
    }

    /// Opens `path` for reading.
    pub fn open(&self, path: &str) -> Result<DfsInputStream> {
        let path = check_path(path)?;
        DfsInputStream::open(self.clone(), path.to_owned())
    }

    /// Hadoop's file checksum (`MD5-of-<n>MD5-of-<bpc>CRC32C`): BLOCK_CHECKSUM on a
    /// replica of each block, then the MD5 of the blocks' MD5s.
    pub fn file_checksum(&self, path: &str) -> Result<FileChecksum> {
        let path = check_path(path)?;
        let located = self
            .nn()
            .get_block_locations(&GetBlockLocationsRequestProto {
                src: path.into(),
                offset: 0,
                length: i64::MAX as u64,
            })
            .map_err(|e| Error::rpc("getBlockLocations", path, e))?
            .locations
            .ok_or_else(|| Error::FileNotFound { path: path.into() })?;
        let mut md5s = Vec::with_capacity(16 * located.blocks.len());
        let mut first: Option<(u32, u64, ChecksumType)> = None;
        // As Hadoop: up to the NameNode's length, which leaves out a last block under
        // construction.
        let complete = |lb: &&LocatedBlockProto| {
            located.is_last_block_complete || lb.offset < located.file_length
        };
        for lb in located.blocks.iter().filter(complete) {
            let resp = self.block_checksum(path, lb)?;
            md5s.extend_from_slice(&resp.block_checksum);
            if first.is_none() {
                let kind = resp
                    .crc_type
                    .and_then(|t| u8::try_from(t).ok())
                    .and_then(|t| ChecksumType::from_id(t).ok())
                    .unwrap_or(ChecksumType::Crc32);
                first = Some((resp.bytes_per_crc, resp.crc_per_block, kind));
            }
        }
        let (bytes_per_crc, crc_per_block, crc_type) = first.unwrap_or((
            self.conf().checksum.bytes_per_checksum(),
            0,
            self.conf().checksum.kind(),
        ));
        Ok(FileChecksum {
            bytes_per_crc,
            // Hadoop reports crcPerBlock (the first block's) only for files of more
            // than one block; a single-block file shows `MD5-of-0MD5-of-...`.
            crc_per_block: if located.blocks.len() > 1 {
                crc_per_block
            } else {
                0
            },
            crc_type,
            md5: md5_of_block_md5s(&md5s),
        })
    }

    fn block_checksum(
        &self,
        path: &str,
        lb: &LocatedBlockProto,
    ) -> Result<OpBlockChecksumResponseProto> {
        let mut last = None;
        for node in &lb.locs {
            match self.block_checksum_from(node, &lb.b) {
                Ok(r) => return Ok(r),
                Err(e) => {
                    tracing::warn!(node = %node_name(node), error = %e, "BLOCK_CHECKSUM failed");
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or(Error::BlockMissing {
            path: path.into(),
            block: format!("blk_{}", lb.b.block_id),
            offset: lb.offset,
        }))
    }

    fn block_checksum_from(
        &self,
        node: &DatanodeInfoProto,
        block: &ExtendedBlockProto,
    ) -> Result<OpBlockChecksumResponseProto> {
        let conf = self.conf();
        let mut s = connect(
            node,
            conf.socket_timeout,
            Some(conf.socket_timeout),
            Some(conf.write_timeout),
        )?;
        let op = OpBlockChecksumProto {
            header: client_header(block, self.client_name()).base_header,
            block_checksum_options: None,
        };
        write_op(&mut s.stream, Op::BlockChecksum, &op).map_err(|source| Error::DataNodeIo {
            node: s.name.clone(),
            source,
        })?;
        let resp: BlockOpResponseProto = read_delimited(&mut s.stream, "BLOCK_CHECKSUM reply")
            .map_err(|source| Error::Transfer {
                node: s.name.clone(),
                source,
            })?;
        let status = Status::try_from(resp.status).unwrap_or(Status::Error);
        if status != Status::Success {
            return Err(Error::DataNodeRefused {
                op: "BLOCK_CHECKSUM",
                node: s.name,
                status,
                message: resp.message.unwrap_or_default(),
                first_bad_link: None,
            });
        }
        resp.checksum_response.ok_or(Error::BadReply {
            method: "BLOCK_CHECKSUM",
            what: "no checksumResponse",
        })
    }
}

fn perm(mode: u16) -> FsPermissionProto {
    FsPermissionProto {
        perm: u32::from(mode),
    }
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr> {
    (host, port)
        .to_socket_addrs()
        .map_err(|e| Error::NoNameNode(format!("{host}:{port}: {e}")))?
        .next()
        .ok_or_else(|| Error::NoNameNode(format!("{host}:{port} resolves to nothing")))
}

/// Paths are absolute; an `hdfs://authority` prefix is dropped.
fn check_path(path: &str) -> Result<&str> {
    let p = match path.get(..7) {
        Some(s) if s.eq_ignore_ascii_case("hdfs://") => {
            let rest = &path[7..];
            rest.find('/').map_or("/", |i| &rest[i..])
        }
        _ => path,
    };
    if p.starts_with('/') {
        Ok(p)
    } else {
        Err(Error::InvalidArgument(format!(
            "{path} is not an absolute path"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(check_path("/a/b").unwrap(), "/a/b");
        assert_eq!(check_path("hdfs://nn:8020/a").unwrap(), "/a");
        assert_eq!(check_path("hdfs://nn:8020").unwrap(), "/");
        assert!(matches!(check_path("a/b"), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn md5_of_md5s_pads_like_java() {
        // One block: 16 bytes padded to 32.
        let one = [7u8; 16];
        let mut padded = one.to_vec();
        padded.resize(32, 0);
        assert_eq!(
            md5_of_block_md5s(&one),
            <[u8; 16]>::from(Md5::digest(&padded))
        );
        // Three blocks: 48 bytes padded to 64.
        let three = [1u8; 48];
        let mut padded = three.to_vec();
        padded.resize(64, 0);
        assert_eq!(
            md5_of_block_md5s(&three),
            <[u8; 16]>::from(Md5::digest(&padded))
        );
        let c = FileChecksum {
            bytes_per_crc: 512,
            crc_per_block: 0,
            crc_type: ChecksumType::Crc32c,
            md5: [0; 16],
        };
        assert_eq!(c.algorithm(), "MD5-of-0MD5-of-512CRC32C");
        assert_eq!(c.to_bytes().len(), 28);
    }

    #[test]
    fn connect_needs_an_hdfs_uri() {
        assert!(matches!(
            DfsClient::connect("file:///x", ClientConf::default()),
            Err(Error::NoNameNode(_))
        ));
        let c = DfsClient::connect("hdfs://127.0.0.1:9", ClientConf::default()).unwrap();
        assert_eq!(c.namenode().addr().port(), 9);
        assert!(c.client_name().starts_with("DFSClient_NONMAPREDUCE_"));
    }
}
