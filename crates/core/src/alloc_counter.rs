//! A counting global allocator for native heap peaks, used by the memory
//! test and by `kiln-calibrate`: a binary installs [`Counting`] as its
//! `#[global_allocator]`; [`peak_of`] then reports the most bytes a closure
//! had live at once. (libwebp's C malloc bypasses it: native WebP peaks miss
//! the encoder's own memory.) Nothing in kiln installs it in production.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// Counts live bytes and their high-water mark, then defers to [`System`].
pub struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), SeqCst) + layout.size();
        PEAK.fetch_max(now, SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), SeqCst) + layout.size();
        PEAK.fetch_max(now, SeqCst);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A realloc may hold both blocks at once: count the worst case.
        let now = CURRENT.fetch_add(new_size, SeqCst) + new_size;
        PEAK.fetch_max(now, SeqCst);
        let out = unsafe { System.realloc(ptr, layout, new_size) };
        CURRENT.fetch_sub(layout.size(), SeqCst);
        out
    }
}

/// Whether [`Counting`] is the running binary's allocator (it has counted
/// something), so a forgotten `#[global_allocator]` fails loudly.
pub fn installed() -> bool {
    CURRENT.load(SeqCst) > 0
}

/// Runs `f` with `owned` (bytes already allocated that `f` consumes and
/// frees, e.g. the input buffer) and returns its result and the peak of
/// live heap bytes attributable to it, `owned` included.
pub fn peak_of<T>(owned: usize, f: impl FnOnce() -> T) -> (T, u64) {
    let base = CURRENT.load(SeqCst) - owned;
    PEAK.store(CURRENT.load(SeqCst), SeqCst);
    let out = f();
    (out, (PEAK.load(SeqCst) - base) as u64)
}
