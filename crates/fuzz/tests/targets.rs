//! Every fuzz target over its seed corpus plus mutated inputs, bounded in count and
//! time: the CI part of the fuzzing (docs/fuzzing.md). A failure prints the shrunk input.

use std::time::{Duration, Instant};

use ferrodfs_fuzz::{load_corpus, mutate, targets};

/// Mutated inputs per target (on top of the seeds): `$FERRODFS_FUZZ_CASES` or this.
const DEFAULT_CASES: u32 = 2_000;
/// A target may take this long in CI before the test fails (work bound, not a hang).
const TIME_BUDGET: Duration = Duration::from_secs(60);

fn run(name: &str) {
    let target = targets::find(name).expect("target exists");
    let seeds: Vec<Vec<u8>> = load_corpus(name).into_iter().map(|(_, b)| b).collect();
    let cases = std::env::var("FERRODFS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let t0 = Instant::now();
    let out = mutate::fuzz(target, &seeds, cases, 0x5eed);
    let took = t0.elapsed();
    eprintln!(
        "{name}: {} execs in {took:?}, {} seeds",
        out.execs,
        seeds.len()
    );
    if let Some(f) = out.failure {
        panic!("{name}: {f}");
    }
    assert!(
        out.execs >= u64::from(cases),
        "{name}: only {} execs",
        out.execs
    );
    assert!(took < TIME_BUDGET, "{name}: {took:?} over the CI budget");
}

macro_rules! target_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run(stringify!($name));
            }
        )*

        #[test]
        fn every_target_has_a_test_and_a_seed_corpus() {
            let tested = [$(stringify!($name)),*];
            for t in targets::TARGETS {
                assert!(tested.contains(&t.name), "{} has no test", t.name);
                assert!(!load_corpus(t.name).is_empty(), "{} has no seed corpus", t.name);
            }
        }
    };
}

target_tests!(
    rpc_frame,
    rpc_connection,
    namenode_rpc,
    client_protocol,
    datanode_protocol,
    block_report,
    transfer_op,
    transfer_packet,
    pipeline_ack,
    editlog_op,
    editlog_segment,
    image,
);
