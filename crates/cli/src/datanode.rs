//! `ferrodfs datanode`: Hadoop's `hdfs datanode` — configuration from `HADOOP_CONF_DIR`
//! and generic options (`-D key=value`, `-conf file`, `-fs uri`); registers with the
//! NameNode of `fs.defaultFS` / `dfs.namenode.rpc-address` and serves until
//! SIGINT/SIGTERM or `dfsadmin -shutdownDatanode` (with `upgrade`: writers are told
//! to wait for the node's restart; see `ferrodfs_datanode::shutdown`).

use anyhow::{bail, Context};
use ferrodfs_conf::{Configuration, GenericOptions};
use ferrodfs_datanode::{DataNode, DataNodeConfig};
use signal_hook::consts::{SIGINT, SIGTERM};

pub fn run(args: Vec<String>) -> anyhow::Result<()> {
    let opts = GenericOptions::parse(args).context("bad generic options")?;
    if let Some(extra) = opts.rest.first() {
        bail!("unknown option {extra}\nUsage: ferrodfs datanode [generic options]");
    }
    let conf = Configuration::load_from_env(&opts).context("loading the configuration")?;
    let config = DataNodeConfig::from_conf(&conf).context("DataNode configuration")?;
    if config.namenode.is_none() {
        bail!("no NameNode configured: set fs.defaultFS or dfs.namenode.rpc-address");
    }
    let mut signals =
        signal_hook::iterator::Signals::new([SIGINT, SIGTERM]).context("signal handlers")?;
    let dn = DataNode::start(config).context("starting the DataNode")?;
    println!("DataNode transfer server listening on {}", dn.xfer_addr());
    let request = dn.shutdown_request();
    {
        let request = request.clone();
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                let signal = signals.forever().next();
                tracing::info!(?signal, "shutting down");
                request.request(false);
            })
            .context("signal thread")?;
    }
    let for_upgrade = request.wait();
    tracing::info!(for_upgrade, "DataNode shutting down");
    dn.shutdown();
    Ok(())
}
