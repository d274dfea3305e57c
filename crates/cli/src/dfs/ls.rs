//! Listing and reports: `-ls`, `-du`, `-df`, `-count`, `-stat`, `-test`,
//! `-checksum`, formatted byte for byte as Hadoop 3.3's FsShell prints them.

use super::format::{java_fixed, long2string, ls_date, permission_string, stat_date};
use super::{client_failure, is_a_dir, not_found, parse_opts, Failure, Item, Shell, UsageError};
use ferrodfs_client::FileStatus;
use std::io::Write;

type CmdResult = Result<(), UsageError>;

fn default_args(args: &mut Vec<String>, default: &str) {
    if args.is_empty() {
        args.push(default.to_owned());
    }
}

fn size(n: u64, human: bool) -> String {
    if human {
        long2string(n as i64, "", 1)
    } else {
        n.to_string()
    }
}

struct Ls {
    max_repl: usize,
    max_len: usize,
    max_owner: usize,
    max_group: usize,
    human: bool,
    path_only: bool,
    recursive: bool,
    dir_recurse: bool,
    reverse: bool,
    by_time: bool,
    by_size: bool,
    atime: bool,
    hide_nonprintable: bool,
}

impl Ls {
    fn adjust_widths(&mut self, items: &[Item]) {
        for st in items.iter().filter_map(|i| i.stat.as_ref()) {
            self.max_repl = self.max_repl.max(st.replication.to_string().len());
            self.max_len = self.max_len.max(st.length.to_string().len());
            self.max_owner = self.max_owner.max(st.owner.len());
            self.max_group = self.max_group.max(st.group.len());
        }
    }

    fn line(&self, item: &Item, st: &FileStatus) -> String {
        let repl = if st.is_file() {
            st.replication.to_string()
        } else {
            "-".to_owned()
        };
        let col = |s: &str, w: usize| {
            if w > 0 {
                format!("{s:<w$} ")
            } else {
                s.to_owned()
            }
        };
        let time = if self.atime {
            st.access_time
        } else {
            st.modification_time
        };
        format!(
            "{}{} {:>rw$} {}{}{:>lw$} {} {}",
            if st.is_dir() { "d" } else { "-" },
            permission_string(st.permission),
            repl,
            col(&st.owner, self.max_owner),
            col(&st.group, self.max_group),
            size(st.length, self.human),
            ls_date(time),
            self.shown(&item.display),
            rw = self.max_repl,
            lw = self.max_len,
        )
    }

    fn shown(&self, s: &str) -> String {
        if self.hide_nonprintable {
            s.chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .collect()
        } else {
            s.to_owned()
        }
    }

    fn sort(&self, items: &mut [Item]) {
        let key_time = |i: &Item| {
            i.stat.as_ref().map_or(0, |s| {
                if self.atime {
                    s.access_time
                } else {
                    s.modification_time
                }
            })
        };
        if self.by_time {
            items.sort_by_key(|i| std::cmp::Reverse(key_time(i)));
        } else if self.by_size {
            items.sort_by_key(|i| std::cmp::Reverse(i.stat.as_ref().map_or(0, |s| s.length)));
        } else {
            items.sort_by(|a, b| a.path.cmp(&b.path));
        }
        if self.reverse {
            items.reverse();
        }
    }

    fn process_paths(&mut self, sh: &mut Shell, parent: Option<&Item>, mut items: Vec<Item>) {
        if parent.is_some() && !self.recursive && !items.is_empty() {
            if !self.path_only {
                let _ = writeln!(sh.out, "Found {} items", items.len());
            }
            self.sort(&mut items);
        }
        if !self.path_only {
            self.adjust_widths(&items);
        }
        for item in &items {
            let Some(st) = &item.stat else { continue };
            if self.path_only {
                let _ = writeln!(sh.out, "{}", self.shown(&item.display));
            } else {
                let line = self.line(item, st);
                let _ = writeln!(sh.out, "{line}");
            }
            if self.recursive && st.is_dir() {
                self.recurse(sh, item);
            }
        }
    }

    fn recurse(&mut self, sh: &mut Shell, item: &Item) {
        match item.children() {
            Ok(children) => self.process_paths(sh, Some(item), children),
            Err(e) => sh.error(client_failure(&e, &item.display)),
        }
    }
}

/// `-ls [-C] [-d] [-h] [-q] [-R] [-t] [-S] [-r] [-u] [<path> ...]`
pub fn ls(sh: &mut Shell, args: &mut Vec<String>, lsr: bool) -> CmdResult {
    if lsr {
        args.insert(0, "-R".into());
    }
    let o = parse_opts(
        args,
        &["C", "d", "h", "q", "R", "t", "S", "r", "u"],
        &[],
        0,
        usize::MAX,
    )?;
    default_args(args, ".");
    let dir_recurse = !o.has("d");
    let mut ls = Ls {
        max_repl: 3,
        max_len: 10,
        max_owner: 0,
        max_group: 0,
        human: o.has("h"),
        path_only: o.has("C"),
        recursive: o.has("R") && dir_recurse,
        dir_recurse,
        reverse: o.has("r"),
        by_time: o.has("t"),
        by_size: !o.has("t") && o.has("S"),
        atime: o.has("u"),
        hide_nonprintable: o.has("q"),
    };
    for item in sh.expand_all(args) {
        if item.stat.is_none() {
            sh.error(not_found(&item.display));
        } else if ls.dir_recurse && item.is_dir() {
            ls.recurse(sh, &item);
        } else {
            ls.process_paths(sh, None, vec![item]);
        }
    }
    Ok(())
}

/// Rows of left-aligned (or right-aligned) columns joined by two spaces
/// (FsUsage's `TableBuilder`).
struct Table {
    rows: Vec<Vec<String>>,
    right: Vec<bool>,
    header: bool,
    shown: usize,
}

impl Table {
    fn new(columns: usize, header: Option<&[&str]>) -> Table {
        let mut t = Table {
            rows: Vec::new(),
            right: vec![false; columns],
            header: header.is_some(),
            shown: columns,
        };
        if let Some(h) = header {
            t.rows.push(h.iter().map(|s| s.to_string()).collect());
        }
        t
    }

    fn is_empty(&self) -> bool {
        self.rows.len() == usize::from(self.header)
    }

    fn print(&self, out: &mut dyn Write) {
        if self.is_empty() {
            return;
        }
        let cols = self.right.len();
        let widths: Vec<usize> = (0..cols)
            .map(|c| {
                self.rows
                    .iter()
                    .map(|r| r[c].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in &self.rows {
            let mut line = String::new();
            for c in 0..self.shown {
                if c > 0 {
                    line.push_str("  ");
                }
                let w = widths[c];
                if self.right[c] {
                    line.push_str(&format!("{:>w$}", row[c]));
                } else if c != cols - 1 {
                    line.push_str(&format!("{:<w$}", row[c]));
                } else {
                    line.push_str(&row[c]);
                }
            }
            let _ = writeln!(out, "{line}");
        }
    }
}

/// `-du [-s] [-h] [-v] [-x] <path> ...`
pub fn du(sh: &mut Shell, args: &mut Vec<String>, dus: bool) -> CmdResult {
    if dus {
        args.insert(0, "-s".into());
    }
    let o = parse_opts(args, &["h", "s", "v", "x"], &[], 0, usize::MAX)?;
    default_args(args, ".");
    let human = o.has("h");
    let mut table = if o.has("v") {
        Table::new(
            3,
            Some(&[
                "SIZE",
                "DISK_SPACE_CONSUMED_WITH_ALL_REPLICAS",
                "FULL_PATH_NAME",
            ]),
        )
    } else {
        Table::new(3, None)
    };
    let summary = o.has("s");
    let row = |sh: &mut Shell, item: &Item, table: &mut Table| match item
        .fs
        .content_summary(&item.path)
    {
        Ok(cs) => table.rows.push(vec![
            size(cs.length, human),
            size(cs.space_consumed, human),
            item.display.clone(),
        ]),
        Err(e) => sh.error(client_failure(&e, &item.display)),
    };
    for item in sh.expand_all(args) {
        if item.stat.is_none() {
            sh.error(not_found(&item.display));
        } else if !summary && item.is_dir() {
            match item.children() {
                Ok(children) => {
                    for c in &children {
                        row(sh, c, &mut table);
                    }
                }
                Err(e) => sh.error(client_failure(&e, &item.display)),
            }
        } else {
            row(sh, &item, &mut table);
        }
    }
    table.print(&mut sh.out);
    Ok(())
}

/// `-df [-h] [<path> ...]`
pub fn df(sh: &mut Shell, args: &mut Vec<String>) -> CmdResult {
    let o = parse_opts(args, &["h"], &[], 0, usize::MAX)?;
    default_args(args, "/");
    let human = o.has("h");
    let mut table = Table::new(
        6,
        Some(&[
            "Filesystem",
            "Size",
            "Used",
            "Available",
            "Use%",
            "Mounted on",
        ]),
    );
    table.right = vec![false, true, true, true, true, false];
    table.shown = 5;
    sh.for_each_existing(args, |_sh, item| {
        let s = item
            .fs
            .fs_stats()
            .map_err(|e| client_failure(&e, &item.display))?;
        let pct = java_fixed(s.used as f64 / s.capacity as f64 * 100.0, 0);
        table.rows.push(vec![
            item.fs_uri.clone(),
            size(s.capacity, human),
            size(s.used, human),
            size(s.remaining, human),
            format!("{pct}%"),
            "/".into(),
        ]);
        Ok(())
    });
    table.print(&mut sh.out);
    Ok(())
}

fn quota_usage(cs: &ferrodfs_client::ContentSummary, human: bool) -> String {
    let sz = |n: i64| {
        if human {
            long2string(n, "", 1)
        } else {
            n.to_string()
        }
    };
    let (quota, space_quota) = (cs.quota as i64, cs.space_quota as i64);
    let (mut q, mut qr, mut sq, mut sqr) =
        ("none".into(), "inf".into(), "none".into(), "inf".into());
    if quota > 0 {
        q = sz(quota);
        qr = sz(quota - (cs.file_count + cs.directory_count) as i64);
    }
    if space_quota >= 0 {
        sq = sz(space_quota);
        sqr = sz(space_quota - cs.space_consumed as i64);
    }
    format!("{q:>12} {qr:>15} {sq:>15} {sqr:>15} ")
}

/// `-count [-q] [-h] [-v] [-u] [-x] <path> ...`
pub fn count(sh: &mut Shell, args: &mut Vec<String>) -> CmdResult {
    let o = parse_opts(args, &["q", "h", "v", "u", "x"], &[], 1, usize::MAX)?;
    let (quotas, usage_only, human) = (o.has("q"), o.has("u"), o.has("h"));
    if o.has("v") {
        let mut h = String::new();
        if quotas || usage_only {
            h.push_str(&format!(
                "{:>12} {:>15} {:>15} {:>15} ",
                "QUOTA", "REM_QUOTA", "SPACE_QUOTA", "REM_SPACE_QUOTA"
            ));
        }
        if !usage_only {
            h.push_str(&format!(
                "{:>12} {:>12} {:>18} ",
                "DIR_COUNT", "FILE_COUNT", "CONTENT_SIZE"
            ));
        }
        let _ = writeln!(sh.out, "{h}PATHNAME");
    }
    sh.for_each_existing(args, |sh, item| {
        let cs = item
            .fs
            .content_summary(&item.path)
            .map_err(|e| client_failure(&e, &item.display))?;
        let mut line = String::new();
        if quotas || usage_only {
            line.push_str(&quota_usage(&cs, human));
        }
        if !usage_only {
            line.push_str(&format!(
                "{:>12} {:>12} {:>18} ",
                size(cs.directory_count, human),
                size(cs.file_count, human),
                size(cs.length, human)
            ));
        }
        let _ = writeln!(sh.out, "{line}{}", item.display);
        Ok(())
    });
    Ok(())
}

fn stat_line(format: &str, item: &Item, st: &FileStatus) -> String {
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(f) = chars.next() else { break };
        match f {
            'a' => out.push_str(&format!("{:o}", st.permission)),
            'A' => out.push_str(&permission_string(st.permission)),
            'b' => out.push_str(&st.length.to_string()),
            'F' => out.push_str(match st.kind {
                ferrodfs_client::FileKind::Directory => "directory",
                ferrodfs_client::FileKind::File => "regular file",
                ferrodfs_client::FileKind::Symlink => "symlink",
            }),
            'g' => out.push_str(&st.group),
            'n' => out.push_str(super::path::basename(&item.path)),
            'o' => out.push_str(&st.block_size.to_string()),
            'r' => out.push_str(&st.replication.to_string()),
            'u' => out.push_str(&st.owner),
            'x' => out.push_str(&stat_date(st.access_time)),
            'X' => out.push_str(&st.access_time.to_string()),
            'y' => out.push_str(&stat_date(st.modification_time)),
            'Y' => out.push_str(&st.modification_time.to_string()),
            other => out.push(other),
        }
    }
    out
}

/// `-stat [-R] [format] <path> ...`
pub fn stat(sh: &mut Shell, args: &mut Vec<String>) -> CmdResult {
    let o = parse_opts(args, &["R"], &[], 1, usize::MAX)?;
    let format = if args.len() > 1 && args[0].contains('%') {
        args.remove(0)
    } else {
        "%y".to_owned()
    };
    let recursive = o.has("R");
    fn visit(sh: &mut Shell, format: &str, item: &Item, recursive: bool) -> Result<(), Failure> {
        if let Some(st) = &item.stat {
            let _ = writeln!(sh.out, "{}", stat_line(format, item, st));
            if recursive && st.is_dir() {
                for c in item
                    .children()
                    .map_err(|e| client_failure(&e, &item.display))?
                {
                    visit(sh, format, &c, recursive)?;
                }
            }
        }
        Ok(())
    }
    sh.for_each_existing(args, |sh, item| visit(sh, &format, item, recursive));
    Ok(())
}

/// `-test -[defswrz] <path>`: the answer is the exit status.
pub fn test(sh: &mut Shell, args: &mut Vec<String>) -> CmdResult {
    let flags = ["d", "e", "f", "s", "w", "r", "z"];
    let o = parse_opts(args, &flags, &[], 1, 1)?;
    let given: Vec<&str> = flags.iter().copied().filter(|f| o.has(f)).collect();
    let flag = match given.as_slice() {
        [] => return Err(UsageError("No test flag given".into())),
        [f] => *f,
        _ => return Err(UsageError("Only one test flag is allowed".into())),
    };
    let mut answer = false;
    for item in sh.expand_all(args) {
        let Some(st) = &item.stat else {
            answer = false;
            continue;
        };
        let user = sh.user.clone();
        answer = match flag {
            "e" => true,
            "d" => st.is_dir(),
            "f" => st.is_file(),
            "s" => st.length > 0,
            "z" => st.length == 0,
            "r" => permitted(st, &user, 4),
            _ => permitted(st, &user, 2),
        };
    }
    sh.exit_code = if answer { 0 } else { 1 };
    Ok(())
}

/// An approximation of the NameNode's access check (no group lookup): the
/// owner's bits for the owner, else the group's or others' bits.
fn permitted(st: &FileStatus, user: &str, bit: u16) -> bool {
    if st.owner == user {
        st.permission & (bit << 6) != 0
    } else {
        st.permission & ((bit << 3) | bit) != 0
    }
}

/// `-checksum [-v] <src> ...`
pub fn checksum(sh: &mut Shell, args: &mut Vec<String>) -> CmdResult {
    let o = parse_opts(args, &["v"], &[], 1, usize::MAX)?;
    let verbose = o.has("v");
    sh.for_each_existing(args, |sh, item| {
        if item.is_dir() {
            return Err(is_a_dir(&item.display));
        }
        let c = item
            .fs
            .file_checksum(&item.path)
            .map_err(|e| client_failure(&e, &item.display))?;
        let hex: String = c.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
        let sum = format!("{}\t{hex}", c.algorithm());
        if verbose {
            let bs = item.stat.as_ref().map_or(0, |s| s.block_size);
            let _ = writeln!(sh.out, "{}\t{sum}\tBlockSize={bs}", item.display);
        } else {
            let _ = writeln!(sh.out, "{}\t{sum}", item.display);
        }
        Ok(())
    });
    Ok(())
}
