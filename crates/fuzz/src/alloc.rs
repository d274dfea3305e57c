//! The harness's global allocator: the system allocator, plus a per-thread record of the
//! largest single allocation made while a target runs, so a run can fail when a decoder
//! reserves memory on a peer's say-so ("0 allocations over the configured limits").
//!
//! * [`measure`] arms the record on the calling thread, runs a closure and returns the
//!   largest size passed to `alloc`, `alloc_zeroed` or `realloc` meanwhile.
//! * While armed, a request over [`HARD_CAP`] is refused (the allocator returns null, so
//!   the process aborts with Rust's "memory allocation of N bytes failed"): the fuzzer
//!   records a crash instead of the machine swapping.
//!
//! Only the armed thread is recorded; targets run their decoders on that thread.
//!
//! # Implementation notes
//! The record lives in `const`-initialised thread-locals without destructors, which the
//! allocator may touch without allocating or recursing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The largest single request an armed thread may make before it is refused: 1 GiB.
pub const HARD_CAP: usize = 1 << 30;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator with the per-thread record described in the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAlloc;

/// Records a request; false if an armed thread asked for more than [`HARD_CAP`].
fn note(size: usize) -> bool {
    let armed = ARMED.try_with(Cell::get).unwrap_or(false);
    if !armed {
        return true;
    }
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
    size <= HARD_CAP
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, or
// returns null (a valid "allocation failed" answer) before calling it.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !note(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's `layout` obligations are passed through.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !note(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this `layout` (every allocation does).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !note(new_size) {
            return std::ptr::null_mut();
        }
        // SAFETY: as for `dealloc`; `new_size` obligations are the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` with the calling thread's record armed; returns its result and the largest
/// single allocation it made. Not reentrant (an inner call disarms the outer one).
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    ARMED.with(|a| a.set(true));
    struct Disarm;
    impl Drop for Disarm {
        fn drop(&mut self) {
            let _ = ARMED.try_with(|a| a.set(false));
        }
    }
    let guard = Disarm;
    let out = f();
    drop(guard);
    (out, LARGEST.with(Cell::get))
}

/// How much one run of a target may allocate at once: `fixed + per_input_byte * len`.
///
/// `fixed` covers working buffers whose size is a constant of the code (a 64 KiB read
/// buffer, a hash table of the in-memory NameNode); `per_input_byte` covers copies and
/// decoded forms of what the input carries. A decoder that reserves what a length field
/// claims, before the bytes arrive, exceeds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocBound {
    pub fixed: usize,
    pub per_input_byte: usize,
}

impl AllocBound {
    /// The bound for an input of `len` bytes.
    pub fn for_len(&self, len: usize) -> usize {
        self.fixed
            .saturating_add(self.per_input_byte.saturating_mul(len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_the_largest_single_allocation() {
        let (_, largest) = measure(|| {
            let a = vec![0u8; 1000];
            let b: Vec<u8> = Vec::with_capacity(70_000);
            a.len() + b.capacity()
        });
        assert!(largest >= 70_000, "{largest}");
        let (_, nothing) = measure(|| 1 + 1);
        assert_eq!(nothing, 0);
    }

    #[test]
    fn only_the_armed_thread_is_recorded() {
        let (_, largest) = measure(|| {
            std::thread::spawn(|| vec![0u8; 1 << 20].len())
                .join()
                .unwrap_or(0)
        });
        assert!(largest < 1 << 20, "{largest}");
    }
}
