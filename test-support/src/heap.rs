//! The global allocator of the benches that measure memory: `peak_alloc`'s, the system
//! allocator with counters of live heap bytes and of their peak. Each such bench registers
//! it: `#[global_allocator] static A: Counting = Counting;`.

pub use peak_alloc::PeakAlloc as Counting;

/// Live heap bytes now (signed: the benches subtract one reading from another).
pub fn live() -> isize {
    signed(Counting.current_usage())
}

/// The most live heap bytes since the last [`reset_peak`].
pub fn peak() -> isize {
    signed(Counting.peak_usage())
}

/// Starts a new peak from the live bytes now.
pub fn reset_peak() {
    Counting.reset_peak_usage();
}

fn signed(bytes: usize) -> isize {
    isize::try_from(bytes).unwrap_or(isize::MAX)
}
