//! The command table: names, usage lines (Hadoop's), and `-help` / `-usage` text.

use std::io::Write;

/// One shell command.
#[derive(Debug)]
pub struct Spec {
    pub name: &'static str,
    pub usage: &'static str,
    pub description: &'static str,
}

/// Every command, in `hadoop fs -help` order.
pub const COMMANDS: &[Spec] = &[
    Spec { name: "appendToFile", usage: "<localsrc> ... <dst>", description: "Appends the contents of all the given local files to the given dst file. The dst\nfile will be created if it does not exist. If <localSrc> is -, then the input is\nread from stdin." },
    Spec { name: "cat", usage: "[-ignoreCrc] <src> ...", description: "Fetch all files that match the file pattern <src> and display their content on\nstdout." },
    Spec { name: "checksum", usage: "[-v] <src> ...", description: "Dump checksum information for files that match the file pattern <src> to stdout.\nNote that this requires a round-trip to a datanode storing each block of the\nfile, and thus is not efficient to run on a large number of files. The checksum\nof a file depends on its content, block size and the checksum algorithm and\nparameters used for creating the file.\n                                                                                 \n  -v  Print the block size along with the checksum." },
    Spec { name: "chgrp", usage: "[-R] GROUP PATH...", description: "This is equivalent to -chown ... :GROUP ..." },
    Spec { name: "chmod", usage: "[-R] <MODE[,MODE]... | OCTALMODE> PATH...", description: "Changes permissions of a file. This works similar to the shell's chmod command\nwith a few exceptions.\n                                                                                 \n-R           modifies the files recursively. This is the only option currently  \n             supported.                                                         \n<MODE>       Mode is the same as mode used for the shell's command. The only    \n             letters recognized are 'rwxXt', e.g. +t,a+r,g-w,+rwx,o=r.          \n<OCTALMODE>  Mode specifed in 3 or 4 digits. If 4 digits, the first may be 1 or \n             0 to turn the sticky bit on or off, respectively.  Unlike the      \n             shell command, it is not possible to specify only part of the      \n             mode, e.g. 754 is same as u=rwx,g=rx,o=r." },
    Spec { name: "chown", usage: "[-R] [OWNER][:[GROUP]] PATH...", description: "Changes owner and group of a file. This is similar to the shell's chown command\nwith a few exceptions.\n                                                                                 \n-R  modifies the files recursively. This is the only option currently supported.\n                                                                                 \nIf only the owner or group is specified, then only the owner or group is\nmodified. The owner and group names may only consist of digits, alphabet, and\nany of [-_./@a-zA-Z0-9]. The names are case sensitive." },
    Spec { name: "copyFromLocal", usage: "[-f] [-p] [-l] [-d] [-t <thread count>] [-q <thread pool queue size>] <localsrc> ... <dst>", description: "Copy files from the local file system into fs. Identical to the -put command." },
    Spec { name: "copyToLocal", usage: "[-f] [-p] [-crc] [-ignoreCrc] [-t <thread count>] [-q <thread pool queue size>] <src> ... <localdst>", description: "Identical to the -get command." },
    Spec { name: "count", usage: "[-q] [-h] [-v] [-u] [-x] <path> ...", description: "Count the number of directories, files and bytes under the paths\nthat match the specified file pattern.  The output columns are:\nDIR_COUNT FILE_COUNT CONTENT_SIZE PATHNAME\nor, with the -q option:\nQUOTA REM_QUOTA SPACE_QUOTA REM_SPACE_QUOTA\n      DIR_COUNT FILE_COUNT CONTENT_SIZE PATHNAME\nThe -h option shows file sizes in human readable format.\nThe -v option displays a header line.\nThe -u option shows the quota and \nthe usage against the quota without the detailed content summary." },
    Spec { name: "cp", usage: "[-f] [-p | -p[topax]] [-d] [-t <thread count>] [-q <thread pool queue size>] <src> ... <dst>", description: "Copy files that match the file pattern <src> to a destination.  When copying\nmultiple files, the destination must be a directory.\n                                                                                 \n  -f  Overwrites the destination if it already exists.\n  -d  Skip creation of temporary file(<dst>._COPYING_)." },
    Spec { name: "df", usage: "[-h] [<path> ...]", description: "Shows the capacity, free and used space of the filesystem. If the filesystem has\nmultiple partitions, and no path to a particular partition is specified, then\nthe status of the root partitions will be shown.\n                                                                                 \n  -h  Formats the sizes of files in a human-readable fashion rather than a number\n      of bytes." },
    Spec { name: "du", usage: "[-s] [-h] [-v] [-x] <path> ...", description: "Show the amount of space, in bytes, used by the files that match the specified\nfile pattern. The following flags are optional:\n                                                                                 \n  -s  Rather than showing the size of each individual file that matches the      \n      pattern, shows the total (summary) size.                                   \n  -h  Formats the sizes of files in a human-readable fashion rather than a number\n      of bytes.                                                                  \n  -v  option displays a header line.                                             \n  -x  Excludes snapshots from being counted.                                     \n\nNote that, even without the -s option, this only shows size summaries one level\ndeep into a directory.\n\nThe output is in the form \n\tsize\tdisk space consumed\tname(full path)" },
    Spec { name: "get", usage: "[-f] [-p] [-crc] [-ignoreCrc] [-t <thread count>] [-q <thread pool queue size>] <src> ... <localdst>", description: "Copy files that match the file pattern <src> to the local name.  <src> is kept. \nWhen copying multiple files, the destination must be a directory.\n                                                                                 \n  -f  Overwrites the destination if it already exists." },
    Spec { name: "head", usage: "<file>", description: "Show the first 1KB of the file." },
    Spec { name: "help", usage: "[cmd ...]", description: "Displays help for given command or all commands if none is specified." },
    Spec { name: "ls", usage: "[-C] [-d] [-h] [-q] [-R] [-t] [-S] [-r] [-u] [<path> ...]", description: "List the contents that match the specified file pattern. If path is not\nspecified, the contents of /user/<currentUser> will be listed. For a directory a\nlist of its direct children is returned (unless -d option is specified).\n\nDirectory entries are of the form:\n\tpermissions - userId groupId sizeOfDirectory(in bytes)\nmodificationDate(yyyy-MM-dd HH:mm) directoryName\n\nand file entries are of the form:\n\tpermissions numberOfReplicas userId groupId sizeOfFile(in bytes)\nmodificationDate(yyyy-MM-dd HH:mm) fileName\n\n  -C  Display the paths of files and directories only.\n  -d  Directories are listed as plain files.\n  -h  Formats the sizes of files in a human-readable fashion\n      rather than a number of bytes.\n  -q  Print ? instead of non-printable characters.\n  -R  Recursively list the contents of directories.\n  -t  Sort files by modification time (most recent first).\n  -S  Sort files by size.\n  -r  Reverse the order of the sort.\n  -u  Use time of last access instead of modification for\n      display and sorting." },
    Spec { name: "mkdir", usage: "[-p] <path> ...", description: "Create a directory in specified location.\n                                                  \n  -p  Do not fail if the directory already exists" },
    Spec { name: "moveFromLocal", usage: "[-f] [-p] [-l] [-d] <localsrc> ... <dst>", description: "Same as -put, except that the source is deleted after it's copied." },
    Spec { name: "mv", usage: "<src> ... <dst>", description: "Move files that match the specified file pattern <src> to a destination <dst>. \nWhen moving multiple files, the destination must be a directory." },
    Spec { name: "put", usage: "[-f] [-p] [-l] [-d] [-t <thread count>] [-q <thread pool queue size>] <localsrc> ... <dst>", description: "Copy files from the local file system into fs. Copying fails if the file already\nexists, unless the -f flag is given.\nFlags:\n                                                                                 \n  -p  Preserves timestamps, ownership and the mode.\n  -f  Overwrites the destination if it already exists.\n  -l  Allow DataNode to lazily persist the file to disk. Forces\n         replication factor of 1.\n  -d  Skip creation of temporary file(<dst>._COPYING_)." },
    Spec { name: "rm", usage: "[-f] [-r|-R] [-skipTrash] [-safely] <src> ...", description: "Delete all files that match the specified file pattern. Equivalent to the Unix\ncommand \"rm <src>\"\n                                                                                 \n-f          If the file does not exist, do not display a diagnostic message or \n            modify the exit status to reflect an error.                        \n-[rR]       Recursively deletes directories.                                   \n-skipTrash  option bypasses trash, if enabled, and immediately deletes <src>.  \n-safely     option requires safety confirmation, if enabled, requires          \n            confirmation before deleting large directory with more than        \n            <hadoop.shell.delete.limit.num.files> files. Delay is expected when\n            walking over large directory recursively to count the number of    \n            files to be deleted before the confirmation." },
    Spec { name: "rmdir", usage: "[--ignore-fail-on-non-empty] <dir> ...", description: "Removes the directory entry specified by each directory argument, provided it is\nempty." },
    Spec { name: "setrep", usage: "[-R] [-w] <rep> <path> ...", description: "Set the replication level of a file. If <path> is a directory then the command\nrecursively changes the replication factor of all files under the directory tree\nrooted at <path>. The EC files will be ignored here.\n                                                                                 \n-w  It requests that the command waits for the replication to complete. This    \n    can potentially take a very long time.                                       \n-R  It is accepted for backwards compatibility. It has no effect." },
    Spec { name: "stat", usage: "[format] <path> ...", description: "Print statistics about the file/directory at <path>\nin the specified format. Format accepts permissions in\noctal (%a) and symbolic (%A), filesize in\nbytes (%b), type (%F), group name of owner (%g),\nname (%n), block size (%o), replication (%r), user name\nof owner (%u), access date (%x, %X).\nmodification date (%y, %Y).\n%x and %y show UTC date as \"yyyy-MM-dd HH:mm:ss\" and\n%X and %Y show milliseconds since January 1, 1970 UTC.\nIf the format is not specified, %y is used by default." },
    Spec { name: "tail", usage: "[-f] [-s <sleep interval>] <file>", description: "Show the last 1KB of the file.\n                                                                                 \n  -f  Shows appended data as the file grows.                    \n  -s  With -f , defines the sleep interval between iteration in milliseconds." },
    Spec { name: "test", usage: "-[defswrz] <path>", description: "Answer various questions about <path>, with result via exit status.\n  -d  return 0 if <path> is a directory.\n  -e  return 0 if <path> exists.\n  -f  return 0 if <path> is a file.\n  -s  return 0 if file <path> is greater         than zero bytes in size.\n  -w  return 0 if file <path> exists         and write permission is granted.\n  -r  return 0 if file <path> exists         and read permission is granted.\n  -z  return 0 if file <path> is         zero bytes in size, else return 1." },
    Spec { name: "text", usage: "[-ignoreCrc] <src> ...", description: "Takes a source file and outputs the file in text format.\nThe allowed formats are zip and TextRecordInputStream and Avro." },
    Spec { name: "touchz", usage: "<path> ...", description: "Creates a file of zero length at <path> with current time as the timestamp of\nthat <path>. An error is returned if the file exists with non-zero length" },
    Spec { name: "usage", usage: "[cmd ...]", description: "Displays the usage for given command or all commands if none is specified." },
    // Deprecated forms Hadoop still accepts.
    Spec { name: "lsr", usage: "[-C] [-d] [-h] [-q] [-R] [-t] [-S] [-r] [-u] [<path> ...]", description: "(DEPRECATED) Same as 'ls -R'" },
    Spec { name: "rmr", usage: "[-f] [-skipTrash] [-safely] <src> ...", description: "(DEPRECATED) Same as 'rm -r'" },
    Spec { name: "dus", usage: "[-h] [-v] [-x] <path> ...", description: "(DEPRECATED) Same as 'du -s'" },
];

/// The command named `-name` (or `name`).
pub fn find(cmd: &str) -> Option<&'static Spec> {
    let name = cmd.strip_prefix('-')?;
    COMMANDS.iter().find(|s| s.name == name)
}

fn visible() -> impl Iterator<Item = &'static Spec> {
    COMMANDS
        .iter()
        .filter(|s| !s.description.starts_with("(DEPRECATED)"))
}

/// `Usage: hadoop fs [generic options] ...` for one command or all.
pub fn print_usage(w: &mut dyn Write, spec: Option<&Spec>) {
    match spec {
        Some(s) => {
            let _ = writeln!(
                w,
                "Usage: ferrodfs dfs [generic options] -{} {}",
                s.name, s.usage
            );
        }
        None => {
            let _ = writeln!(w, "Usage: ferrodfs dfs [generic options]");
            for s in visible() {
                let _ = writeln!(w, "\t[-{} {}]", s.name, s.usage);
            }
            let _ = writeln!(w);
            let _ = write!(w, "{GENERIC_HELP}");
        }
    }
}

/// `-usage [cmd ...]`.
pub fn print_usage_of(w: &mut dyn Write, names: &[String]) {
    if names.is_empty() {
        print_usage(w, None);
    }
    for n in names {
        let n = n.trim_start_matches('-');
        match COMMANDS.iter().find(|s| s.name == n) {
            Some(s) => print_usage(w, Some(s)),
            None => {
                let _ = writeln!(w, "-usage: Unknown command: {n}");
            }
        }
    }
}

/// `-help [cmd ...]`.
pub fn print_help(w: &mut dyn Write, names: &[String]) {
    let one = |w: &mut dyn Write, s: &Spec| {
        let _ = writeln!(w, "-{} {} :", s.name, s.usage);
        for line in s.description.lines() {
            let _ = writeln!(w, "  {}", line.trim_end());
        }
        let _ = writeln!(w);
    };
    if names.is_empty() {
        print_usage(w, None);
        let _ = writeln!(w);
        for s in visible() {
            one(w, s);
        }
        return;
    }
    for n in names {
        let n = n.trim_start_matches('-');
        match COMMANDS.iter().find(|s| s.name == n) {
            Some(s) => one(w, s),
            None => {
                let _ = writeln!(w, "-help: Unknown command: {n}");
            }
        }
    }
}

const GENERIC_HELP: &str = "Generic options supported are:
-conf <configuration file>        specify an application configuration file
-D <property=value>               define a value for a given property
-fs <file:///|hdfs://namenode:port> specify default filesystem URL to use, overrides 'fs.defaultFS' property from configurations.

The general command line syntax is:
command [genericOptions] [commandOptions]

";
