//! Page-sized pixel buffers kept for reuse by the thread that decodes and reads pages.
//!
//! A 300-dpi A4 page is an 8.7 MB buffer, and a batch allocates one or two per page. Left to
//! the allocator, freed buffers of that size are kept in its heaps (glibc raises its mmap
//! threshold after the first few), so resident memory climbs for a few hundred pages before
//! it levels off; handed back to the kernel instead, every page pays ≈ 2,000 page faults
//! (measured: 4 ms of system time per page). Reusing the same few buffers gives neither: memory
//! is flat from the first pages on and no page is faulted in twice.
//!
//! The pool is per thread (a rayon worker decodes, reads and drops its own pages) and holds at
//! most [`KEEP`] buffers, so it never grows with the batch. [`tune_allocator`] does the rest:
//! large one-off buffers (a PDF's sparse copy, a 600-dpi page) go straight to the kernel.

use std::cell::RefCell;

/// Allocations this large (bytes) are mapped from the kernel and unmapped when freed. Fixed,
/// glibc stops raising it (up to 32 MB) after each large free; raised, a PDF's sparse copy
/// (as large as the file, mostly never touched) came from the heap zeroed, i.e. touched:
/// measured 91 MB resident after 200 pages vs 64 MB with it fixed. 4 MB is above every
/// per-cell, per-crop and per-row buffer the reader makes, so only page- and file-sized ones
/// are mapped (and page buffers are pooled, so they are mapped once per worker).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 4 << 20;

/// Fix the allocator's mmap threshold (see [`MMAP_THRESHOLD`]). Call first thing in `main`,
/// before any thread starts; elsewhere a no-op.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before other threads
    // exist, and a failure (returns 0) just leaves glibc's default.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

/// Buffers kept per thread: the page being read and its upright copy when it was scanned
/// turned.
const KEEP: usize = 2;

thread_local! {
    static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of exactly `len` bytes, reused when one is spare. Its contents are whatever the
/// last page left there: callers overwrite every byte (decoders: zune-jpeg writes every pixel
/// even of a truncated file, see the test in pages/tests.rs) or fill it first.
#[must_use]
pub fn take(len: usize) -> Vec<u8> {
    let reused = SPARE.with(|s| {
        let mut spare = s.borrow_mut();
        // The smallest spare that fits, so a large buffer is not spent on a small page.
        let best = spare
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= len)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i);
        best.map(|i| spare.swap_remove(i))
    });
    match reused {
        Some(mut buf) => {
            // Only bytes past the old length are written here (zeros); the rest are kept.
            buf.resize(len, 0);
            buf
        }
        None => vec![0; len],
    }
}

/// Hand a page's buffer back for the next page. Past [`KEEP`] spare buffers the smallest is
/// freed, so the pool follows the batch's page size.
pub fn give(buf: Vec<u8>) {
    if buf.capacity() == 0 {
        return;
    }
    SPARE.with(|s| {
        let mut spare = s.borrow_mut();
        spare.push(buf);
        if spare.len() > KEEP {
            if let Some(i) = spare
                .iter()
                .enumerate()
                .min_by_key(|(_, b)| b.capacity())
                .map(|(i, _)| i)
            {
                spare.swap_remove(i);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_buffer_is_taken_again_without_a_new_allocation() {
        let buf = take(1000);
        let at = buf.as_ptr();
        give(buf);
        let again = take(800);
        assert_eq!(again.len(), 800);
        assert_eq!(again.as_ptr(), at, "the spare buffer was reused");
        give(again);
        // Grown back to a larger page, the new bytes are zero.
        let grown = take(1000);
        assert_eq!(grown.len(), 1000);
        assert!(grown[800..].iter().all(|&b| b == 0));
    }

    #[test]
    fn the_pool_keeps_only_a_few_buffers_and_the_largest_ones() {
        for len in [10, 20, 30, 40] {
            give(vec![1; len]);
        }
        let kept: Vec<usize> = SPARE.with(|s| s.borrow().iter().map(Vec::capacity).collect());
        assert_eq!(kept.len(), KEEP);
        assert!(kept.iter().all(|&c| c >= 30), "{kept:?}");
        // A buffer too large for any spare is freshly allocated.
        assert_eq!(take(100), vec![0; 100]);
    }
}
