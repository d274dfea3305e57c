//! Compiles `proto/*.proto` into Rust with prost, parsing the `.proto` files
//! with `protox` (pure Rust) so that no `protoc` binary is needed.

use std::path::Path;

/// The files compiled, in dependency order (imports resolve within `proto/`).
const PROTO_FILES: &[&str] = &[
    "Security.proto",
    "RpcHeader.proto",
    "IpcConnectionContext.proto",
    "ProtobufRpcEngine.proto",
    "acl.proto",
    "hdfs.proto",
    "HdfsServer.proto",
    "xattr.proto",
    "ClientNamenodeProtocol.proto",
    "ClientDatanodeProtocol.proto",
    "datatransfer.proto",
    "DatanodeProtocol.proto",
    "InterDatanodeProtocol.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new("proto");
    println!("cargo:rerun-if-changed=proto");
    for file in PROTO_FILES {
        println!("cargo:rerun-if-changed={}", dir.join(file).display());
    }
    let descriptors = protox::compile(PROTO_FILES, [dir])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
