//! In-memory implementations of the [`crate::ports`] traits, for unit and
//! property tests of the upload logic (and anyone embedding it). Handles are
//! cheap clones sharing one state, so several [`Kiln`](crate::Kiln)s ("instances")
//! can work on one bucket and one key-value store.
//!
//! They can misbehave on purpose, from a seeded random source:
//! - [`MemObjects`]: transient failures (nothing applied) and lost responses
//!   (applied, then the caller's retry runs: a retried CompleteMultipartUpload
//!   finds no upload, as on S3), S3's minimum part size;
//! - [`MemState`]: swaps that report failure after applying (Spin's Redis
//!   store) and unconditional writes from "absent" (Spin's SQLite store);
//! - [`MemConverters`]: unreachable converters;
//! - every call can yield once first, so a test executor can interleave
//!   concurrent operations between any two calls.

use crate::ids::hex;
use crate::manifest::{Variant, VariantReply};
use crate::ports::*;
use crate::{keys, Platform};
use futures::Stream;
use sha2::{Digest, Sha256};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// The in-memory platform.
pub struct Memory;

impl Platform for Memory {
    type Objects = MemObjects;
    type State = MemState;
    type Converters = MemConverters;
    type Clock = MemClock;
}

/// A small deterministic random source (SplitMix64).
#[derive(Debug, Clone)]
pub struct Chaos {
    state: Rc<Cell<u64>>,
    /// Chance (0..1) that a call yields to the executor first.
    pub yield_chance: f64,
}

impl Chaos {
    pub fn new(seed: u64, yield_chance: f64) -> Chaos {
        Chaos { state: Rc::new(Cell::new(seed)), yield_chance }
    }

    pub fn next(&self) -> u64 {
        let mut z = self.state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        self.state.set(z);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// True with probability `p`.
    pub fn chance(&self, p: f64) -> bool {
        p > 0.0 && (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// Maybe yields once (see [`Chaos::yield_chance`]).
    pub async fn pause(&self) {
        if self.chance(self.yield_chance) {
            YieldOnce(false).await
        }
    }
}

/// Returns `Pending` once, waking itself at once.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A clock the test moves.
#[derive(Debug, Clone, Default)]
pub struct MemClock(pub Rc<Cell<u64>>);

impl MemClock {
    pub fn at(ms: u64) -> MemClock {
        MemClock(Rc::new(Cell::new(ms)))
    }

    pub fn advance(&self, ms: u64) {
        self.0.set(self.0.get() + ms);
    }
}

impl Clock for MemClock {
    fn now_ms(&self) -> u64 {
        self.0.get()
    }

    /// Resolves once the test has moved the clock past the deadline.
    async fn sleep(&self, duration: std::time::Duration) {
        let deadline = self.0.get() + duration.as_millis() as u64;
        std::future::poll_fn(|cx| {
            if self.0.get() >= deadline {
                Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await
    }
}

#[derive(Debug, Clone)]
struct Object {
    bytes: Rc<Vec<u8>>,
    etag: String,
    modified_ms: u64,
}

#[derive(Debug, Clone)]
struct Multipart {
    key: String,
    parts: BTreeMap<u16, Rc<Vec<u8>>>,
    initiated_ms: u64,
}

#[derive(Debug, Default)]
struct Bucket {
    objects: BTreeMap<String, Object>,
    multiparts: HashMap<String, Multipart>,
    next_upload: u64,
}

/// How a [`MemObjects`] misbehaves.
#[derive(Debug, Clone, Default)]
pub struct StoreFaults {
    /// Chance a call fails with nothing applied.
    pub fail: f64,
    /// Chance a write's response is lost after it applied (then retried).
    pub lose: f64,
}

/// One scripted misbehaviour, for the next call whose description starts
/// with a given text (`"CompleteMultipartUpload"`, `"PUT variants/"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Fails, nothing applied.
    Fail,
    /// Applies, loses the response, and the retry runs.
    Lose,
}

/// An S3 bucket in memory.
#[derive(Clone)]
pub struct MemObjects {
    bucket: Rc<RefCell<Bucket>>,
    clock: MemClock,
    chaos: Chaos,
    faults: Rc<RefCell<StoreFaults>>,
    script: Rc<RefCell<Vec<(String, Fault)>>>,
    /// S3's smallest part but the last (EntityTooSmall below it).
    pub min_part_bytes: u64,
}

fn etag_of(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))[..32].to_string()
}

fn injected(what: &str) -> StoreError {
    StoreError::Failed(format!("{what}: injected storage failure (503 SlowDown)"))
}

impl MemObjects {
    pub fn new(clock: MemClock, chaos: Chaos) -> MemObjects {
        MemObjects {
            bucket: Default::default(),
            clock,
            chaos,
            faults: Default::default(),
            script: Default::default(),
            min_part_bytes: 5 * 1024 * 1024,
        }
    }

    /// Sets how the store misbehaves from now on.
    pub fn set_faults(&self, faults: StoreFaults) {
        *self.faults.borrow_mut() = faults;
    }

    /// Makes the next call described by something starting with `op` misbehave.
    pub fn script(&self, op: &str, fault: Fault) {
        self.script.borrow_mut().push((op.to_string(), fault));
    }

    fn scripted(&self, what: &str) -> Option<Fault> {
        let mut script = self.script.borrow_mut();
        let at = script.iter().position(|(op, _)| what.starts_with(op.as_str()))?;
        Some(script.remove(at).1)
    }

    /// Every key under `prefix`.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        self.bucket.borrow().objects.keys().filter(|k| k.starts_with(prefix)).cloned().collect()
    }

    /// The bytes at `key`, without faults.
    pub fn bytes(&self, key: &str) -> Option<Vec<u8>> {
        self.bucket.borrow().objects.get(key).map(|o| o.bytes.to_vec())
    }

    /// Writes an object directly (as an S3 client would), without faults.
    pub fn insert(&self, key: &str, bytes: &[u8]) -> String {
        self.store(key, Rc::new(bytes.to_vec()))
    }

    /// Unfinished multipart uploads, as (key, upload id).
    pub fn multiparts(&self) -> Vec<(String, String)> {
        self.bucket.borrow().multiparts.iter().map(|(id, m)| (m.key.clone(), id.clone())).collect()
    }

    fn store(&self, key: &str, bytes: Rc<Vec<u8>>) -> String {
        let etag = etag_of(&bytes);
        let object = Object { bytes, etag: etag.clone(), modified_ms: self.clock.now_ms() };
        self.bucket.borrow_mut().objects.insert(key.to_string(), object);
        etag
    }

    /// Runs `op` under the faults: maybe fails before, maybe loses the
    /// response after (then runs it again, as a retrying client does).
    async fn call<T>(&self, what: &str, write: bool, op: impl Fn() -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.chaos.pause().await;
        let faults = self.faults.borrow().clone();
        let scripted = self.scripted(what);
        if scripted == Some(Fault::Fail) || self.chaos.chance(faults.fail) {
            return Err(injected(what));
        }
        let result = op();
        if write && result.is_ok() && (scripted == Some(Fault::Lose) || self.chaos.chance(faults.lose)) {
            self.chaos.pause().await;
            return op();
        }
        result
    }

    fn with_upload<T>(&self, key: &str, upload_id: &str, f: impl FnOnce(&mut Multipart) -> T) -> Result<T, StoreError> {
        let mut bucket = self.bucket.borrow_mut();
        match bucket.multiparts.get_mut(upload_id) {
            Some(m) if m.key == key => Ok(f(m)),
            _ => Err(StoreError::NoSuchUpload { key: key.into(), upload_id: upload_id.into() }),
        }
    }
}

impl ObjectStore for MemObjects {
    async fn put(&self, key: &str, body: &[u8], _content_type: &str) -> Result<Option<String>, StoreError> {
        let body = Rc::new(body.to_vec());
        self.call(&format!("PUT {key}"), true, || Ok(Some(self.store(key, body.clone())))).await
    }

    async fn get(&self, key: &str, cap: u64) -> Result<Vec<u8>, StoreError> {
        self.call(&format!("GET {key}"), false, || {
            let bucket = self.bucket.borrow();
            let object = bucket.objects.get(key).ok_or_else(|| StoreError::NotFound { key: key.into() })?;
            if object.bytes.len() as u64 > cap {
                return Err(StoreError::TooLarge { key: key.into(), cap });
            }
            Ok(object.bytes.to_vec())
        })
        .await
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StoreError> {
        self.call(&format!("HEAD {key}"), false, || {
            Ok(self.bucket.borrow().objects.get(key).map(|o| ObjectInfo {
                key: key.into(),
                size: o.bytes.len() as u64,
                etag: Some(o.etag.clone()),
                modified_ms: Some(o.modified_ms),
            }))
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.call(&format!("DELETE {key}"), true, || {
            self.bucket.borrow_mut().objects.remove(key);
            Ok(())
        })
        .await
    }

    async fn list(&self, prefix: &str, start_after: Option<&str>, max: u32) -> Result<Listing, StoreError> {
        self.call(&format!("LIST {prefix}"), false, || {
            let bucket = self.bucket.borrow();
            let mut matching = bucket
                .objects
                .iter()
                .filter(|(k, _)| k.starts_with(prefix) && start_after.is_none_or(|s| k.as_str() > s))
                .map(|(k, o)| ObjectInfo { key: k.clone(), size: o.bytes.len() as u64, etag: Some(o.etag.clone()), modified_ms: Some(o.modified_ms) });
            let objects: Vec<ObjectInfo> = matching.by_ref().take(max as usize).collect();
            Ok(Listing { objects, truncated: matching.next().is_some() })
        })
        .await
    }

    async fn create_multipart(&self, key: &str, _content_type: &str) -> Result<String, StoreError> {
        self.call(&format!("CreateMultipartUpload {key}"), true, || {
            let mut bucket = self.bucket.borrow_mut();
            bucket.next_upload += 1;
            let id = format!("mpu-{}", bucket.next_upload);
            let upload = Multipart { key: key.into(), parts: BTreeMap::new(), initiated_ms: self.clock.now_ms() };
            bucket.multiparts.insert(id.clone(), upload);
            Ok(id)
        })
        .await
    }

    async fn upload_part(&self, key: &str, upload_id: &str, number: u16, body: &[u8]) -> Result<String, StoreError> {
        let body = Rc::new(body.to_vec());
        self.call(&format!("UploadPart {key} #{number}"), true, || {
            self.with_upload(key, upload_id, |m| {
                m.parts.insert(number, body.clone());
                etag_of(&body)
            })
        })
        .await
    }

    async fn upload_part_copy(&self, key: &str, upload_id: &str, number: u16, source: &str) -> Result<String, StoreError> {
        self.call(&format!("UploadPartCopy {key} #{number}"), true, || {
            let bytes = self.bucket.borrow().objects.get(source).map(|o| o.bytes.clone());
            let bytes = bytes.ok_or_else(|| StoreError::NotFound { key: source.into() })?;
            self.with_upload(key, upload_id, |m| {
                m.parts.insert(number, bytes.clone());
                etag_of(&bytes)
            })
        })
        .await
    }

    async fn complete_multipart(&self, key: &str, upload_id: &str, etags: &[String]) -> Result<Option<String>, StoreError> {
        self.call(&format!("CompleteMultipartUpload {key}"), true, || {
            let parts = self.with_upload(key, upload_id, |m| m.parts.clone())?;
            let listed: Vec<String> = parts.values().map(|p| etag_of(p)).collect();
            if listed != etags || parts.keys().copied().ne(1..=parts.len() as u16) {
                return Err(StoreError::Failed(format!("CompleteMultipartUpload {key}: InvalidPart")));
            }
            let last = parts.len();
            if parts.values().take(last - 1).any(|p| (p.len() as u64) < self.min_part_bytes) {
                return Err(StoreError::Failed(format!("CompleteMultipartUpload {key}: EntityTooSmall")));
            }
            let whole: Vec<u8> = parts.values().flat_map(|p| p.iter().copied()).collect();
            self.bucket.borrow_mut().multiparts.remove(upload_id);
            Ok(Some(self.store(key, Rc::new(whole))))
        })
        .await
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        self.call(&format!("AbortMultipartUpload {key}"), true, || {
            self.bucket.borrow_mut().multiparts.remove(upload_id);
            Ok(())
        })
        .await
    }

    async fn list_multipart(&self, prefix: &str) -> Result<Vec<MultipartInfo>, StoreError> {
        self.call(&format!("ListMultipartUploads {prefix}"), false, || {
            let bucket = self.bucket.borrow();
            let mut open: Vec<MultipartInfo> = bucket
                .multiparts
                .iter()
                .filter(|(_, m)| m.key.starts_with(prefix))
                .map(|(id, m)| MultipartInfo { key: m.key.clone(), upload_id: id.clone(), initiated_ms: Some(m.initiated_ms) })
                .collect();
            open.sort_by(|a, b| (&a.key, &a.upload_id).cmp(&(&b.key, &b.upload_id)));
            Ok(open)
        })
        .await
    }
}

/// How a [`MemState`] behaves like a real backend.
#[derive(Debug, Clone, Default)]
pub struct StateQuirks {
    /// Chance a swap that applied reports failure (Spin's Redis store: always).
    pub report_applied_as_failed: f64,
    /// A swap from "absent" writes whatever is there (Spin's SQLite store).
    pub absent_swap_unconditional: bool,
}

/// How many calls a [`MemState`] answered, by kind (`kiln-bench
/// --capacity` counts an upload's key-value operations with it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateCalls {
    pub gets: u64,
    /// Compare-and-swaps, applied or not.
    pub swaps: u64,
    pub deletes: u64,
}

/// Every (key, value) written, in order.
type WriteLog = Rc<RefCell<Vec<(String, Vec<u8>)>>>;

/// A key-value store with compare-and-swap, in memory. Every write is
/// logged, so tests can check how records evolved.
#[derive(Clone)]
pub struct MemState {
    values: Rc<RefCell<BTreeMap<String, Vec<u8>>>>,
    log: WriteLog,
    calls: Rc<Cell<StateCalls>>,
    chaos: Chaos,
    quirks: Rc<RefCell<StateQuirks>>,
}

impl MemState {
    pub fn new(chaos: Chaos) -> MemState {
        MemState { values: Default::default(), log: Default::default(), calls: Default::default(), chaos, quirks: Default::default() }
    }

    pub fn set_quirks(&self, quirks: StateQuirks) {
        *self.quirks.borrow_mut() = quirks;
    }

    /// Every value written, in order, as (key, value).
    pub fn writes(&self) -> Vec<(String, Vec<u8>)> {
        self.log.borrow().clone()
    }

    /// Keys currently held.
    pub fn keys(&self) -> Vec<String> {
        self.values.borrow().keys().cloned().collect()
    }

    /// The calls answered so far.
    pub fn calls(&self) -> StateCalls {
        self.calls.get()
    }

    fn count(&self, f: impl FnOnce(&mut StateCalls)) {
        let mut calls = self.calls.get();
        f(&mut calls);
        self.calls.set(calls);
    }

    fn set(&self, key: &str, value: &[u8]) {
        self.values.borrow_mut().insert(key.into(), value.to_vec());
        self.log.borrow_mut().push((key.into(), value.to_vec()));
    }
}

impl StateStore for MemState {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        self.chaos.pause().await;
        self.count(|c| c.gets += 1);
        Ok(self.values.borrow().get(key).cloned())
    }

    async fn swap(&self, key: &str, expected: Option<&[u8]>, new: &[u8]) -> Result<Swap, StateError> {
        self.chaos.pause().await;
        self.count(|c| c.swaps += 1);
        let quirks = self.quirks.borrow().clone();
        let current = self.values.borrow().get(key).cloned();
        let matches = current.as_deref() == expected || (expected.is_none() && quirks.absent_swap_unconditional);
        if !matches {
            return Ok(Swap::NotSwapped);
        }
        self.set(key, new);
        if self.chaos.chance(quirks.report_applied_as_failed) {
            return Ok(Swap::NotSwapped);
        }
        Ok(Swap::Swapped)
    }

    async fn delete(&self, key: &str) -> Result<(), StateError> {
        self.chaos.pause().await;
        self.count(|c| c.deletes += 1);
        self.values.borrow_mut().remove(key);
        Ok(())
    }
}

/// Converters that "convert" by writing a small deterministic variant (the
/// format name and the original's digest) where the real ones would.
#[derive(Clone)]
pub struct MemConverters {
    objects: MemObjects,
    formats: Vec<String>,
    chaos: Chaos,
    /// Chance a call finds its converter unreachable.
    pub unreachable: Rc<Cell<f64>>,
    /// Formats that refuse every image (a 413 with a reason).
    pub refusing: Rc<RefCell<Vec<String>>>,
}

impl MemConverters {
    pub fn new(objects: MemObjects, chaos: Chaos) -> MemConverters {
        let formats = ["webp", "avif", "jpeg", "thumbnail"].map(String::from).to_vec();
        MemConverters { objects, formats, chaos, unreachable: Default::default(), refusing: Default::default() }
    }

    /// What [`MemConverters`] stores for `format` of an original.
    pub fn variant_bytes(format: &str, original: &[u8]) -> Vec<u8> {
        format!("{format}:{}", hex(&Sha256::digest(original))).into_bytes()
    }

    async fn convert_one(&self, key: &str, format: &str) -> Converted {
        self.chaos.pause().await;
        if self.chaos.chance(self.unreachable.get()) {
            return Converted::Retry { format: format.into(), why: "injected: connection refused".into() };
        }
        if self.refusing.borrow().iter().any(|f| f == format) {
            return Converted::Variant(Variant::failed(format, 1.0, "413 too_large: refused by the test".into()));
        }
        let original = match self.objects.get(key, u64::MAX).await {
            Ok(bytes) => bytes,
            Err(e) => return Converted::Retry { format: format.into(), why: format!("502 storage_failed: {e}") },
        };
        let bytes = Self::variant_bytes(format, &original);
        let variant_key = keys::variant_key(key, format, "bin");
        if let Err(e) = self.objects.put(&variant_key, &bytes, "application/octet-stream").await {
            return Converted::Retry { format: format.into(), why: format!("502 storage_failed: {e}") };
        }
        let reply = VariantReply {
            format: format.into(),
            url: format!("mem://{variant_key}"),
            key: variant_key,
            mime_type: "application/octet-stream".into(),
            size: bytes.len() as u64,
            width: 1,
            height: 1,
            linear_memory: None,
            // Like the real thumbnail converter, this one sends placeholders.
            placeholder: (format == "thumbnail").then(|| crate::manifest::Placeholder {
                thumbhash: "mem".into(),
                blurhash: "mem".into(),
                dominant_color: "#000000".into(),
                aspect_ratio: 1.0,
            }),
            widths: Vec::new(),
            embedded: kiln_core::Embedded::default(),
            srcset: None,
            auto_quality: None,
        };
        Converted::Variant(Variant::done(1.0, reply, BTreeMap::new()))
    }
}

impl Converters for MemConverters {
    fn formats(&self) -> Vec<String> {
        self.formats.clone()
    }

    fn convert<'a>(&'a self, key: &'a str, formats: &'a [String]) -> impl Stream<Item = Converted> + 'a {
        use futures::StreamExt;
        futures::stream::iter(formats).map(move |f| self.convert_one(key, f)).buffer_unordered(4)
    }
}

/// A whole in-memory kiln: one bucket, one state store, shared by every
/// [`Kiln`](crate::Kiln) made with [`MemWorld::instance`].
#[derive(Clone)]
pub struct MemWorld {
    pub objects: MemObjects,
    pub state: MemState,
    pub converters: MemConverters,
    pub clock: MemClock,
    pub chaos: Chaos,
}

impl MemWorld {
    pub fn new(seed: u64, yield_chance: f64) -> MemWorld {
        let chaos = Chaos::new(seed, yield_chance);
        let clock = MemClock::at(1_700_000_000_000);
        let objects = MemObjects::new(clock.clone(), chaos.clone());
        MemWorld {
            state: MemState::new(chaos.clone()),
            converters: MemConverters::new(objects.clone(), chaos.clone()),
            objects,
            clock,
            chaos,
        }
    }

    /// A kiln instance on this world.
    pub fn instance(&self, config: crate::UploadConfig) -> crate::Kiln<Memory> {
        crate::Kiln::new(self.objects.clone(), self.state.clone(), self.converters.clone(), self.clock.clone(), config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    #[test]
    fn state_counts_every_call_applied_or_not() {
        let state = MemState::new(Chaos::new(1, 0.0));
        block_on(async {
            assert_eq!(state.get("k").await.unwrap(), None);
            assert_eq!(state.swap("k", None, b"a").await.unwrap(), Swap::Swapped);
            assert_eq!(state.swap("k", None, b"b").await.unwrap(), Swap::NotSwapped);
            state.delete("k").await.unwrap();
        });
        assert_eq!(state.calls(), StateCalls { gets: 1, swaps: 2, deletes: 1 });
        assert_eq!(state.writes().len(), 1, "the log keeps applied writes only");
    }
}
