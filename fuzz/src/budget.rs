//! A global allocator that makes an allocation over the memory budget a
//! finding at the moment it happens. It counts live heap bytes like
//! `kiln_core::alloc_counter::Counting`; while a conversion is
//! [`within`] the budget, the first allocation that takes the bytes live
//! since the conversion started over the budget prints its size and a
//! backtrace (the allocation site, which libFuzzer without a sanitizer does
//! not print) and aborts, which libFuzzer reports as a crash and saves.
//!
//! Why not libFuzzer's `-malloc_limit_mb`: it only sees allocations through
//! a sanitizer's malloc hooks, and the targets are built without one
//! (scripts/fuzz.sh explains why); `-rss_limit_mb` stays as a coarse backstop.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

/// Counts live bytes and aborts on the first allocation over the budget.
pub struct Budgeted;

static LIVE: AtomicUsize = AtomicUsize::new(0);
/// Live bytes when the current [`within`] began, and its budget.
static BASE: AtomicUsize = AtomicUsize::new(0);
static BUDGET: AtomicUsize = AtomicUsize::new(usize::MAX);
static ARMED: AtomicBool = AtomicBool::new(false);

unsafe impl GlobalAlloc for Budgeted {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A growing realloc may hold both blocks at once (alloc_counter
        // counts it so too); a shrinking one is done in place.
        if new_size > layout.size() {
            grow(new_size);
            LIVE.fetch_sub(layout.size(), SeqCst);
        } else {
            LIVE.fetch_sub(layout.size() - new_size, SeqCst);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn grow(size: usize) {
    let live = LIVE.fetch_add(size, SeqCst) + size;
    if ARMED.load(SeqCst) {
        let used = live.saturating_sub(BASE.load(SeqCst));
        if used > BUDGET.load(SeqCst) {
            over_budget(size, used);
        }
    }
}

/// Reports the allocation that broke the budget and aborts. Disarms first,
/// so the report's own allocations go through.
#[cold]
fn over_budget(size: usize, used: usize) -> ! {
    ARMED.store(false, SeqCst);
    let budget = BUDGET.load(SeqCst);
    eprintln!(
        "kiln-fuzz: allocation of {size} bytes takes the conversion to {used} bytes live, over its budget of {budget} bytes ({} MiB)",
        budget >> 20
    );
    eprintln!("{}", std::backtrace::Backtrace::force_capture());
    std::process::abort();
}

/// Runs `f` with at most `budget` bytes live at once, counting `owned`
/// bytes already allocated that `f` consumes (the input buffer).
pub fn within<T>(budget: u64, owned: usize, f: impl FnOnce() -> T) -> T {
    BASE.store(LIVE.load(SeqCst).saturating_sub(owned), SeqCst);
    BUDGET.store(usize::try_from(budget).unwrap_or(usize::MAX), SeqCst);
    ARMED.store(true, SeqCst);
    let out = f();
    ARMED.store(false, SeqCst);
    out
}
