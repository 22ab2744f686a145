//! The notification spool: a folder of event files that is the queue between
//! the S3 requests (which append) and the delivery task (which removes an
//! event once the webhook accepted it).
//!
//! Each event is one file `event-<SEQUENCER>.json` holding the exact body to
//! POST, written with [`durable::write_atomically`]. The sequencer (16 hex
//! digits) is handed out and its file renamed into place under one lock, so
//! files appear in sequencer order and sorting the names gives the order of
//! creation. On startup the sequencer resumes after the highest spooled one.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::{Mutex, Notify};

use crate::durable::{self, blocking};
use crate::event::{Sequencer, sequencer_hex};

const PREFIX: &str = "event-";
const SUFFIX: &str = ".json";
/// Suffix given to a spooled file that is not valid JSON (kept, never sent).
const CORRUPT_SUFFIX: &str = ".corrupt";

/// One spooled event, identified by its sequencer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry(u64);

impl Entry {
    fn file_name(self) -> String {
        format!("{PREFIX}{}{SUFFIX}", sequencer_hex(self.0))
    }

    pub(crate) fn parse(name: &str) -> Option<Self> {
        let hex = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
        (hex.len() == 16).then(|| u64::from_str_radix(hex, 16).ok()).flatten().map(Self)
    }
}

impl std::fmt::Display for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.file_name())
    }
}

/// The on-disk event queue.
#[derive(Debug)]
pub struct Spool {
    dir: Arc<Path>,
    /// Held from handing out a sequencer until its file is in place.
    sequencer: Arc<Mutex<Sequencer>>,
    /// Signalled after each append, to wake the delivery task.
    appended: Notify,
}

impl Spool {
    /// Opens the (already prepared) spool folder; the sequencer resumes after
    /// the highest event found in it.
    pub fn open(dir: PathBuf) -> anyhow::Result<Self> {
        let last = pending_in(&dir)?.last().map(|e| e.0);
        Ok(Self {
            dir: dir.into(),
            sequencer: Arc::new(Mutex::new(Sequencer::after(last))),
            appended: Notify::new(),
        })
    }

    /// The spool folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Durably appends the event whose body `body_for(sequencer)` returns.
    /// Once this returns `Ok`, the event survives a crash. The file is
    /// written even if this future is dropped halfway.
    pub async fn append(&self, body_for: impl FnOnce(&str) -> Vec<u8>) -> anyhow::Result<Entry> {
        let guard = Arc::clone(&self.sequencer).lock_owned().await;
        let entry = Entry(guard.next());
        let body = body_for(&sequencer_hex(entry.0));
        let dir = Arc::clone(&self.dir);
        blocking(move || {
            let written = durable::write_atomically(&dir, &entry.file_name(), &body);
            drop(guard);
            written
        })
        .await
        .context("writing the event to the notification spool")?;
        self.appended.notify_one();
        Ok(entry)
    }

    /// The spooled events, oldest first.
    pub async fn pending(&self) -> anyhow::Result<Vec<Entry>> {
        let dir = Arc::clone(&self.dir);
        blocking(move || pending_in(&dir)).await
    }

    /// Waits until something was appended (since the last call) or `limit` passed.
    pub async fn wait_for_append(&self, limit: Duration) {
        let _ = tokio::time::timeout(limit, self.appended.notified()).await;
    }

    /// The body of a spooled event; `None` if its file is gone.
    pub async fn read(&self, entry: Entry) -> anyhow::Result<Option<Vec<u8>>> {
        let path = self.dir.join(entry.file_name());
        match tokio::task::spawn_blocking(move || std::fs::read(&path)).await {
            Ok(Ok(body)) => Ok(Some(body)),
            Ok(Err(err)) if err.kind() == ErrorKind::NotFound => Ok(None),
            Ok(Err(err)) => Err(err).with_context(|| format!("reading spooled {entry}")),
            Err(err) => Err(err).context("file task panicked"),
        }
    }

    /// Removes a delivered event.
    pub async fn remove(&self, entry: Entry) -> anyhow::Result<()> {
        let dir = Arc::clone(&self.dir);
        blocking(move || durable::remove_durably(&dir, &entry.file_name())).await
    }

    /// Renames an unreadable event to `<name>.corrupt`, taking it out of the queue.
    pub async fn quarantine(&self, entry: Entry) -> anyhow::Result<PathBuf> {
        let from = self.dir.join(entry.file_name());
        let to = self.dir.join(format!("{entry}{CORRUPT_SUFFIX}"));
        let dest = to.clone();
        blocking(move || std::fs::rename(&from, &to).with_context(|| format!("renaming {}", from.display()))).await?;
        Ok(dest)
    }
}

/// The events spooled in `dir`, oldest first (an absent folder holds none).
pub fn pending_in(dir: &Path) -> anyhow::Result<Vec<Entry>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut entries: Vec<Entry> = durable::file_names(dir)?.iter().filter_map(|n| Entry::parse(n)).collect();
    entries.sort_unstable();
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_like_sequencers() {
        let e = Entry(0x0018_F2A3_B4C5_D6E7);
        assert_eq!(e.file_name(), "event-0018F2A3B4C5D6E7.json");
        assert_eq!(Entry::parse(&e.file_name()), Some(e));
        assert_eq!(Entry::parse(".tmp-event-0018F2A3B4C5D6E7.json"), None);
        assert_eq!(Entry::parse("event-0018F2A3B4C5D6E7.json.corrupt"), None);
        assert_eq!(Entry::parse("event-18F2.json"), None);
        assert!(Entry(9).file_name() < Entry(10).file_name());
    }

    #[tokio::test]
    async fn appends_in_order_and_resumes_after_the_last() {
        let dir = std::env::temp_dir().join(format!("kiln-store-spool-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let spool = Spool::open(dir.clone()).unwrap();
        let a = spool.append(|seq| seq.as_bytes().to_vec()).await.unwrap();
        let b = spool.append(|seq| seq.as_bytes().to_vec()).await.unwrap();
        assert!(a < b);
        assert_eq!(spool.pending().await.unwrap(), vec![a, b]);
        assert_eq!(spool.read(a).await.unwrap().unwrap(), sequencer_hex(a.0).into_bytes());

        let reopened = Spool::open(dir.clone()).unwrap();
        let c = reopened.append(|_| b"{}".to_vec()).await.unwrap();
        assert!(c > b);
        reopened.remove(a).await.unwrap();
        assert_eq!(reopened.read(a).await.unwrap(), None);
        reopened.quarantine(b).await.unwrap();
        assert_eq!(reopened.pending().await.unwrap(), vec![c]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
