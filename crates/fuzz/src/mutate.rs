//! Mutated inputs from a seed corpus, as a proptest strategy, and the loop that runs a
//! target over them ([`fuzz`]) — the stable, tool-free runner used by `cargo test` and by
//! the `fuzz_run` binary. Proptest gives the generation, the fixed seeds, and shrinking
//! of a failing input to a small one.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

use crate::targets::{run_checked, Target};

/// A run slower than this is reported as a hang.
pub const HANG_LIMIT: Duration = Duration::from_secs(2);
/// Largest input the strategy makes.
pub const MAX_INPUT_LEN: usize = 64 * 1024;

/// Values that break length and count checks, as integers.
const INTERESTING: &[u64] = &[
    0,
    1,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0x8000,
    0xffff,
    0x1_0000,
    0x10_0000,
    0x100_0000,
    0x800_0000,
    0x800_0001,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    i64::MAX as u64,
    u64::MAX,
];

/// One edit of an input. Positions are taken modulo the input's length.
#[derive(Debug, Clone)]
pub enum Mutation {
    FlipBit {
        pos: usize,
        bit: u8,
    },
    SetByte {
        pos: usize,
        byte: u8,
    },
    Insert {
        pos: usize,
        bytes: Vec<u8>,
    },
    Delete {
        pos: usize,
        len: usize,
    },
    /// An interesting integer written big-endian in 1, 2, 4 or 8 bytes, or as a varint.
    Integer {
        pos: usize,
        which: usize,
        width: u8,
    },
    /// Bytes copied from another seed.
    Splice {
        seed: usize,
        from: usize,
        pos: usize,
        len: usize,
    },
    /// A run of the input repeated in place.
    Duplicate {
        pos: usize,
        len: usize,
    },
    Truncate {
        len: usize,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let pos = any::<usize>();
    prop_oneof![
        3 => (pos, 0u8..8).prop_map(|(pos, bit)| Mutation::FlipBit { pos, bit }),
        2 => (pos, any::<u8>()).prop_map(|(pos, byte)| Mutation::SetByte { pos, byte }),
        2 => (pos, proptest::collection::vec(any::<u8>(), 1..32))
            .prop_map(|(pos, bytes)| Mutation::Insert { pos, bytes }),
        2 => (pos, 1usize..64).prop_map(|(pos, len)| Mutation::Delete { pos, len }),
        3 => (pos, 0..INTERESTING.len(), 0u8..5)
            .prop_map(|(pos, which, width)| Mutation::Integer { pos, which, width }),
        2 => (any::<usize>(), pos, pos, 1usize..256)
            .prop_map(|(seed, from, pos, len)| Mutation::Splice { seed, from, pos, len }),
        1 => (pos, 1usize..256).prop_map(|(pos, len)| Mutation::Duplicate { pos, len }),
        1 => pos.prop_map(|len| Mutation::Truncate { len }),
    ]
}

fn at(pos: usize, len: usize) -> usize {
    if len == 0 {
        0
    } else {
        pos % len
    }
}

/// Applies `m` to `input`; `seeds` feed splices.
pub fn apply(input: &mut Vec<u8>, m: &Mutation, seeds: &[Vec<u8>]) {
    let len = input.len();
    match m {
        Mutation::FlipBit { pos, bit } if len > 0 => input[at(*pos, len)] ^= 1 << bit,
        Mutation::SetByte { pos, byte } if len > 0 => input[at(*pos, len)] = *byte,
        Mutation::Insert { pos, bytes } => {
            let p = at(*pos, len + 1);
            input.splice(p..p, bytes.iter().copied());
        }
        Mutation::Delete { pos, len: n } if len > 0 => {
            let p = at(*pos, len);
            input.drain(p..(p + n).min(len));
        }
        Mutation::Integer { pos, which, width } if len > 0 => {
            let v = INTERESTING[*which % INTERESTING.len()];
            let bytes = match width {
                0 => vec![v as u8],
                1 => (v as u16).to_be_bytes().to_vec(),
                2 => (v as u32).to_be_bytes().to_vec(),
                3 => v.to_be_bytes().to_vec(),
                _ => {
                    let mut b = Vec::new();
                    prost::encoding::encode_varint(v, &mut b);
                    b
                }
            };
            let p = at(*pos, len);
            let end = (p + bytes.len()).min(len);
            input.splice(p..end, bytes);
        }
        Mutation::Splice {
            seed,
            from,
            pos,
            len: n,
        } if !seeds.is_empty() => {
            let s = &seeds[*seed % seeds.len()];
            if !s.is_empty() {
                let f = at(*from, s.len());
                let piece = &s[f..(f + n).min(s.len())];
                let p = at(*pos, len + 1);
                input.splice(p..p, piece.iter().copied());
            }
        }
        Mutation::Duplicate { pos, len: n } if len > 0 => {
            let p = at(*pos, len);
            let piece = input[p..(p + n).min(len)].to_vec();
            input.splice(p..p, piece);
        }
        Mutation::Truncate { len: n } => input.truncate(at(*n, len + 1)),
        _ => {}
    }
    input.truncate(MAX_INPUT_LEN);
}

/// Inputs for a target with `seeds`: a seed with up to 8 mutations (most cases), or
/// random bytes.
pub fn inputs(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let random = proptest::collection::vec(any::<u8>(), 0..512);
    if seeds.is_empty() {
        return random.boxed();
    }
    let n = seeds.len();
    let mutated = (0..n, proptest::collection::vec(mutation(), 0..8)).prop_map(move |(i, muts)| {
        let mut input = seeds[i].clone();
        for m in &muts {
            apply(&mut input, m, &seeds);
        }
        input
    });
    prop_oneof![9 => mutated, 1 => random].boxed()
}

/// What a [`fuzz`] run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Runs of the target (seeds, generated inputs, shrinking steps).
    pub execs: u64,
    /// The failure, with its (shrunk) input, if any.
    pub failure: Option<String>,
}

/// Runs `target` over `seeds`, then over `cases` mutated inputs from proptest's runner
/// seeded with `rng_seed`. A panic, an allocation over the bound or a run longer than
/// [`HANG_LIMIT`] is a failure; the input is shrunk and reported.
pub fn fuzz(target: &Target, seeds: &[Vec<u8>], cases: u32, rng_seed: u64) -> Outcome {
    if let Some(warm_up) = target.warm_up {
        warm_up();
    }
    let _quiet = QuietPanics::new();
    let execs = std::cell::Cell::new(0u64);
    let check = |input: &[u8]| -> Result<(), TestCaseError> {
        execs.set(execs.get() + 1);
        let t0 = Instant::now();
        run_checked(target, input);
        let took = t0.elapsed();
        if took > HANG_LIMIT {
            return Err(TestCaseError::fail(format!(
                "{}: a run took {took:?} (hang limit {HANG_LIMIT:?})",
                target.name
            )));
        }
        Ok(())
    };
    for (i, seed) in seeds.iter().enumerate() {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(seed)));
        let failure = match r {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(p) => Some(panic_message(&p)),
        };
        if let Some(f) = failure {
            return Outcome {
                execs: execs.get(),
                failure: Some(format!("seed #{i} ({} bytes): {f}", seed.len())),
            };
        }
    }
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2048,
        ..Config::default()
    };
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&rng_seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let result = runner.run(&inputs(seeds.to_vec()), |input| check(&input));
    Outcome {
        execs: execs.get(),
        failure: result.err().map(|e| format!("{e}")),
    }
}

thread_local! {
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// While alive, panics on this thread print nothing (proptest catches them, and
/// shrinking makes hundreds); the final failure is reported with its input instead.
struct QuietPanics;

impl QuietPanics {
    fn new() -> QuietPanics {
        static HOOK: std::sync::Once = std::sync::Once::new();
        HOOK.call_once(|| {
            let default = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if !QUIET.with(std::cell::Cell::get) {
                    default(info);
                }
            }));
        });
        QUIET.with(|q| q.set(true));
        QuietPanics
    }
}

impl Drop for QuietPanics {
    fn drop(&mut self) {
        QUIET.with(|q| q.set(false));
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "panic".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_stay_in_bounds() {
        let seeds = vec![b"hello".to_vec(), Vec::new()];
        let all = [
            Mutation::FlipBit { pos: 99, bit: 7 },
            Mutation::SetByte { pos: 3, byte: 0 },
            Mutation::Insert {
                pos: usize::MAX,
                bytes: vec![1, 2],
            },
            Mutation::Delete { pos: 4, len: 63 },
            Mutation::Integer {
                pos: 1,
                which: 19,
                width: 4,
            },
            Mutation::Splice {
                seed: 0,
                from: 2,
                pos: 0,
                len: 255,
            },
            Mutation::Duplicate { pos: 0, len: 255 },
            Mutation::Truncate { len: 2 },
        ];
        for start in [Vec::new(), b"abcdef".to_vec()] {
            let mut input = start.clone();
            for m in &all {
                apply(&mut input, m, &seeds);
                assert!(input.len() <= MAX_INPUT_LEN);
            }
        }
        let mut input = b"abcdef".to_vec();
        apply(
            &mut input,
            &Mutation::Integer {
                pos: 0,
                which: 6,
                width: 2,
            },
            &seeds,
        );
        assert_eq!(&input[..4], &0x7fffu32.to_be_bytes());
    }
}
