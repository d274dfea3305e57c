//! Helpers shared by the ipc benches.

use std::time::{Duration, Instant};

/// Alternates blocks of calls between `cases` (the last is the baseline), so that load
/// changing during the run hits every case alike, and prints each case's median time
/// per call and its ratio to the baseline. Less sensitive to a busy machine than
/// criterion's one-case-after-another estimates.
pub fn interleaved(label: &str, cases: &mut [(&str, &mut dyn FnMut())]) {
    const BLOCKS: usize = 40;
    const CALLS: u32 = 500;
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
    for _ in 0..BLOCKS {
        for (i, (_, call)) in cases.iter_mut().enumerate() {
            let t = Instant::now();
            for _ in 0..CALLS {
                call();
            }
            times[i].push(t.elapsed() / CALLS);
        }
    }
    let medians: Vec<Duration> = times
        .iter_mut()
        .map(|t| {
            t.sort();
            t[t.len() / 2]
        })
        .collect();
    let base = medians[medians.len() - 1];
    for ((name, _), m) in cases.iter().zip(&medians) {
        println!(
            "{label}/{name} interleaved: median {:.1} µs/call, {:.2}x the baseline",
            m.as_secs_f64() * 1e6,
            m.as_secs_f64() / base.as_secs_f64()
        );
    }
}
