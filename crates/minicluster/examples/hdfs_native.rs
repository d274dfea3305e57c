//! A few file commands through the `hdfs-native` crate — a Rust HDFS client nobody here
//! wrote — to try a running `ferrodfs cluster` by hand:
//!
//! ```sh
//! cargo run -p ferrodfs-minicluster --example hdfs_native -- hdfs://127.0.0.1:8020 put big.bin /big.bin
//! cargo run -p ferrodfs-minicluster --example hdfs_native -- hdfs://127.0.0.1:8020 ls /
//! cargo run -p ferrodfs-minicluster --example hdfs_native -- hdfs://127.0.0.1:8020 cat /big.bin | md5sum
//! cargo run -p ferrodfs-minicluster --example hdfs_native -- hdfs://127.0.0.1:8020 rm /big.bin
//! ```

use std::error::Error;
use std::io::{Read, Write};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const USAGE: &str = "usage: hdfs_native <hdfs://host:port> (put <local> <remote> | cat <path> | ls <dir> | rm <path>)";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, command, rest @ ..] = args.as_slice() else {
        return Err(USAGE.into());
    };
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let client = hdfs_native::ClientBuilder::new().with_url(url).build()?;
        match (command.as_str(), rest) {
            ("put", [local, remote]) => {
                let mut file = std::fs::File::open(local)?;
                let mut writer = client
                    .create(remote, hdfs_native::WriteOptions::default())
                    .await?;
                let mut buf = vec![0u8; 1 << 20];
                loop {
                    let n = file.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    writer
                        .write_bytes(bytes::Bytes::copy_from_slice(&buf[..n]))
                        .await?;
                }
                writer.close().await?;
            }
            ("cat", [path]) => {
                let reader = client.read(path).await?;
                let mut out = std::io::stdout().lock();
                let mut offset = 0;
                while offset < reader.file_length() {
                    let len = (reader.file_length() - offset).min(1 << 20);
                    out.write_all(&reader.read_range(offset, len).await?)?;
                    offset += len;
                }
            }
            ("ls", [dir]) => {
                for status in client.list_status(dir, false).await? {
                    let kind = if status.isdir { 'd' } else { '-' };
                    println!("{kind} {:>12} {}", status.length, status.path);
                }
            }
            ("rm", [path]) => {
                if !client.delete(path, true).await? {
                    return Err(format!("rm: {path}: not deleted").into());
                }
            }
            _ => return Err(USAGE.into()),
        }
        Ok(())
    })
}
