//! `fuzz_run <target>|all [--cases N] [--seconds S] [--seed N]`: runs targets over their
//! seed corpus and mutated inputs (proptest, stable Rust, no extra tools) in batches
//! until `N` cases or `S` seconds, and prints executions, rate and the result per
//! target. Exits non-zero on a failure (panic, allocation over the bound, hang).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use ferrodfs_fuzz::{load_corpus, mutate, targets};

/// Cases per proptest runner (each batch gets its own rng seed).
const BATCH: u32 = 100_000;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut names = Vec::new();
    let mut cases: u64 = 100_000;
    let mut seconds: Option<u64> = None;
    let mut seed: u64 = 1;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut num = || it.next().and_then(|v| v.parse::<u64>().ok());
        match a.as_str() {
            "--cases" => cases = num().unwrap_or(cases),
            "--seconds" => seconds = num(),
            "--seed" => seed = num().unwrap_or(seed),
            "all" => names.extend(targets::TARGETS.iter().map(|t| t.name.to_owned())),
            name => names.push(name.to_owned()),
        }
    }
    if names.is_empty() {
        eprintln!("usage: fuzz_run <target>|all [--cases N] [--seconds S] [--seed N]");
        eprintln!(
            "targets: {}",
            targets::TARGETS
                .iter()
                .map(|t| t.name)
                .collect::<Vec<_>>()
                .join(" ")
        );
        return ExitCode::from(2);
    }
    let mut failed = false;
    for name in names {
        let Some(target) = targets::find(&name) else {
            eprintln!("unknown target {name}");
            return ExitCode::from(2);
        };
        let seeds: Vec<Vec<u8>> = load_corpus(&name).into_iter().map(|(_, b)| b).collect();
        let deadline = seconds.map(|s| Instant::now() + Duration::from_secs(s));
        let t0 = Instant::now();
        let mut execs = 0u64;
        let mut batch = 0u64;
        let mut failure = None;
        while execs < cases && deadline.is_none_or(|d| Instant::now() < d) {
            let n = BATCH
                .min(u32::try_from(cases - execs).unwrap_or(BATCH))
                .max(1);
            let out = mutate::fuzz(target, &seeds, n, seed.wrapping_add(batch));
            execs += out.execs;
            batch += 1;
            if out.failure.is_some() {
                failure = out.failure;
                break;
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "{name}: {execs} execs in {secs:.1} s ({:.0}/s), {} seeds, {}",
            execs as f64 / secs.max(1e-9),
            seeds.len(),
            match &failure {
                None => "0 failures".to_owned(),
                Some(f) => format!("FAILED: {f}"),
            }
        );
        failed |= failure.is_some();
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
