//! `fuzz_afl <target>`: the AFL++ entry point (built with `cargo afl build --features
//! afl`). Each input runs through [`targets::run_checked`], so an allocation over the
//! target's bound is a crash like a panic. See docs/fuzzing.md.

use ferrodfs_fuzz::targets;

fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    let Some(target) = targets::find(&name) else {
        eprintln!("usage: fuzz_afl <target>; unknown target {name:?}");
        std::process::exit(2);
    };
    if let Some(warm_up) = target.warm_up {
        warm_up();
    }
    afl::fuzz!(|data: &[u8]| {
        targets::run_checked(target, data);
    });
}
