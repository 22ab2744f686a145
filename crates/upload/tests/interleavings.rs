//! Property test: random interleavings of tus clients (create, PATCH in
//! random sizes, duplicated and stale PATCHes, HEAD, DELETE), one-shot
//! uploads and bucket events, on several concurrent "instances" of kiln
//! sharing one in-memory bucket and key-value store, while operations crash
//! at random points (a dropped future is a killed instance), the store fails
//! and loses responses, converters are unreachable, swaps misreport, and the
//! clock moves. Then a quiet recovery phase: time passes, the sweep runs and
//! its re-drives are carried out.
//!
//! Like a platform's request timeout, the test kills a request that has run
//! longer than [`REQUEST_LIMIT_MS`] (longer than a lock and a lease, so work
//! still outlives both), and the orphan grace is longer than that. Without
//! a limit a creation could write its record after the sweep had taken its
//! marker as the leftover of a dead creation, and then die itself: no
//! design can find that record (Spin's SQLite store writes a swap from
//! "absent" unconditionally, so a creation cannot be fenced off). The
//! upload logic narrows this down to a record write held in flight past
//! half the grace (`Kiln::create_upload_record`; recovery.rs steps through
//! the cases it handles); the limit rules out the rest.
//!
//! Invariants, checked after every scheduling step and at the end:
//! - the stored chunks of an unfinished upload are exactly the client's
//!   bytes up to the recorded offset;
//! - a terminal manifest never changes again;
//! - after recovery every upload a client finished is terminal, `done`
//!   with its original byte-identical to what was sent; every record is
//!   terminal or gone; no chunk, marker or multipart upload is left.

mod common;

use common::{png, small_config};
use futures::task::noop_waker;
use kiln_upload::manifest::Status;
use kiln_upload::memory::{Chaos, MemClock, MemWorld, Memory, StateQuirks, StoreFaults};
use kiln_upload::pipeline::Work;
use kiln_upload::record::UploadRecord;
use kiln_upload::tus::{Begun, NewUpload};
use kiln_upload::{keys, Clock, Kiln, UploadConfig};
use proptest::prelude::*;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

type Task = Pin<Box<dyn Future<Output = ()>>>;

/// A single-threaded executor that polls a random runnable task per step.
#[derive(Clone, Default)]
struct Exec {
    tasks: Rc<RefCell<Vec<Task>>>,
    spawned: Rc<RefCell<Vec<Task>>>,
}

impl Exec {
    fn spawn(&self, task: impl Future<Output = ()> + 'static) {
        self.spawned.borrow_mut().push(Box::pin(task));
    }

    /// Runs until every task finished; `step` runs after each poll.
    fn run(&self, pick: &Chaos, mut step: impl FnMut()) {
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        for _ in 0..200_000 {
            self.tasks.borrow_mut().append(&mut self.spawned.borrow_mut());
            let n = self.tasks.borrow().len();
            if n == 0 {
                return;
            }
            let i = (pick.next() % n as u64) as usize;
            let mut task = self.tasks.borrow_mut().swap_remove(i);
            if task.as_mut().poll(&mut cx).is_pending() {
                self.tasks.borrow_mut().push(task);
            }
            step();
        }
        panic!("the executor did not go idle");
    }
}

/// How long a request may run before the platform kills it.
const REQUEST_LIMIT_MS: u64 = 20_000;

/// A server operation that may crash: its future is dropped mid-way (the
/// instance died, or the request ran past [`REQUEST_LIMIT_MS`]), and the
/// client sees a broken connection.
struct Crashable<F: Future> {
    inner: Option<Pin<Box<F>>>,
    chaos: Chaos,
    p: f64,
    clock: MemClock,
    started: Option<u64>,
}

#[derive(Debug)]
struct Crashed;

fn crashable<F: Future>(fut: F, world: &MemWorld, p: f64) -> Crashable<F> {
    Crashable { inner: Some(Box::pin(fut)), chaos: world.chaos.clone(), p, clock: world.clock.clone(), started: None }
}

impl<F: Future> Future for Crashable<F> {
    type Output = Result<F::Output, Crashed>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let now = self.clock.now_ms();
        let started = *self.started.get_or_insert(now);
        if self.chaos.chance(self.p) || now - started > REQUEST_LIMIT_MS {
            self.inner = None;
            return Poll::Ready(Err(Crashed));
        }
        match self.inner.as_mut() {
            Some(f) => f.as_mut().poll(cx).map(Ok),
            None => Poll::Ready(Err(Crashed)),
        }
    }
}

#[derive(Debug, Clone)]
struct Scenario {
    seed: u64,
    tus_clients: usize,
    one_shots: usize,
    events: usize,
    crash: f64,
    fail: f64,
    lose: f64,
    unreachable: f64,
    redis_like: bool,
    sweeping: bool,
}

fn scenarios() -> impl Strategy<Value = Scenario> {
    let faults = (0.0..0.03f64, 0.0..0.08f64, 0.0..0.08f64, 0.0..0.2f64);
    (any::<u64>(), 1usize..4, 0usize..2, 0usize..2, faults, any::<bool>(), any::<bool>()).prop_map(
        |(seed, tus_clients, one_shots, events, (crash, fail, lose, unreachable), redis_like, sweeping)| Scenario {
            seed,
            tus_clients,
            one_shots,
            events,
            crash,
            fail,
            lose,
            unreachable,
            redis_like,
            sweeping,
        },
    )
}

fn config() -> UploadConfig {
    // A marker with no record is deleted once older than the orphan grace:
    // it must be longer than a request can last (see the module docs).
    UploadConfig { expiry_ms: 3_600_000, max_attempts: 50, orphan_grace_ms: 30_000, ..small_config() }
}

/// What the clients know: each upload's bytes, and whether its client saw
/// the last byte acknowledged.
#[derive(Default)]
struct Ledger {
    data: BTreeMap<String, Vec<u8>>,
    finished: BTreeMap<String, bool>,
    deleted: Vec<String>,
}

struct Env {
    kiln: Rc<Kiln<Memory>>,
    world: MemWorld,
    exec: Exec,
    ledger: Rc<RefCell<Ledger>>,
    crash: f64,
}

impl Env {
    fn op<F: Future>(&self, fut: F) -> Crashable<F> {
        crashable(fut, &self.world, self.crash)
    }

    /// Runs `work` in the background, as an instance that answered first.
    fn spawn_work(&self, work: Work) {
        let kiln = self.kiln.clone();
        let run = crashable(async move { kiln.run(work).await.map(|_| ()) }, &self.world, self.crash);
        self.exec.spawn(async move {
            let _ = run.await;
        });
    }
}

async fn tus_client(env: Rc<Env>, data: Vec<u8>) {
    let chaos = env.world.chaos.clone();
    let new = NewUpload { length: Some(data.len() as u64), metadata: common::metadata("p.png"), ..NewUpload::default() };
    let id = loop {
        if let Ok(Ok(created)) = env.op(env.kiln.tus_create(new.clone())).await {
            break created.view.id;
        }
    };
    env.ledger.borrow_mut().data.insert(id.clone(), data.clone());
    let len = data.len() as u64;
    for _ in 0..300 {
        if chaos.chance(0.01) {
            // The user gives up and terminates the upload.
            if let Ok(Ok(())) = env.op(env.kiln.tus_terminate(&id)).await {
                env.ledger.borrow_mut().deleted.push(id.clone());
                return;
            }
        }
        let offset = match env.op(env.kiln.tus_head(&id)).await {
            Ok(Ok(view)) => view.offset,
            _ => continue,
        };
        if offset == len {
            env.ledger.borrow_mut().finished.insert(id.clone(), true);
            return;
        }
        // Sometimes a stale offset, sometimes a duplicated request.
        let offset = if chaos.chance(0.05) { offset.saturating_sub(16) } else { offset };
        let size = 16 + chaos.next() % 200;
        let end = (offset + size).min(len);
        let body = data[offset as usize..end as usize].to_vec();
        if chaos.chance(0.05) {
            let (env2, id2, body2) = (env.clone(), id.clone(), body.clone());
            env.exec.spawn(async move { patch_once(&env2, &id2, offset, &body2).await });
        }
        patch_once(&env, &id, offset, &body).await;
    }
}

async fn patch_once(env: &Env, id: &str, offset: u64, body: &[u8]) {
    let begun = match env.op(env.kiln.tus_begin(id, offset, Some(body.len() as u64))).await {
        Ok(Ok(Begun::Locked(ticket))) => ticket,
        _ => return,
    };
    if let Ok(Ok(patched)) = env.op(env.kiln.tus_commit(begun, body, None)).await
        && let Some(work) = patched.work
    {
        env.spawn_work(work);
    }
}

async fn one_shot_client(env: Rc<Env>, data: Vec<u8>) {
    // The client gets no id until it gets an answer; a crash leaves a record
    // behind that must still end terminal (checked over all records).
    let _ = env.op(env.kiln.post_image(Some("one.png"), data, None)).await;
}

async fn event_client(env: Rc<Env>, n: usize, data: Vec<u8>) {
    let key = format!("originals/drop/{n}.png");
    let etag = env.world.objects.insert(&key, &data);
    env.ledger.borrow_mut().data.insert(keys::event_id("kiln", &key), data);
    let body = serde_json::json!({"Records": [{"eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "kiln"}, "object": {"key": key, "eTag": etag}}}]})
    .to_string();
    // Notifiers deliver at least once: sometimes twice.
    for _ in 0..1 + (env.world.chaos.next() % 2) {
        if let Ok(Ok(accepted)) = env.op(env.kiln.accept_events(body.as_bytes())).await {
            for work in accepted.work {
                env.spawn_work(work);
            }
        }
    }
    env.ledger.borrow_mut().finished.insert(keys::event_id("kiln", &key), true);
}

/// The scheduler's sweep, running alongside the clients: it may reap,
/// delete orphans and re-drive while uploads are in flight.
async fn sweeper(env: Rc<Env>) {
    for _ in 0..15 {
        let Ok(Ok(report)) = env.op(env.kiln.sweep()).await else { continue };
        for id in report.redrive {
            let (kiln, world, crash) = (env.kiln.clone(), env.world.clone(), env.crash);
            env.exec.spawn(async move {
                let _ = crashable(async move { kiln.drive(&id).await.map(|_| ()) }, &world, crash).await;
            });
        }
        for original in report.unconverted {
            if let Ok(Ok(Some(work))) = env.op(env.kiln.convert_unconverted(&original)).await {
                env.spawn_work(work);
            }
        }
    }
}

fn records(world: &MemWorld) -> Vec<UploadRecord> {
    world
        .state
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("upload/"))
        .map(|k| {
            let bytes = futures::executor::block_on(kiln_upload::StateStore::get(&world.state, &k)).unwrap().unwrap();
            serde_json::from_slice(&bytes).unwrap()
        })
        .collect()
}

/// The stored chunks of every unfinished upload add up to its offset.
fn check_chunks(world: &MemWorld, ledger: &Ledger) {
    for record in records(world) {
        let Some(tus) = &record.tus else { continue };
        if !matches!(record.status(), Status::Uploading | Status::Assembling) {
            continue;
        }
        let Some(data) = ledger.data.get(record.id()) else { continue };
        let mut stored = Vec::new();
        for chunk in &tus.chunks {
            let bytes = world.objects.bytes(&chunk.key).unwrap_or_else(|| panic!("chunk {} of {} is missing", chunk.key, record.id()));
            assert_eq!((chunk.offset, chunk.len), (stored.len() as u64, bytes.len() as u64), "chunk list of {}", record.id());
            stored.extend(bytes);
        }
        assert_eq!(stored.len() as u64, tus.offset, "upload {}: stored bytes vs offset", record.id());
        assert_eq!(stored, data[..stored.len()], "upload {}: stored bytes differ from the client's", record.id());
    }
}

/// A terminal manifest never changes: checked on the write log.
fn check_history(world: &MemWorld) {
    let mut terminal: BTreeMap<String, kiln_upload::Manifest> = BTreeMap::new();
    for (key, value) in world.state.writes() {
        if !key.starts_with("upload/") {
            continue;
        }
        let record: UploadRecord = serde_json::from_slice(&value).unwrap();
        if let Some(before) = terminal.get(&key)
            && before.original.etag == record.manifest.original.etag
        {
            assert_eq!(&record.manifest, before, "{key}: a terminal manifest changed");
        }
        if record.status().is_terminal() {
            terminal.insert(key, record.manifest);
        }
    }
}

/// Time passes and the sweep runs until nothing is left to do.
fn recover(env: &Env) {
    let world = &env.world;
    world.objects.set_faults(StoreFaults::default());
    world.converters.unreachable.set(0.0);
    let cfg = config();
    for round in 0..40 {
        world.clock.advance(cfg.lease_ms.max(cfg.lock_ms).max(cfg.orphan_grace_ms) + cfg.retry_ms);
        if round == 20 {
            world.clock.advance(cfg.expiry_ms);
        }
        let report = futures::executor::block_on(env.kiln.sweep()).unwrap();
        for id in &report.redrive {
            futures::executor::block_on(env.kiln.drive(id)).unwrap();
        }
        for original in &report.unconverted {
            if let Some(work) = futures::executor::block_on(env.kiln.convert_unconverted(original)).unwrap() {
                futures::executor::block_on(env.kiln.run(work)).unwrap();
            }
        }
    }
}

fn run_scenario(s: &Scenario) {
    // Ids order the sweep's work: fixed by the seed, a failing case replays.
    kiln_upload::ids::seed_for_tests(Some(s.seed));
    let mut world = MemWorld::new(s.seed, 0.5);
    world.objects.min_part_bytes = config().min_part_bytes;
    world.converters = kiln_upload::memory::MemConverters::new(world.objects.clone(), world.chaos.clone());
    world.objects.set_faults(StoreFaults { fail: s.fail, lose: s.lose });
    world.converters.unreachable.set(s.unreachable);
    if s.redis_like {
        world.state.set_quirks(StateQuirks { report_applied_as_failed: 0.5, absent_swap_unconditional: true });
    }
    let env = Rc::new(Env {
        kiln: Rc::new(world.instance(config())),
        world: world.clone(),
        exec: Exec::default(),
        ledger: Default::default(),
        crash: s.crash,
    });
    for n in 0..s.tus_clients {
        env.exec.spawn(tus_client(env.clone(), png(14 + n as u32, 14, n as u8)));
    }
    for n in 0..s.one_shots {
        env.exec.spawn(one_shot_client(env.clone(), png(12, 12 + n as u32, 40 + n as u8)));
    }
    for n in 0..s.events {
        env.exec.spawn(event_client(env.clone(), n, png(13, 12 + n as u32, 80 + n as u8)));
    }
    if s.sweeping {
        env.exec.spawn(sweeper(env.clone()));
    }
    let pick = Chaos::new(s.seed ^ 0x5eed, 0.0);
    let clock = world.clock.clone();
    let lock_ms = config().lock_ms;
    env.exec.run(&pick, || {
        // Mostly small steps; now and then a stall as long as a lock, so
        // locks and leases expire under running operations.
        clock.advance(if pick.chance(0.03) { lock_ms } else { pick.next() % 40 });
        check_chunks(&world, &env.ledger.borrow());
    });
    check_history(&world);
    recover(&env);
    check_history(&world);

    let ledger = env.ledger.borrow();
    if std::env::var_os("KILN_PROPTEST_STATS").is_some() {
        let statuses: Vec<_> = records(&world).iter().map(|r| (r.status(), r.manifest.attempts)).collect();
        eprintln!("{s:?}: finished {} of {}, deleted {}, state writes {}, records {statuses:?}",
            ledger.finished.len(), ledger.data.len(), ledger.deleted.len(), world.state.writes().len());
    }
    for record in records(&world) {
        assert!(record.status().is_terminal(), "after recovery: {:#?}", record);
    }
    for (id, _) in ledger.finished.iter().filter(|(_, f)| **f) {
        let record = records(&world).into_iter().find(|r| r.id() == id).unwrap_or_else(|| panic!("finished upload {id} has no record"));
        assert_eq!(record.status(), Status::Done, "{record:#?}");
        let original = world.objects.bytes(&record.manifest.original.key).expect("the original is stored");
        assert_eq!(&original, &ledger.data[id], "upload {id}: the original differs from what was sent");
        assert_eq!(record.manifest.original.sha256, common::sha256_hex(&original));
    }
    for id in &ledger.deleted {
        assert!(records(&world).iter().all(|r| r.id() != id), "terminated upload {id} still has a record");
    }
    assert!(world.objects.keys(keys::UPLOADS_PREFIX).is_empty(), "left in flight: {:?}", world.objects.keys(keys::UPLOADS_PREFIX));
    assert!(world.objects.multiparts().is_empty(), "multipart uploads left: {:?}", world.objects.multiparts());
}

/// 256 cases by default (about a second); `KILN_PROPTEST_CASES` for more.
fn cases() -> u32 {
    std::env::var("KILN_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn uploads_survive_any_interleaving_of_crashes_and_faults(s in scenarios()) {
        run_scenario(&s);
    }
}

#[test]
fn a_calm_run_finishes_everything_on_the_first_attempt() {
    let s = Scenario { seed: 7, tus_clients: 3, one_shots: 1, events: 1, crash: 0.0, fail: 0.0, lose: 0.0, unreachable: 0.0, redis_like: false, sweeping: true };
    run_scenario(&s);
}

/// The case that found a record left `converting` (about one case in 9,000
/// then; ids are now fixed by the seed, so it replays): a one-shot upload
/// stored its marker; its record write was held up by a lock-long stall
/// (5 s) past the orphan grace the test used then (2 s, with no request
/// limit); a sweep found no record and deleted the marker; the record
/// write landed; the instance died before storing the original. Nothing
/// pointed at the record any more, so no sweep ever re-drove it. The logic
/// now handles every variant in which the creation or the sweep lives on
/// (recovery.rs, from `a_creation_whose_marker_was_swept_before_its_record_landed_puts_it_back`);
/// this one no design can, and the request limit rules it out as a
/// platform does (module docs). Under today's model the seed no longer
/// reaches the race: it stays as a replay of the scenario.
#[test]
fn seed_a_one_shot_record_written_after_the_sweep_took_its_marker() {
    let s = Scenario { seed: 6091346291903688450, tus_clients: 2, one_shots: 1, events: 0, crash: 0.02604055958618926, fail: 0.07572886881594776, lose: 0.06156578848941355, unreachable: 0.0, redis_like: true, sweeping: true };
    run_scenario(&s);
}
