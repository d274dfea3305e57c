//! Fuzzing for every decoder of untrusted bytes in ferrodfs, on stable Rust.
//!
//! * [`targets`]: one `fn(&[u8])` per decoder family: RPC frames and the server's
//!   connection state machine, every ClientProtocol / DatanodeProtocol request run
//!   through a real NameNode, block reports, data-transfer ops, packets and acks,
//!   edit-log records and segments, the image.
//! * [`alloc`]: the harness's global allocator, which records the largest single
//!   allocation of a run; [`targets::run_checked`] fails a run over the target's bound.
//! * [`mutate`]: a proptest strategy that mutates seed-corpus inputs (bit flips,
//!   interesting integers as fixed-width and varint, inserts, deletes, splices), and
//!   [`mutate::fuzz`], which runs a target over its corpus and `n` such inputs.
//!
//! Three ways to run them (details in `docs/fuzzing.md`):
//! * `cargo test -p ferrodfs-fuzz`: every target over its seed corpus
//!   (`crates/fuzz/corpus/<target>/`) plus a few thousand mutated inputs (CI);
//! * `cargo run --release -p ferrodfs-fuzz --bin fuzz_run -- <target> --cases N`: a
//!   long run of the same, no extra tools;
//! * `cargo afl build --release -p ferrodfs-fuzz --features afl --bin fuzz_afl`, then
//!   `cargo afl fuzz -i crates/fuzz/corpus/<target> -o out target/release/fuzz_afl <target>`:
//!   coverage-guided AFL++.
//!
//! # Example
//! ```
//! let target = ferrodfs_fuzz::targets::find("rpc_frame").unwrap();
//! // A frame header claiming 100 MiB, followed by three bytes.
//! ferrodfs_fuzz::targets::run_checked(target, &[0, 0x06, 0x40, 0, 0, 1, 2, 3]);
//! ```

pub mod alloc;
pub mod mutate;
pub mod targets;

use std::path::{Path, PathBuf};

#[global_allocator]
static GLOBAL: alloc::CountingAlloc = alloc::CountingAlloc;

/// The seed corpus directory of `target` in this source tree.
pub fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

/// The seed inputs of `target` (every file of its corpus directory except `README*`),
/// sorted by name.
pub fn load_corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(corpus_dir(target)) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .flatten()
        .filter(|e| e.path().is_file())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("README") {
                return None;
            }
            std::fs::read(e.path()).ok().map(|b| (name, b))
        })
        .collect();
    out.sort();
    out
}
