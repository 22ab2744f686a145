//! Last words: when a converter instance panics or runs out of memory
//! despite every check, Spin would answer an empty 500 and the caller would
//! learn nothing. Instead, the response outparam is kept aside while the
//! handler runs, and a panic hook and an allocator that notices a failed
//! allocation use it to answer a JSON 500 saying what happened, before the
//! instance dies. Everything here is synchronous: it runs inside a panic
//! hook or an allocator, where nothing can be awaited.
//!
//! A component opts in with `#[global_allocator] static A: LastWords = LastWords;`
//! and by answering through [`serve`].

use crate::http::respond;
use spin_sdk::http::{Fields, OutgoingBody, OutgoingResponse, Response, ResponseOutparam};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::RefCell;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

thread_local! {
    /// The answer channel of the request being handled, until it is used.
    static PENDING: RefCell<Option<ResponseOutparam>> = const { RefCell::new(None) };
}

/// Set while last words are being said: a failure inside them must not recurse.
static SPEAKING: AtomicBool = AtomicBool::new(false);

/// Runs `handler` and answers with its response; if the instance panics or
/// runs out of memory first, answers a JSON 500 with the reason instead.
pub async fn serve(out: ResponseOutparam, handler: impl Future<Output = Response>) {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            default(info);
            let message = info.payload().downcast_ref::<&str>().copied().or_else(|| info.payload().downcast_ref::<String>().map(String::as_str));
            let place = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
            speak(&format!("the converter panicked{place}: {}", message.unwrap_or("(no message)")));
        }));
    });
    PENDING.with(|p| *p.borrow_mut() = Some(out));
    let response = handler.await;
    if let Some(out) = PENDING.with(|p| p.borrow_mut().take()) {
        respond(out, response).await;
    }
}

/// Answers the pending request with a JSON 500 giving `reason`, if it has
/// not been answered yet.
fn speak(reason: &str) {
    if SPEAKING.swap(true, Ordering::SeqCst) {
        return;
    }
    let out = PENDING.try_with(|p| p.try_borrow_mut().ok().and_then(|mut p| p.take())).ok().flatten();
    if let Some(out) = out {
        let body = serde_json::json!({ "error": "internal_error", "detail": reason }).to_string();
        if answer_500(out, body.as_bytes()).is_none() {
            eprintln!("kiln: could not answer the last words: {reason}");
        }
    }
    SPEAKING.store(false, Ordering::SeqCst);
}

/// Sets a 500 with `body` and writes it, all with blocking calls.
fn answer_500(out: ResponseOutparam, body: &[u8]) -> Option<()> {
    let headers = Fields::from_list(&[("content-type".to_string(), b"application/json".to_vec())]).ok()?;
    let response = OutgoingResponse::new(headers);
    response.set_status_code(500).ok()?;
    let outgoing: OutgoingBody = response.body().ok()?;
    out.set(response);
    {
        let stream = outgoing.write().ok()?;
        for piece in body.chunks(4096) {
            stream.blocking_write_and_flush(piece).ok()?;
        }
    }
    OutgoingBody::finish(outgoing, None).ok()
}

/// The system allocator, plus last words when an allocation fails (the
/// instance is past its memory limit and about to trap).
pub struct LastWords;

fn out_of_memory(layout: Layout) {
    speak(&format!("out of memory: an allocation of {} bytes failed (the memory estimate missed this input)", layout.size()));
}

unsafe impl GlobalAlloc for LastWords {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds GlobalAlloc's contract, passed on as is.
        let p = unsafe { System.alloc(layout) };
        if p.is_null() {
            out_of_memory(layout);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if p.is_null() {
            out_of_memory(layout);
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `alloc`; `ptr` came from this allocator.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            out_of_memory(Layout::from_size_align(new_size, layout.align()).unwrap_or(layout));
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}
