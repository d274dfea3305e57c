//! `ferrodfs dfsadmin -report [-live] [-dead]`: Hadoop's `hdfs dfsadmin -report` —
//! `Safe mode is ON` when it is, the cluster's capacity and block counts
//! (`getFsStats`), then every DataNode with capacity, used, remaining and state
//! (`getDatanodeReport`), in Hadoop's layout.
//! `ferrodfs dfsadmin -refreshNodes`: the NameNode re-reads `dfs.hosts` and
//! `dfs.hosts.exclude`. Both need the superuser, as in Hadoop.
//!
//! `ferrodfs dfsadmin -safemode enter|leave|get|wait|forceExit`: Hadoop's
//! `setSafeMode`, printing `Safe mode is ON` / `Safe mode is OFF` as `hdfs dfsadmin`
//! does (`wait` polls every 5 s until safe mode is off). Why the NameNode is in safe
//! mode (reported blocks against the threshold) is in its log and in the
//! `SafeModeException` of a refused change, as with Hadoop. `-shutdownDatanode` and
//! `-getDatanodeInfo` are in `dfsadmin_datanode`.

use crate::dfs::format::{byte_desc, java_date, java_fixed};
use ferrodfs_client::{ClientConf, DfsClient};
use ferrodfs_conf::{Configuration, GenericOptions};
use ferrodfs_proto::hdfs::datanode_info_proto::AdminState;
use ferrodfs_proto::hdfs::{
    DatanodeInfoProto, DatanodeReportTypeProto, GetDatanodeReportRequestProto,
    GetFsStatusRequestProto, SafeModeActionProto, SetSafeModeRequestProto,
};
use std::fmt::Write as _;

const USAGE: &str = "Usage: ferrodfs dfsadmin [generic options]\n\t[-report [-live] [-dead]]\n\t\
[-safemode <enter | leave | get | wait | forceExit>]\n\t[-refreshNodes]\n\t\
[-shutdownDatanode <datanode_host:ipc_port> [upgrade]]\n\t\
[-getDatanodeInfo <datanode_host:ipc_port>]\n\t[-help [cmd]]\n";
const SAFEMODE_USAGE: &str =
    "Usage: hdfs dfsadmin [-safemode enter | leave | get | wait | forceExit]";
/// How often `-safemode wait` asks (Hadoop's `DFSAdmin.waitExitSafeMode`: 5 s).
const SAFEMODE_WAIT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs `ferrodfs dfsadmin <args>`; returns the exit status.
pub fn run(args: Vec<String>) -> i32 {
    let opts = match GenericOptions::parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return 255;
        }
    };
    let mut rest = opts.rest.iter();
    let mut refresh = false;
    match rest.next().map(String::as_str) {
        Some("-report") => {}
        Some("-safemode") => return safemode(&opts, rest.map(String::as_str).collect()),
        Some("-refreshNodes") => refresh = true,
        Some("-shutdownDatanode") => {
            let args: Vec<&str> = rest.map(String::as_str).collect();
            return crate::dfsadmin_datanode::shutdown_datanode(&args);
        }
        Some("-getDatanodeInfo") => {
            let args: Vec<&str> = rest.map(String::as_str).collect();
            return crate::dfsadmin_datanode::get_datanode_info(&args);
        }
        Some("-help") => {
            print!("{USAGE}\n-report [-live] [-dead]:\tReports basic filesystem information and statistics.\n\n-refreshNodes:\tUpdates the namenode with the set of datanodes allowed to connect to the namenode.\n");
            return 0;
        }
        other => {
            if let Some(cmd) = other {
                eprintln!("{cmd}: Unknown command");
            }
            eprint!("{USAGE}");
            return 255;
        }
    }
    let (mut live, mut dead) = (false, false);
    for a in rest {
        match a.as_str() {
            other if refresh => {
                eprintln!("refreshNodes: Illegal option {other}\n{USAGE}");
                return 255;
            }
            "-live" => live = true,
            "-dead" => dead = true,
            other => {
                eprintln!("report: Illegal option {other}\n{USAGE}");
                return 255;
            }
        }
    }
    if !live && !dead {
        (live, dead) = (true, true);
    }
    let client = connect(&opts);
    let (what, result) = if refresh {
        (
            "refreshNodes",
            client.and_then(|c| refresh_nodes(&c).map_err(|e| e.to_string())),
        )
    } else {
        (
            "report",
            client.and_then(|c| report(&c, live, dead).map_err(|e| e.to_string())),
        )
    };
    match result {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(e) => {
            eprintln!("{what}: {e}");
            1
        }
    }
}

/// `-safemode <action>`.
fn safemode(opts: &GenericOptions, args: Vec<&str>) -> i32 {
    let action = match args.as_slice() {
        ["enter"] => SafeModeActionProto::SafemodeEnter,
        ["leave"] => SafeModeActionProto::SafemodeLeave,
        ["get"] | ["wait"] => SafeModeActionProto::SafemodeGet,
        ["forceExit"] => SafeModeActionProto::SafemodeForceExit,
        _ => {
            eprintln!("{SAFEMODE_USAGE}");
            return 255;
        }
    };
    let wait = args == ["wait"];
    let result = connect(opts).and_then(|c| loop {
        let on = c
            .namenode()
            .set_safe_mode(&SetSafeModeRequestProto {
                action: action as i32,
                checked: Some(false),
            })
            .map(|r| r.result)
            .map_err(|e| remote_message(&e))?;
        if !(wait && on) {
            return Ok(on);
        }
        std::thread::sleep(SAFEMODE_WAIT_INTERVAL);
    });
    match result {
        Ok(on) => {
            println!("Safe mode is {}", if on { "ON" } else { "OFF" });
            0
        }
        Err(e) => {
            eprintln!("safemode: {e}");
            1
        }
    }
}

/// The first line of a remote exception's message, as `hdfs dfsadmin` prints it.
fn remote_message(e: &ferrodfs_ipc::Error) -> String {
    let text = match e {
        ferrodfs_ipc::Error::Remote(r) | ferrodfs_ipc::Error::Fatal(r) => r.message.clone(),
        other => other.to_string(),
    };
    text.lines().next().unwrap_or("").to_owned()
}

/// A client of the NameNode the configuration names.
fn connect(opts: &GenericOptions) -> Result<DfsClient, String> {
    Configuration::load_from_env(opts)
        .map_err(|e| e.to_string())
        .and_then(|conf| {
            let mut cc = ClientConf::from_configuration(&conf).map_err(|e| e.to_string())?;
            cc.user = ferrodfs_ipc::client::current_user();
            let nn = match conf.namenode_rpc_address().map_err(|e| e.to_string())? {
                Some(nn) => format!("{}:{}", nn.host, nn.port),
                None if conf.source(ferrodfs_conf::keys::FS_DEFAULT_FS) == Some("default") => {
                    crate::dfs::UNCONFIGURED_NAMENODE.to_owned()
                }
                None => {
                    return Err(
                        "fs.defaultFS is not an hdfs:// URI; use -fs hdfs://host:port".into(),
                    )
                }
            };
            DfsClient::connect(&format!("hdfs://{nn}"), cc).map_err(|e| e.to_string())
        })
}

/// `refreshNodes` (an empty request and reply, as prost messages of their own).
pub fn refresh_nodes(c: &DfsClient) -> Result<String, ferrodfs_ipc::Error> {
    use ferrodfs_namenode::rpc::client_protocol::{
        RefreshNodesRequestProto, RefreshNodesResponseProto,
    };
    let nn = c.namenode();
    let _: RefreshNodesResponseProto = nn.client().call(
        nn.addr(),
        ferrodfs_proto::protocol::CLIENT_NAMENODE,
        "refreshNodes",
        &RefreshNodesRequestProto {},
    )?;
    Ok("Refresh nodes successful\n".to_owned())
}

fn with_desc(n: u64) -> String {
    format!("{n} ({})", byte_desc(n))
}

fn percent(part: u64, whole: u64) -> String {
    let p = if whole == 0 {
        100.0
    } else {
        part as f64 * 100.0 / whole as f64
    };
    format!("{}%", java_fixed(p, 2))
}

/// The text of `dfsadmin -report`.
pub fn report(c: &DfsClient, live: bool, dead: bool) -> Result<String, ferrodfs_ipc::Error> {
    let nn = c.namenode();
    let s = nn.get_fs_stats(&GetFsStatusRequestProto {})?;
    let present = s.used + s.remaining;
    let mut o = String::new();
    let safe_mode = nn.set_safe_mode(&SetSafeModeRequestProto {
        action: SafeModeActionProto::SafemodeGet as i32,
        checked: Some(false),
    })?;
    if safe_mode.result {
        let _ = writeln!(o, "Safe mode is ON");
    }
    let _ = writeln!(o, "Configured Capacity: {}", with_desc(s.capacity));
    let _ = writeln!(o, "Present Capacity: {}", with_desc(present));
    let _ = writeln!(o, "DFS Remaining: {}", with_desc(s.remaining));
    let _ = writeln!(o, "DFS Used: {}", with_desc(s.used));
    let used_pct = if present == 0 {
        0.0
    } else {
        s.used as f64 * 100.0 / present as f64
    };
    let _ = writeln!(o, "DFS Used%: {}%", java_fixed(used_pct, 2));
    let _ = writeln!(o, "Replicated Blocks:");
    let _ = writeln!(o, "\tUnder replicated blocks: {}", s.under_replicated);
    let _ = writeln!(o, "\tBlocks with corrupt replicas: {}", s.corrupt_blocks);
    let _ = writeln!(o, "\tMissing blocks: {}", s.missing_blocks);
    let _ = writeln!(
        o,
        "\tMissing blocks (with replication factor 1): {}",
        s.missing_repl_one_blocks.unwrap_or(0)
    );
    let _ = writeln!(
        o,
        "\tPending deletion blocks: {}",
        s.pending_deletion_blocks.unwrap_or(0)
    );
    let _ = writeln!(o, "Erasure Coded Block Groups: ");
    let _ = writeln!(o, "\tLow redundancy block groups: 0");
    let _ = writeln!(o, "\tBlock groups with corrupt internal blocks: 0");
    let _ = writeln!(o, "\tMissing block groups: 0");
    let _ = writeln!(o, "\tPending deletion blocks: 0");
    let _ = writeln!(o);
    let _ = writeln!(o, "-------------------------------------------------");
    let nodes = |kind: DatanodeReportTypeProto| {
        nn.get_datanode_report(&GetDatanodeReportRequestProto {
            r#type: kind as i32,
        })
        .map(|r| r.di)
    };
    let live_nodes = nodes(DatanodeReportTypeProto::Live)?;
    let dead_nodes = nodes(DatanodeReportTypeProto::Dead)?;
    if live {
        let _ = writeln!(o, "Live datanodes ({}):\n", live_nodes.len());
        // The report ends in a newline; Hadoop prints it with println and then
        // an empty line.
        for dn in &live_nodes {
            let _ = writeln!(o, "{}\n", datanode_report(dn));
        }
    }
    if dead && (!dead_nodes.is_empty() || !live) {
        let _ = writeln!(o, "Dead datanodes ({}):\n", dead_nodes.len());
        for dn in &dead_nodes {
            let _ = writeln!(o, "{}\n", datanode_report(dn));
        }
    }
    Ok(o)
}

/// Hadoop's `DatanodeInfo.getDatanodeReport()`.
pub fn datanode_report(dn: &DatanodeInfoProto) -> String {
    let id = &dn.id;
    let capacity = dn.capacity.unwrap_or(0);
    let used = dn.dfs_used.unwrap_or(0);
    let remaining = dn.remaining.unwrap_or(0);
    let non_dfs = dn
        .non_dfs_used
        .unwrap_or_else(|| capacity.saturating_sub(used + remaining));
    let cache_cap = dn.cache_capacity.unwrap_or(0);
    let cache_used = dn.cache_used.unwrap_or(0);
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Name: {}:{} ({})",
        id.ip_addr, id.xfer_port, id.host_name
    );
    let _ = writeln!(o, "Hostname: {}", id.host_name);
    if let Some(rack) = dn.location.as_deref().filter(|r| *r != "/default-rack") {
        let _ = writeln!(o, "Rack: {rack}");
    }
    if let Some(ud) = &dn.upgrade_domain {
        let _ = writeln!(o, "Upgrade domain: {ud}");
    }
    let state = match dn.admin_state.and_then(|s| AdminState::try_from(s).ok()) {
        Some(AdminState::Decommissioned) => "Decommissioned",
        Some(AdminState::DecommissionInprogress) => "Decommission in progress",
        Some(AdminState::InMaintenance) => "In maintenance",
        Some(AdminState::EnteringMaintenance) => "Entering maintenance",
        _ => "Normal",
    };
    let _ = writeln!(o, "Decommission Status : {state}");
    let _ = writeln!(o, "Configured Capacity: {}", with_desc(capacity));
    let _ = writeln!(o, "DFS Used: {}", with_desc(used));
    let _ = writeln!(o, "Non DFS Used: {}", with_desc(non_dfs));
    let _ = writeln!(o, "DFS Remaining: {}", with_desc(remaining));
    let _ = writeln!(o, "DFS Used%: {}", percent(used, capacity));
    let _ = writeln!(o, "DFS Remaining%: {}", percent(remaining, capacity));
    let _ = writeln!(o, "Configured Cache Capacity: {}", with_desc(cache_cap));
    let _ = writeln!(o, "Cache Used: {}", with_desc(cache_used));
    let _ = writeln!(
        o,
        "Cache Remaining: {}",
        with_desc(cache_cap.saturating_sub(cache_used))
    );
    let _ = writeln!(o, "Cache Used%: {}", percent(cache_used, cache_cap));
    let _ = writeln!(
        o,
        "Cache Remaining%: {}",
        percent(cache_cap.saturating_sub(cache_used), cache_cap)
            .replace("100.00%", if cache_cap == 0 { "0.00%" } else { "100.00%" })
    );
    let _ = writeln!(o, "Xceivers: {}", dn.xceiver_count.unwrap_or(0));
    let _ = writeln!(
        o,
        "Last contact: {}",
        java_date(dn.last_update.unwrap_or(0))
    );
    let last_br = match dn.last_block_report_time {
        Some(t) if t > 0 => java_date(t),
        _ => "Never".to_owned(),
    };
    let _ = writeln!(o, "Last Block Report: {last_br}");
    let _ = writeln!(o, "Num of Blocks: {}", dn.num_blocks.unwrap_or(0));
    o
}
