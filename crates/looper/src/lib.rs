//! Per-thread message loop (placeholder; see issue 2).
