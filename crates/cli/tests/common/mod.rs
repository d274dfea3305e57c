//! Helpers shared by the process-level tests of this crate: children that die with the
//! test, a free loopback port, and a process's peak address space.
#![allow(dead_code)] // each test binary uses its own subset

use std::process::Child;

/// Child processes killed when the test ends, however it ends.
#[derive(Default)]
pub struct Procs(pub Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `VmPeak` of process `pid`, in KiB, from `/proc/<pid>/status`.
pub fn vm_peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmPeak:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmPeak in /proc")
}

/// Starts `cmd` with its stdout piped (stderr inherited, `HADOOP_CONF_DIR` removed) and
/// waits for its first stdout line, which must contain `want`.
pub fn spawn_until_line(cmd: &mut std::process::Command, want: &str) -> Child {
    use std::io::BufRead;
    let mut child = cmd
        .env_remove("HADOOP_CONF_DIR")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains(want), "{cmd:?} printed {line:?}");
    child
}
