//! `ferrodfs namenode`: Hadoop's `hdfs namenode` — configuration from `HADOOP_CONF_DIR`
//! and generic options (`-D key=value`, `-conf file`, `-fs uri`), then either `-format`
//! (and exit) or serve in the foreground until SIGINT/SIGTERM (then a checkpoint).

use anyhow::{bail, Context};
use ferrodfs_conf::{Configuration, GenericOptions};
use ferrodfs_namenode::server::{NameNodeServer, NameNodeServerConfig};
use ferrodfs_namenode::storage::NameDir;
use ferrodfs_namenode::NameNode;
use signal_hook::consts::{SIGINT, SIGTERM};

/// What follows the generic options.
#[derive(Debug, Default, PartialEq, Eq)]
struct Startup {
    format: bool,
    force: bool,
    cluster_id: Option<String>,
}

fn parse_startup(rest: &[String]) -> anyhow::Result<Startup> {
    let mut s = Startup::default();
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        match arg.to_ascii_lowercase().as_str() {
            "-format" => s.format = true,
            "-force" => s.force = true,
            // We never prompt: -nonInteractive is what we always do.
            "-noninteractive" => {}
            "-clusterid" => {
                s.cluster_id = Some(it.next().context("-clusterid needs a value")?.clone())
            }
            "-regular" => {}
            other => bail!(
                "unknown option {other}\nUsage: ferrodfs namenode [generic options] \
                 [-format [-clusterid cid] [-force] [-nonInteractive]]"
            ),
        }
    }
    Ok(s)
}

pub fn run(args: Vec<String>) -> anyhow::Result<()> {
    let opts = GenericOptions::parse(args).context("bad generic options")?;
    let startup = parse_startup(&opts.rest)?;
    let conf = Configuration::load_from_env(&opts).context("loading the configuration")?;
    let config = NameNodeServerConfig::from_conf(&conf).context("NameNode configuration")?;
    if startup.format {
        let dir = NameDir::new(&config.namenode.name_dir);
        if dir.is_formatted() && !startup.force {
            bail!(
                "{} is already formatted; use -force to format it again",
                config.namenode.name_dir.display()
            );
        }
        let info = NameNode::format(&config.namenode, startup.cluster_id.as_deref())?;
        println!(
            "Storage directory {} has been successfully formatted (clusterID {}, blockpoolID {}).",
            config.namenode.name_dir.display(),
            info.cluster_id,
            info.block_pool_id
        );
        return Ok(());
    }
    let mut signals =
        signal_hook::iterator::Signals::new([SIGINT, SIGTERM]).context("signal handlers")?;
    let server = NameNodeServer::start(config).context("starting the NameNode")?;
    println!("NameNode RPC listening on {}", server.rpc_addr());
    if let Some(service) = server.service_rpc_addr() {
        println!("NameNode service RPC listening on {service}");
    }
    let signal = signals.forever().next();
    tracing::info!(?signal, "shutting down");
    server.shutdown().context("NameNode shutdown")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn startup_options() {
        assert_eq!(parse_startup(&[]).unwrap(), Startup::default());
        let s = parse_startup(&args(&["-format", "-FORCE", "-nonInteractive"])).unwrap();
        assert!(s.format && s.force);
        let s = parse_startup(&args(&["-format", "-clusterid", "CID-1"])).unwrap();
        assert_eq!(s.cluster_id.as_deref(), Some("CID-1"));
        assert!(parse_startup(&args(&["-upgrade"])).is_err());
        assert!(parse_startup(&args(&["-clusterid"])).is_err());
    }
}
