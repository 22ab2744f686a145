//! Crash-safe small files: the building block of the notification spool and
//! the multipart upload registry.
//!
//! A file is written to a hidden temporary name in the same folder, fsynced,
//! renamed into place and the folder fsynced, so after a crash the file is
//! either there whole or not at all. These are blocking calls; async code
//! runs them with `tokio::task::spawn_blocking` (see [`blocking`]).

use std::fs::{self, File};
use std::io::{ErrorKind, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, ensure};

/// Prefix of temporary files; a leftover one is a write that never completed.
const TMP_PREFIX: &str = ".tmp-";

/// Writes `bytes` to `dir/name` atomically and durably.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = dir.join(format!("{TMP_PREFIX}{name}"));
    let dest = dir.join(name);
    let mut file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(bytes).with_context(|| format!("writing {}", tmp.display()))?;
    file.sync_all().with_context(|| format!("fsyncing {}", tmp.display()))?;
    drop(file);
    fs::rename(&tmp, &dest).with_context(|| format!("renaming {} to {}", tmp.display(), dest.display()))?;
    sync_dir(dir)
}

/// Removes `dir/name` durably; a file that is already gone is not an error.
pub fn remove_durably(dir: &Path, name: &str) -> anyhow::Result<()> {
    let path = dir.join(name);
    match fs::remove_file(&path) {
        Ok(()) => sync_dir(dir),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err).with_context(|| format!("removing {}", path.display())),
    }
}

/// Flushes a folder's entries (creations, renames, removals) to disk.
fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("fsyncing folder {}", dir.display()))?;
    Ok(())
}

/// Creates `dir` if missing, removes temporary files a crash left in it, and
/// returns its canonical path, which must not lie inside the store `root`.
pub fn prepare_state_dir(dir: &Path, root: &Path, what: &str) -> anyhow::Result<PathBuf> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {what} folder {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {what} folder {}", dir.display()))?;
    ensure!(
        !dir.starts_with(root),
        "the {what} folder {} must not be inside the store root {} (it would show up as a bucket or as objects)",
        dir.display(),
        root.display()
    );
    for name in file_names(&dir)?.into_iter().filter(|n| n.starts_with(TMP_PREFIX)) {
        let path = dir.join(&name);
        fs::remove_file(&path).with_context(|| format!("removing leftover {}", path.display()))?;
    }
    Ok(dir)
}

/// The names of the plain files in `dir` (not sorted).
pub fn file_names(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if let (true, Some(name)) = (is_file, entry.file_name().to_str()) {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// The default state folder for `root`: a sibling named `<root><suffix>`,
/// e.g. `.kiln/store.notify` for the root `.kiln/store`.
pub fn sibling_dir(root: &Path, suffix: &str) -> anyhow::Result<PathBuf> {
    let name = root
        .file_name()
        .with_context(|| format!("the store root {} has no folder name to derive state folders from", root.display()))?;
    let mut name = name.to_os_string();
    name.push(suffix);
    Ok(root.with_file_name(name))
}

/// Runs blocking file work off the async threads.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(work).await.context("file task panicked")?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kiln-store-durable-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn writes_whole_files_and_cleans_leftovers() {
        let dir = temp_dir("write");
        write_atomically(&dir, "a.json", b"{}").unwrap();
        fs::write(dir.join(".tmp-b.json"), b"{").unwrap();
        let root = dir.join("root");
        let state = prepare_state_dir(&dir, &root, "test").unwrap();
        assert_eq!(file_names(&state).unwrap(), vec!["a.json".to_owned()]);
        assert_eq!(fs::read(state.join("a.json")).unwrap(), b"{}");
        remove_durably(&state, "a.json").unwrap();
        remove_durably(&state, "a.json").unwrap();
        assert!(file_names(&state).unwrap().is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn refuses_state_inside_the_root() {
        let dir = temp_dir("inside");
        let root = dir.canonicalize().unwrap();
        assert!(prepare_state_dir(&root.join(".notify"), &root, "spool").is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sibling_of_the_root() {
        let got = sibling_dir(Path::new("/x/.kiln/store"), ".notify").unwrap();
        assert_eq!(got, PathBuf::from("/x/.kiln/store.notify"));
        assert!(sibling_dir(Path::new("/"), ".notify").is_err());
    }
}
