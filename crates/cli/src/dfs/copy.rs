//! Data in and out: `-cat`, `-text`, `-head`, `-tail`, `-put`/`-copyFromLocal`
//! (`-` for stdin), `-get`/`-copyToLocal`, `-cp`, `-appendToFile`.
//!
//! Copies into HDFS go to `<dst>._COPYING_` first and are renamed into place (unless
//! `-d`), as Hadoop's `CommandWithDestination` does; local targets likewise.

use super::path::{basename, child_display};
use super::{
    client_failure, exists, is_a_dir, not_a_dir, not_found, parse_opts, Failure, Item, Shell,
    UsageError,
};
use ferrodfs_client::{CreateOptions, DfsClient};
use indicatif::{ProgressBar, ProgressStyle};
use std::fs;
use std::io::{self, IsTerminal, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

type CmdResult = Result<(), UsageError>;

/// Files at least this large get a progress bar (when stdout is a terminal).
const PROGRESS_MIN: u64 = 32 << 20;
const COPYING_SUFFIX: &str = "._COPYING_";

/// Output to a closed pipe (`ferrodfs dfs -cat f | head`): stop quietly.
fn quiet_broken_pipe(r: io::Result<u64>) -> io::Result<u64> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
        r => r,
    }
}

/// An I/O error as FsShell would print it for the item shown as `d`.
fn io_failure(e: io::Error, d: &str) -> Failure {
    if e.get_ref()
        .is_some_and(|i| i.is::<ferrodfs_client::Error>())
    {
        if let Some(inner) = e.into_inner() {
            if let Ok(ce) = inner.downcast::<ferrodfs_client::Error>() {
                return client_failure(&ce, d);
            }
        }
        return format!("`{d}': Input/output error");
    }
    match e.kind() {
        io::ErrorKind::NotFound => not_found(d),
        io::ErrorKind::AlreadyExists => exists(d),
        io::ErrorKind::PermissionDenied => format!("`{d}': Permission denied"),
        _ => e.to_string(),
    }
}

/// Copies `r` to `w` in 1 MiB pieces, with a progress bar for large known lengths.
fn copy_data(
    r: &mut dyn Read,
    w: &mut dyn Write,
    len: Option<u64>,
    label: &str,
) -> io::Result<u64> {
    let bar = match len {
        Some(n) if n >= PROGRESS_MIN && io::stdout().is_terminal() => {
            let b = ProgressBar::new(n);
            if let Ok(style) = ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            ) {
                b.set_style(style);
            }
            b.set_message(label.to_owned());
            Some(b)
        }
        _ => None,
    };
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        w.write_all(&buf[..n])?;
        total += n as u64;
        if let Some(b) = &bar {
            b.inc(n as u64);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(total)
}

/// `-cat [-ignoreCrc] <src> ...` and `-text` (gzip is decompressed).
pub fn cat(sh: &mut Shell, args: &mut Vec<String>, text: bool) -> CmdResult {
    parse_opts(args, &["ignoreCrc"], &[], 1, usize::MAX)?;
    sh.for_each_existing(args, |sh, item| {
        if item.is_dir() {
            return Err(is_a_dir(&item.display));
        }
        let d = &item.display;
        let mut input = item
            .fs
            .open(&item.path)
            .map_err(|e| client_failure(&e, d))?;
        if text {
            let mut magic = [0u8; 2];
            let n = input
                .read_bytes(&mut magic)
                .map_err(|e| client_failure(&e, d))?;
            input
                .seek(SeekFrom::Start(0))
                .map_err(|e| io_failure(e, d))?;
            if n == 2 && magic == [0x1f, 0x8b] {
                let mut gz = flate2::read::MultiGzDecoder::new(input);
                return quiet_broken_pipe(copy_data(&mut gz, &mut sh.out, None, d))
                    .map(|_| ())
                    .map_err(|e| io_failure(e, d));
            }
        }
        quiet_broken_pipe(copy_data(&mut input, &mut sh.out, None, d))
            .map(|_| ())
            .map_err(|e| io_failure(e, d))
    });
    Ok(())
}

fn single_file(sh: &mut Shell, arg: &str) -> Result<Item, Failure> {
    let mut items = sh.expand(arg)?;
    if items.len() != 1 {
        return Err(format!("`{arg}': matches more than one file"));
    }
    let item = items.remove(0);
    match &item.stat {
        None => Err(not_found(&item.display)),
        Some(s) if s.is_dir() => Err(is_a_dir(&item.display)),
        Some(_) => Ok(item),
    }
}

/// `-head <file>`: the first 1 KB.
pub fn head(sh: &mut Shell, args: &mut Vec<String>) -> CmdResult {
    parse_opts(args, &[], &[], 1, 1)?;
    let r = single_file(sh, &args[0]).and_then(|item| {
        let d = &item.display;
        let input = item
            .fs
            .open(&item.path)
            .map_err(|e| client_failure(&e, d))?;
        copy_data(&mut input.take(1024), &mut sh.out, None, d)
            .map(|_| ())
            .map_err(|e| io_failure(e, d))
    });
    if let Err(e) = r {
        sh.error(e);
    }
    Ok(())
}

/// `-tail [-f] [-s <ms>] <file>`: the last 1 KB; with `-f`, then what is appended.
pub fn tail(sh: &mut Shell, args: &mut Vec<String>) -> CmdResult {
    let o = parse_opts(args, &["f"], &["s"], 1, 1)?;
    let follow = o.has("f");
    // Hadoop's Tail: 5000 ms unless `-s` gives a positive number of milliseconds.
    let delay = match o.value("s").filter(|v| !v.is_empty()) {
        None => Duration::from_secs(5),
        Some(v) => {
            let ms: i64 = v
                .parse()
                .map_err(|_| UsageError(format!("Invalid sleep interval: {v}")))?;
            u64::try_from(ms)
                .ok()
                .filter(|&ms| ms > 0)
                .map_or(Duration::from_secs(5), Duration::from_millis)
        }
    };
    let r = single_file(sh, &args[0]).and_then(|item| {
        let d = &item.display;
        let mut input = item
            .fs
            .open(&item.path)
            .map_err(|e| client_failure(&e, d))?;
        let mut offset = input.len().saturating_sub(1024);
        loop {
            input
                .seek(SeekFrom::Start(offset))
                .map_err(|e| io_failure(e, d))?;
            offset += copy_data(&mut input, &mut sh.out, None, d).map_err(|e| io_failure(e, d))?;
            if !follow {
                return Ok(());
            }
            let _ = sh.out.flush();
            std::thread::sleep(delay);
            input.refresh().map_err(|e| client_failure(&e, d))?;
        }
    });
    if let Err(e) = r {
        sh.error(e);
    }
    Ok(())
}

/// Writes `r` to `target` on HDFS: through `<target>._COPYING_` unless `direct`.
fn write_hdfs(
    r: &mut dyn Read,
    len: Option<u64>,
    target: &Item,
    overwrite: bool,
    direct: bool,
    lazy: bool,
) -> Result<(), Failure> {
    let d = &target.display;
    if let Some(st) = &target.stat {
        if st.is_dir() {
            return Err(is_a_dir(d));
        }
        if !overwrite {
            return Err(exists(d));
        }
    }
    let tmp = if direct {
        target.path.clone()
    } else {
        format!("{}{COPYING_SUFFIX}", target.path)
    };
    let tmp_display = if direct {
        d.clone()
    } else {
        format!("{d}{COPYING_SUFFIX}")
    };
    let opts = CreateOptions {
        overwrite: true,
        replication: lazy.then_some(1),
        create_parent: false,
        ..CreateOptions::default()
    };
    let fs = &target.fs;
    let result = (|| {
        let mut out = fs
            .create_with(&tmp, opts)
            .map_err(|e| client_failure(&e, &tmp_display))?;
        copy_data(r, &mut out, len, d).map_err(|e| io_failure(e, &tmp_display))?;
        out.close().map_err(|e| client_failure(&e, &tmp_display))?;
        if !direct {
            fs.rename(&tmp, &target.path, overwrite)
                .map_err(|e| client_failure(&e, d))?;
        }
        Ok(())
    })();
    if result.is_err() && !direct {
        let _ = fs.delete(&tmp, false);
    }
    result
}

struct PutOpts {
    overwrite: bool,
    direct: bool,
    lazy: bool,
    preserve: bool,
}

fn put_local(
    sh: &mut Shell,
    src: &Path,
    src_display: &str,
    target: &Item,
    o: &PutOpts,
) -> Result<(), Failure> {
    let meta = fs::metadata(src).map_err(|e| io_failure(e, src_display))?;
    if meta.is_dir() {
        match &target.stat {
            Some(st) if !st.is_dir() => return Err(not_a_dir(&target.display)),
            Some(_) => {}
            None => {
                target
                    .fs
                    .mkdirs(&target.path, ferrodfs_client::DEFAULT_DIR_PERMISSION)
                    .map_err(|e| client_failure(&e, &target.display))?;
            }
        }
        let mut entries: Vec<PathBuf> = fs::read_dir(src)
            .map_err(|e| io_failure(e, src_display))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            let name = e
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let child = target
                .join(&name)
                .map_err(|e| client_failure(&e, &target.display))?;
            let child_src = child_display(src_display, &name);
            if let Err(msg) = put_local(sh, &e, &child_src, &child, o) {
                sh.error(msg);
            }
        }
    } else {
        let mut f = fs::File::open(src).map_err(|e| io_failure(e, src_display))?;
        write_hdfs(
            &mut f,
            Some(meta.len()),
            target,
            o.overwrite,
            o.direct,
            o.lazy,
        )?;
    }
    if o.preserve {
        preserve(&meta, target)?;
    }
    Ok(())
}

fn preserve(meta: &fs::Metadata, target: &Item) -> Result<(), Failure> {
    use std::os::unix::fs::PermissionsExt;
    let ms = |t: io::Result<std::time::SystemTime>| {
        t.ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as u64)
    };
    let d = &target.display;
    target
        .fs
        .set_times(&target.path, ms(meta.modified()), ms(meta.accessed()))
        .map_err(|e| client_failure(&e, d))?;
    target
        .fs
        .set_permission(&target.path, (meta.permissions().mode() & 0o7777) as u16)
        .map_err(|e| client_failure(&e, d))
}

/// The destination argument (the last one, or `.` when there is only one).
fn destination(sh: &mut Shell, args: &mut Vec<String>) -> Result<Item, Failure> {
    let dst = if args.len() > 1 {
        args.pop().unwrap_or_default()
    } else {
        ".".to_owned()
    };
    sh.item(&dst)
}

/// What `CommandWithDestination.processArguments` checks before copying `n`
/// sources to a destination.
pub(super) struct Dest<'a> {
    pub display: &'a str,
    pub exists: bool,
    pub is_dir: bool,
    pub parent_exists: bool,
    /// The fully qualified path, for the "no parent" message.
    pub qualified: String,
}

pub(super) fn check_destination(n: usize, d: &Dest<'_>, overwrite: bool) -> Result<(), Failure> {
    if n > 1 {
        if !d.exists {
            return Err(not_found(d.display));
        }
        if !d.is_dir {
            return Err(not_a_dir(d.display));
        }
    } else if d.exists {
        if !d.is_dir && !overwrite {
            return Err(exists(d.display));
        }
    } else if !d.parent_exists {
        return Err(format!("{}: `{}'", not_found(d.display), d.qualified));
    }
    Ok(())
}

/// [`check_destination`] for an HDFS destination.
pub(super) fn check_hdfs_destination(n: usize, dst: &Item, overwrite: bool) -> Result<(), Failure> {
    let parent_exists = dst.stat.is_some()
        || super::stat_opt(&dst.fs, &super::path::parent(&dst.path))
            .map_err(|e| client_failure(&e, &dst.display))?
            .is_some();
    check_destination(
        n,
        &Dest {
            display: &dst.display,
            exists: dst.stat.is_some(),
            is_dir: dst.is_dir(),
            parent_exists,
            qualified: format!("{}{}", dst.fs_uri, dst.path),
        },
        overwrite,
    )
}

/// The target of copying something named `name` to `dst`.
fn target_in(dst: &Item, name: &str) -> Result<Item, Failure> {
    if dst.is_dir() {
        dst.join(name).map_err(|e| client_failure(&e, &dst.display))
    } else {
        Ok(dst.clone())
    }
}

/// `-put [-f] [-p] [-l] [-d] <localsrc> ... <dst>` (and `-copyFromLocal`,
/// `-moveFromLocal`).
pub fn put(sh: &mut Shell, args: &mut Vec<String>) -> CmdResult {
    let o = parse_opts(args, &["f", "p", "l", "d"], &["t", "q"], 1, usize::MAX)?;
    let opts = PutOpts {
        overwrite: o.has("f"),
        direct: o.has("d"),
        lazy: o.has("l"),
        preserve: o.has("p"),
    };
    let move_src = sh.name == "moveFromLocal";
    let dst = match destination(sh, args)
        .and_then(|d| check_hdfs_destination(args.len(), &d, opts.overwrite).map(|()| d))
    {
        Ok(d) => d,
        Err(e) => {
            sh.error(e);
            return Ok(());
        }
    };
    for src in args.iter() {
        let r = if src == "-" {
            if dst.is_dir() {
                Err(is_a_dir(&dst.display))
            } else {
                let mut stdin = io::stdin().lock();
                write_hdfs(
                    &mut stdin,
                    None,
                    &dst,
                    opts.overwrite,
                    opts.direct,
                    opts.lazy,
                )
            }
        } else {
            let local = Path::new(src);
            if fs::symlink_metadata(local).is_err() {
                Err(not_found(src))
            } else {
                let name = basename(src).to_owned();
                target_in(&dst, &name).and_then(|t| put_local(sh, local, src, &t, &opts))
            }
        };
        match r {
            Ok(()) if move_src && src != "-" => {
                let local = Path::new(src);
                let removed = if local.is_dir() {
                    fs::remove_dir_all(local)
                } else {
                    fs::remove_file(local)
                };
                if let Err(e) = removed {
                    sh.error(io_failure(e, src));
                }
            }
            Ok(()) => {}
            Err(e) => sh.error(e),
        }
    }
    Ok(())
}

fn get_one(
    sh: &mut Shell,
    item: &Item,
    target: &Path,
    tdisplay: &str,
    overwrite: bool,
    preserve: bool,
) -> Result<(), Failure> {
    let st = item.stat.as_ref().ok_or_else(|| not_found(&item.display))?;
    if st.is_dir() {
        match fs::metadata(target) {
            Ok(m) if !m.is_dir() => return Err(not_a_dir(tdisplay)),
            Ok(_) => {}
            Err(_) => fs::create_dir(target).map_err(|e| io_failure(e, tdisplay))?,
        }
        for c in item
            .children()
            .map_err(|e| client_failure(&e, &item.display))?
        {
            let name = c.stat.as_ref().map(|s| s.name.clone()).unwrap_or_default();
            let t = target.join(&name);
            let td = child_display(tdisplay, &name);
            if let Err(e) = get_one(sh, &c, &t, &td, overwrite, preserve) {
                sh.error(e);
            }
        }
        return Ok(());
    }
    if let Ok(m) = fs::metadata(target) {
        if m.is_dir() {
            return Err(is_a_dir(tdisplay));
        }
        if !overwrite {
            return Err(exists(tdisplay));
        }
    }
    let mut tmp = target.as_os_str().to_owned();
    tmp.push(COPYING_SUFFIX);
    let tmp = PathBuf::from(tmp);
    let result = (|| {
        let d = &item.display;
        let mut input = item
            .fs
            .open(&item.path)
            .map_err(|e| client_failure(&e, d))?;
        let mut out = fs::File::create(&tmp).map_err(|e| io_failure(e, tdisplay))?;
        let len = input.len();
        copy_data(&mut input, &mut out, Some(len), d).map_err(|e| io_failure(e, d))?;
        out.sync_all().map_err(|e| io_failure(e, tdisplay))?;
        if preserve {
            let mtime = std::time::UNIX_EPOCH + Duration::from_millis(st.modification_time);
            let atime = std::time::UNIX_EPOCH + Duration::from_millis(st.access_time);
            let times = fs::FileTimes::new().set_modified(mtime).set_accessed(atime);
            out.set_times(times).map_err(|e| io_failure(e, tdisplay))?;
            use std::os::unix::fs::PermissionsExt;
            out.set_permissions(fs::Permissions::from_mode(u32::from(st.permission)))
                .map_err(|e| io_failure(e, tdisplay))?;
        }
        fs::rename(&tmp, target).map_err(|e| io_failure(e, tdisplay))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// `-get [-f] [-p] [-ignoreCrc] [-crc] <src> ... <localdst>` (and `-copyToLocal`).
pub fn get(sh: &mut Shell, args: &mut Vec<String>) -> CmdResult {
    let o = parse_opts(
        args,
        &["f", "p", "ignoreCrc", "crc"],
        &["t", "q"],
        1,
        usize::MAX,
    )?;
    let dst = if args.len() > 1 {
        args.pop().unwrap_or_default()
    } else {
        ".".to_owned()
    };
    let dst_path = PathBuf::from(&dst);
    let dst_is_dir = dst_path.is_dir();
    let items = sh.expand_all(args);
    let abs = std::path::absolute(&dst_path).unwrap_or_else(|_| dst_path.clone());
    let check = Dest {
        display: &dst,
        exists: dst_path.exists(),
        is_dir: dst_is_dir,
        parent_exists: abs.parent().is_none_or(Path::exists),
        qualified: format!("file:{}", abs.display()),
    };
    if let Err(e) = check_destination(items.len(), &check, o.has("f")) {
        sh.error(e);
        return Ok(());
    }
    for item in items {
        if item.stat.is_none() {
            sh.error(not_found(&item.display));
            continue;
        }
        let (target, tdisplay) = if dst_is_dir {
            let name = basename(&item.path).to_owned();
            (dst_path.join(&name), child_display(&dst, &name))
        } else {
            (dst_path.clone(), dst.clone())
        };
        if let Err(e) = get_one(sh, &item, &target, &tdisplay, o.has("f"), o.has("p")) {
            sh.error(e);
        }
    }
    Ok(())
}

fn cp_one(
    sh: &mut Shell,
    src: &Item,
    target: &Item,
    overwrite: bool,
    direct: bool,
) -> Result<(), Failure> {
    let st = src.stat.as_ref().ok_or_else(|| not_found(&src.display))?;
    if st.is_dir() {
        if target.path == src.path
            || target
                .path
                .starts_with(&format!("{}/", src.path.trim_end_matches('/')))
        {
            return Err(format!("`{}': is a subdirectory of itself", target.display));
        }
        match &target.stat {
            Some(t) if !t.is_dir() => return Err(not_a_dir(&target.display)),
            Some(_) => {}
            None => {
                target
                    .fs
                    .mkdirs(&target.path, ferrodfs_client::DEFAULT_DIR_PERMISSION)
                    .map_err(|e| client_failure(&e, &target.display))?;
            }
        }
        for c in src
            .children()
            .map_err(|e| client_failure(&e, &src.display))?
        {
            let name = c.stat.as_ref().map(|s| s.name.clone()).unwrap_or_default();
            let t = target
                .join(&name)
                .map_err(|e| client_failure(&e, &target.display))?;
            if let Err(e) = cp_one(sh, &c, &t, overwrite, direct) {
                sh.error(e);
            }
        }
        return Ok(());
    }
    let mut input = src
        .fs
        .open(&src.path)
        .map_err(|e| client_failure(&e, &src.display))?;
    let len = input.len();
    write_hdfs(&mut input, Some(len), target, overwrite, direct, false)
}

/// `-cp [-f] [-p] [-d] <src> ... <dst>`
pub fn cp(sh: &mut Shell, args: &mut Vec<String>) -> CmdResult {
    let o = parse_opts(args, &["f", "p", "d"], &["t", "q"], 2, usize::MAX)?;
    let dst = match destination(sh, args) {
        Ok(d) => d,
        Err(e) => {
            sh.error(e);
            return Ok(());
        }
    };
    let items = sh.expand_all(args);
    if let Err(e) = check_hdfs_destination(items.len(), &dst, o.has("f")) {
        sh.error(e);
        return Ok(());
    }
    for item in items {
        if item.stat.is_none() {
            sh.error(not_found(&item.display));
            continue;
        }
        let r = target_in(&dst, basename(&item.path))
            .and_then(|t| cp_one(sh, &item, &t, o.has("f"), o.has("d")));
        if let Err(e) = r {
            sh.error(e);
        }
    }
    Ok(())
}

/// `-appendToFile <localsrc> ... <dst>` (`-` reads stdin).
pub fn append_to_file(sh: &mut Shell, args: &mut Vec<String>) -> CmdResult {
    parse_opts(args, &[], &[], 2, usize::MAX)?;
    let dst = args.pop().unwrap_or_default();
    for src in args.iter().filter(|s| *s != "-") {
        if !Path::new(src).exists() {
            sh.error(not_found(src));
            return Ok(());
        }
    }
    let r = (|| {
        let dst = sh.item(&dst)?;
        if dst.is_dir() {
            return Err(is_a_dir(&dst.display));
        }
        let d = &dst.display;
        let fs: &DfsClient = &dst.fs;
        let mut out = if dst.stat.is_some() {
            fs.append(&dst.path)
        } else {
            fs.create(&dst.path, false)
        }
        .map_err(|e| client_failure(&e, d))?;
        for src in args.iter() {
            if src == "-" {
                let mut stdin = io::stdin().lock();
                copy_data(&mut stdin, &mut out, None, d).map_err(|e| io_failure(e, d))?;
            } else {
                let mut f = fs::File::open(src).map_err(|e| io_failure(e, src))?;
                let len = f.metadata().ok().map(|m| m.len());
                copy_data(&mut f, &mut out, len, d).map_err(|e| io_failure(e, d))?;
            }
        }
        out.close().map_err(|e| client_failure(&e, d))
    })();
    if let Err(e) = r {
        sh.error(e);
    }
    Ok(())
}
