//! Hadoop RPC protocol names and versions, as carried in
//! `IpcConnectionContextProto.protocol` and in `RequestHeaderProto`
//! (`declaringClassProtocolName`, `clientProtocolVersion`).
//!
//! Values are those of the `@ProtocolInfo` annotations on Hadoop's `*PB`
//! interfaces (e.g. `ClientNamenodeProtocolPB`, `DatanodeProtocolPB`), and
//! match what `hdfs-native` and colinmarc/hdfs send for ClientProtocol.

/// A Hadoop RPC protocol: the name the server dispatches on and its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Protocol {
    /// `declaringClassProtocolName` (Hadoop's Java interface name).
    pub name: &'static str,
    /// `clientProtocolVersion`.
    pub version: u64,
}

/// ClientProtocol (client → NameNode), service `ClientNamenodeProtocol`.
pub const CLIENT_NAMENODE_PROTOCOL: &str = "org.apache.hadoop.hdfs.protocol.ClientProtocol";
/// Version of [`CLIENT_NAMENODE_PROTOCOL`].
pub const CLIENT_NAMENODE_PROTOCOL_VERSION: u64 = 1;

/// DatanodeProtocol (DataNode → NameNode), service `DatanodeProtocolService`.
pub const DATANODE_PROTOCOL: &str = "org.apache.hadoop.hdfs.server.protocol.DatanodeProtocol";
/// Version of [`DATANODE_PROTOCOL`].
pub const DATANODE_PROTOCOL_VERSION: u64 = 1;

/// ClientDatanodeProtocol (client → DataNode IPC port), service
/// `ClientDatanodeProtocolService`.
pub const CLIENT_DATANODE_PROTOCOL: &str = "org.apache.hadoop.hdfs.protocol.ClientDatanodeProtocol";
/// Version of [`CLIENT_DATANODE_PROTOCOL`].
pub const CLIENT_DATANODE_PROTOCOL_VERSION: u64 = 1;

/// InterDatanodeProtocol (DataNode → DataNode IPC port, block recovery),
/// service `InterDatanodeProtocolService`.
pub const INTER_DATANODE_PROTOCOL: &str =
    "org.apache.hadoop.hdfs.server.protocol.InterDatanodeProtocol";
/// Version of [`INTER_DATANODE_PROTOCOL`].
pub const INTER_DATANODE_PROTOCOL_VERSION: u64 = 1;

/// [`CLIENT_NAMENODE_PROTOCOL`] with its version.
pub const CLIENT_NAMENODE: Protocol = Protocol {
    name: CLIENT_NAMENODE_PROTOCOL,
    version: CLIENT_NAMENODE_PROTOCOL_VERSION,
};
/// [`DATANODE_PROTOCOL`] with its version.
pub const DATANODE: Protocol = Protocol {
    name: DATANODE_PROTOCOL,
    version: DATANODE_PROTOCOL_VERSION,
};
/// [`CLIENT_DATANODE_PROTOCOL`] with its version.
pub const CLIENT_DATANODE: Protocol = Protocol {
    name: CLIENT_DATANODE_PROTOCOL,
    version: CLIENT_DATANODE_PROTOCOL_VERSION,
};
/// [`INTER_DATANODE_PROTOCOL`] with its version.
pub const INTER_DATANODE: Protocol = Protocol {
    name: INTER_DATANODE_PROTOCOL,
    version: INTER_DATANODE_PROTOCOL_VERSION,
};

/// Every protocol above, for servers that register a table of services.
pub const ALL: [Protocol; 4] = [CLIENT_NAMENODE, DATANODE, CLIENT_DATANODE, INTER_DATANODE];

/// Looks a protocol up by its Java interface name.
pub fn by_name(name: &str) -> Option<Protocol> {
    ALL.into_iter().find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_name_finds_each_protocol_and_nothing_else() {
        for p in ALL {
            assert_eq!(by_name(p.name), Some(p));
        }
        assert_eq!(
            by_name("org.apache.hadoop.hdfs.protocol.ClientProtocolX"),
            None
        );
    }
}
