//! Namespace changes: `-mv`, `-mkdir`, `-rm`, `-rmdir`, `-touchz`, `-setrep`,
//! `-chmod`, `-chown`, `-chgrp`.

use super::format::Mode;
use super::path::{basename, join, parent};
use super::{
    client_failure, exists, is_a_dir, not_a_dir, not_found, parse_opts, stat_opt, Failure, Item,
    Shell, UsageError,
};
use ferrodfs_client::DEFAULT_DIR_PERMISSION;
use ferrodfs_proto::hdfs::GetBlockLocationsRequestProto;
use std::io::Write;
use std::time::Duration;

type CmdResult = Result<(), UsageError>;

/// `fs.trash.interval` (minutes; 0 disables the trash).
const FS_TRASH_INTERVAL: &str = "fs.trash.interval";

/// `-mv <src> ... <dst>`
pub fn mv(sh: &mut Shell, args: &mut Vec<String>) -> CmdResult {
    parse_opts(args, &[], &[], 2, usize::MAX)?;
    let dst_arg = args.pop().unwrap_or_default();
    let dst = match sh.item(&dst_arg) {
        Ok(d) => d,
        Err(e) => {
            sh.error(e);
            return Ok(());
        }
    };
    let items = sh.expand_all(args);
    if let Err(e) = super::copy::check_hdfs_destination(items.len(), &dst, false) {
        sh.error(e);
        return Ok(());
    }
    for item in items {
        if item.stat.is_none() {
            sh.error(not_found(&item.display));
            continue;
        }
        if let Err(e) = move_one(&item, &dst) {
            sh.error(e);
        }
    }
    Ok(())
}

fn move_one(item: &Item, dst: &Item) -> Result<(), Failure> {
    let target = if dst.is_dir() {
        dst.join(basename(&item.path))
            .map_err(|e| client_failure(&e, &dst.display))?
    } else {
        dst.clone()
    };
    if target.path == item.path {
        return Err(format!(
            "`{}' to `{}': Source and destination are the same",
            item.display, target.display
        ));
    }
    if target.stat.is_some() {
        return Err(exists(&target.display));
    }
    if target.path.starts_with(&format!("{}/", item.path)) {
        return Err(format!(
            "`{}' to `{}': is a subdirectory of itself",
            item.display, target.display
        ));
    }
    item.fs
        .rename(&item.path, &target.path, false)
        .map_err(|e| client_failure(&e, &item.display))
}

/// `-mkdir [-p] <path> ...`
pub fn mkdir(sh: &mut Shell, args: &mut Vec<String>) -> CmdResult {
    let o = parse_opts(args, &["p"], &[], 1, usize::MAX)?;
    let parents = o.has("p");
    for item in sh.expand_all(args) {
        let r = match &item.stat {
            Some(st) if st.is_dir() && parents => Ok(()),
            Some(st) if st.is_dir() => Err(exists(&item.display)),
            Some(_) => Err(not_a_dir(&item.display)),
            None => make_dir(&item, parents),
        };
        if let Err(e) = r {
            sh.error(e);
        }
    }
    Ok(())
}

fn make_dir(item: &Item, parents: bool) -> Result<(), Failure> {
    if !parents {
        let p = parent(&item.path);
        if stat_opt(&item.fs, &p)
            .map_err(|e| client_failure(&e, &item.display))?
            .is_none()
        {
            return Err(not_found(&format!("{}{p}", item.fs_uri)));
        }
    }
    match item.fs.mkdirs(&item.path, DEFAULT_DIR_PERMISSION) {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("`{}': Input/output error", item.display)),
        Err(e) => Err(client_failure(&e, &item.display)),
    }
}

/// `-rm [-f] [-r|-R] [-skipTrash] [-safely] <src> ...` (and `-rmr`).
pub fn rm(sh: &mut Shell, args: &mut Vec<String>, rmr: bool) -> CmdResult {
    if rmr {
        args.insert(0, "-r".into());
    }
    let flags = ["f", "r", "R", "skipTrash", "safely"];
    let forced = args
        .iter()
        .take_while(|a| a.starts_with('-') && *a != "-" && *a != "--")
        .any(|a| a == "-f");
    let o = parse_opts(args, &flags, &[], usize::from(!forced), usize::MAX)?;
    let (force, recursive, skip_trash) = (o.has("f"), o.has("r") || o.has("R"), o.has("skipTrash"));
    let trash_minutes = sh.conf.get_f32(FS_TRASH_INTERVAL, 0.0).unwrap_or(0.0);
    for arg in args.iter() {
        let items = match sh.expand(arg) {
            Ok(i) => i,
            Err(_) if force => continue,
            Err(e) => {
                sh.error(e);
                continue;
            }
        };
        for item in items {
            let r = match &item.stat {
                None if force => Ok(()),
                None => Err(not_found(&item.display)),
                Some(st) if st.is_dir() && !recursive => Err(is_a_dir(&item.display)),
                Some(_) if trash_minutes > 0.0 && !skip_trash => move_to_trash(sh, &item),
                Some(_) => match item.fs.delete(&item.path, recursive) {
                    Ok(true) => {
                        let _ = writeln!(sh.out, "Deleted {}", item.display);
                        Ok(())
                    }
                    Ok(false) => Err(format!("`{}': Input/output error", item.display)),
                    Err(e) => Err(client_failure(&e, &item.display)),
                },
            };
            if let Err(e) = r {
                sh.error(e);
            }
        }
    }
    Ok(())
}

/// Hadoop's `TrashPolicyDefault.moveToTrash`: into `/user/<user>/.Trash/Current`
/// under the same path (a timestamp appended if that exists).
fn move_to_trash(sh: &mut Shell, item: &Item) -> Result<(), Failure> {
    let trash_root = format!("/user/{}/.Trash", sh.user);
    if item.path == trash_root || item.path.starts_with(&format!("{trash_root}/")) {
        return match item.fs.delete(&item.path, true) {
            Ok(_) => {
                let _ = writeln!(sh.out, "Deleted {}", item.display);
                Ok(())
            }
            Err(e) => Err(client_failure(&e, &item.display)),
        };
    }
    let current = format!("{trash_root}/Current");
    let mut target = join(&current, item.path.trim_start_matches('/'));
    let fail = |e: ferrodfs_client::Error| client_failure(&e, &item.display);
    item.fs.mkdirs(&parent(&target), 0o700).map_err(fail)?;
    if stat_opt(&item.fs, &target).map_err(fail)?.is_some() {
        target = format!("{target}{}", chrono::Utc::now().timestamp_millis());
    }
    item.fs.rename(&item.path, &target, false).map_err(fail)?;
    let _ = sh.out.flush();
    eprintln!(
        "Moved: '{}{}' to trash at: {}{current}",
        item.fs_uri, item.path, item.fs_uri
    );
    Ok(())
}

/// `-rmdir [--ignore-fail-on-non-empty] <dir> ...`
pub fn rmdir(sh: &mut Shell, args: &mut Vec<String>) -> CmdResult {
    let o = parse_opts(args, &["-ignore-fail-on-non-empty"], &[], 1, usize::MAX)?;
    let ignore = o.has("-ignore-fail-on-non-empty");
    sh.for_each_existing(args, |_sh, item| {
        if !item.is_dir() {
            return Err(not_a_dir(&item.display));
        }
        let fail = |e: ferrodfs_client::Error| client_failure(&e, &item.display);
        if !item.fs.list(&item.path).map_err(fail)?.is_empty() {
            return if ignore {
                Ok(())
            } else {
                Err(format!("`{}': Directory is not empty", item.display))
            };
        }
        item.fs.delete(&item.path, false).map(|_| ()).map_err(fail)
    });
    Ok(())
}

/// `-touchz <path> ...`
pub fn touchz(sh: &mut Shell, args: &mut Vec<String>) -> CmdResult {
    parse_opts(args, &[], &[], 1, usize::MAX)?;
    for item in sh.expand_all(args) {
        let r = match &item.stat {
            Some(st) if st.is_dir() => Err(is_a_dir(&item.display)),
            Some(st) if st.length != 0 => {
                Err(format!("`{}': Not a zero-length file", item.display))
            }
            Some(_) => create_empty(&item, true),
            None => {
                let fail = |e: ferrodfs_client::Error| client_failure(&e, &item.display);
                match stat_opt(&item.fs, &parent(&item.path)) {
                    Ok(None) => Err(format!(
                        "{}: `{}{}'",
                        not_found(&item.display),
                        item.fs_uri,
                        item.path
                    )),
                    Ok(Some(p)) if !p.is_dir() => Err(not_a_dir(&item.display)),
                    Ok(Some(_)) => create_empty(&item, false),
                    Err(e) => Err(fail(e)),
                }
            }
        };
        if let Err(e) = r {
            sh.error(e);
        }
    }
    Ok(())
}

fn create_empty(item: &Item, overwrite: bool) -> Result<(), Failure> {
    let fail = |e: ferrodfs_client::Error| client_failure(&e, &item.display);
    item.fs
        .create(&item.path, overwrite)
        .map_err(fail)?
        .close()
        .map_err(fail)
}

/// Runs `f` on `item` and, for directories when `recursive`, on everything below.
fn walk(
    sh: &mut Shell,
    item: &Item,
    recursive: bool,
    f: &mut dyn FnMut(&mut Shell, &Item) -> Result<(), Failure>,
) -> Result<(), Failure> {
    f(sh, item)?;
    if recursive && item.is_dir() {
        let children = item
            .children()
            .map_err(|e| client_failure(&e, &item.display))?;
        for c in &children {
            if let Err(e) = walk(sh, c, recursive, f) {
                sh.error(e);
            }
        }
    }
    Ok(())
}

/// `-setrep [-R] [-w] <rep> <path> ...`: directories are always walked.
pub fn setrep(sh: &mut Shell, args: &mut Vec<String>) -> CmdResult {
    let o = parse_opts(args, &["R", "w"], &[], 2, usize::MAX)?;
    let rep_s = args.remove(0);
    let rep: u16 = match rep_s.parse::<i16>() {
        Ok(r) if r >= 1 => r as u16,
        Ok(_) => return Err(UsageError("replication must be >= 1".into())),
        Err(_) => return Err(UsageError(format!("For input string: \"{rep_s}\""))),
    };
    let mut waiting: Vec<Item> = Vec::new();
    sh.for_each_existing(args, |sh, item| {
        walk(sh, item, true, &mut |sh, it| {
            if !it.stat.as_ref().is_some_and(|s| s.is_file()) {
                return Ok(());
            }
            match it.fs.set_replication(&it.path, rep) {
                Ok(true) => {}
                Ok(false) => return Err(format!("Could not set replication for: {}", it.display)),
                Err(e) => return Err(client_failure(&e, &it.display)),
            }
            let _ = writeln!(sh.out, "Replication {rep} set: {}", it.display);
            waiting.push(it.clone());
            Ok(())
        })
    });
    if o.has("w") {
        for it in &waiting {
            if let Err(e) = wait_for_replication(sh, it, rep) {
                sh.error(e);
            }
        }
    }
    Ok(())
}

/// Polls the block locations until every block has `rep` replicas (Hadoop polls
/// every 10 s; we poll every second).
fn wait_for_replication(sh: &mut Shell, it: &Item, rep: u16) -> Result<(), Failure> {
    let _ = write!(sh.out, "Waiting for {} ...", it.display);
    let _ = sh.out.flush();
    let mut warned = false;
    loop {
        let located = it
            .fs
            .namenode()
            .get_block_locations(&GetBlockLocationsRequestProto {
                src: it.path.clone(),
                offset: 0,
                length: i64::MAX as u64,
            })
            .map_err(|e| format!("`{}': {e}", it.display))?
            .locations;
        let blocks = located.map(|l| l.blocks).unwrap_or_default();
        let pending = blocks.iter().find(|b| b.locs.len() != usize::from(rep));
        match pending {
            None => break,
            Some(b) => {
                if !warned && b.locs.len() > usize::from(rep) {
                    let _ = writeln!(
                        sh.out,
                        "\nWARNING: the waiting time may be long for DECREASING the number of replications."
                    );
                    warned = true;
                }
            }
        }
        let _ = write!(sh.out, ".");
        let _ = sh.out.flush();
        std::thread::sleep(Duration::from_secs(1));
    }
    let _ = writeln!(sh.out, " done");
    Ok(())
}

/// `-chmod [-R] <MODE[,MODE]... | OCTALMODE> PATH...`
pub fn chmod(sh: &mut Shell, args: &mut Vec<String>) -> CmdResult {
    let o = parse_opts(args, &["R"], &[], 2, usize::MAX)?;
    let spec = args.remove(0);
    let mode = Mode::parse(&spec).ok_or_else(|| {
        UsageError(format!(
            "chmod : mode '{spec}' does not match the expected pattern."
        ))
    })?;
    let recursive = o.has("R");
    sh.for_each_existing(args, |sh, item| {
        walk(sh, item, recursive, &mut |_sh, it| {
            let Some(st) = &it.stat else { return Ok(()) };
            let new = mode.apply(st.permission, st.is_dir());
            if new == st.permission {
                return Ok(());
            }
            it.fs
                .set_permission(&it.path, new)
                .map_err(|e| client_failure(&e, &it.display))
        })
    });
    Ok(())
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./@".contains(c))
}

/// `-chown [-R] [OWNER][:[GROUP]] PATH...` and `-chgrp [-R] GROUP PATH...`.
pub fn chown(sh: &mut Shell, args: &mut Vec<String>, chgrp: bool) -> CmdResult {
    let o = parse_opts(args, &["R"], &[], 2, usize::MAX)?;
    let spec = args.remove(0);
    let (owner, group) = if chgrp {
        if !valid_name(&spec) {
            return Err(UsageError(format!(
                "'{spec}' does not match expected pattern for group"
            )));
        }
        (None, Some(spec.clone()))
    } else {
        let (o, g) = match spec.split_once(':') {
            Some((o, g)) => (o, Some(g)),
            None => (spec.as_str(), None),
        };
        let owner = (!o.is_empty()).then(|| o.to_owned());
        let group = g.filter(|g| !g.is_empty()).map(str::to_owned);
        let ok = owner.as_deref().is_none_or(valid_name)
            && group.as_deref().is_none_or(valid_name)
            && (owner.is_some() || group.is_some());
        if !ok {
            return Err(UsageError(format!(
                "'{spec}' does not match expected pattern for [owner][:group]."
            )));
        }
        (owner, group)
    };
    let recursive = o.has("R");
    sh.for_each_existing(args, |sh, item| {
        walk(sh, item, recursive, &mut |_sh, it| {
            it.fs
                .set_owner(&it.path, owner.as_deref(), group.as_deref())
                .map_err(|e| client_failure(&e, &it.display))
        })
    });
    Ok(())
}
