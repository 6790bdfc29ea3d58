//! The result store: the one type that knows the on-disk layout.
//!
//! ```text
//! <root>/manifest.json  cells.csv  summary.csv  summary.md  .htl.lock
//! <root>/cells/<id>/config.yaml  metrics.json  curves.csv  cell.json
//!                   [grad_stats.csv] [predictions.csv] [failed.json]
//! ```
//! Every file is written to a temporary file in the same folder and renamed into place, so a
//! killed run never leaves a half-written result. `metrics.json` is written last: its presence
//! marks a finished cell.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically (temp file + rename in the same folder).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)
}

/// Owns an experiment's result folder.
#[derive(Debug, Clone)]
pub struct ResultStore {
    root: PathBuf,
}

impl ResultStore {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// A cell's folder.
    pub fn cell_dir(&self, id: &str) -> PathBuf {
        self.root.join("cells").join(id)
    }
    /// A file in a cell's folder.
    pub fn cell_file(&self, id: &str, name: &str) -> PathBuf {
        self.cell_dir(id).join(name)
    }
    /// A top-level file.
    pub fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
    /// Whether a cell finished (its `metrics.json` exists).
    pub fn is_finished(&self, id: &str) -> bool {
        self.cell_file(id, "metrics.json").is_file()
    }
    /// Writes a cell file atomically.
    pub fn write_cell(&self, id: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        write_atomic(&self.cell_file(id, name), bytes)
    }
    /// Writes a top-level file atomically.
    pub fn write_top(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        write_atomic(&self.file(name), bytes)
    }
    /// Removes a cell's outputs (for `--force` and before a retry).
    pub fn clear_cell(&self, id: &str) -> std::io::Result<()> {
        let d = self.cell_dir(id);
        if d.exists() {
            fs::remove_dir_all(d)?;
        }
        Ok(())
    }
    /// Reads a cell file.
    pub fn read_cell(&self, id: &str, name: &str) -> Option<String> {
        fs::read_to_string(self.cell_file(id, name)).ok()
    }
}

/// An exclusive lock on a result folder: `.htl.lock` holding the owner's pid.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock, or explains who holds it. A lock whose process is gone is taken over.
    pub fn acquire(root: &Path) -> Result<Self, String> {
        fs::create_dir_all(root)
            .map_err(|e| format!("cannot create result folder {}: {e}", root.display()))?;
        let path = root.join(".htl.lock");
        for _ in 0..2 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    let _ = write!(f, "{}", std::process::id());
                    return Ok(Self { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let pid = fs::read_to_string(&path).unwrap_or_default();
                    let pid = pid.trim();
                    let alive = !pid.is_empty() && Path::new(&format!("/proc/{pid}")).exists();
                    if alive && pid != std::process::id().to_string() {
                        return Err(format!(
                            "another `htl run` (pid {pid}) is writing to {}; wait for it to finish, or delete {} if that process is gone",
                            root.display(),
                            path.display()
                        ));
                    }
                    let _ = fs::remove_file(&path);
                }
                Err(e) => return Err(format!("cannot create lock file {}: {e}", path.display())),
            }
        }
        Err(format!("cannot take the lock {}", path.display()))
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a/b.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "two");
        let names: Vec<_> = fs::read_dir(d.path().join("a"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn second_lock_is_refused_while_the_first_lives() {
        let d = tempfile::tempdir().unwrap();
        let _l = RunLock::acquire(d.path()).unwrap();
        // Pretend another live process (pid 1) holds it.
        fs::write(d.path().join(".htl.lock"), "1").unwrap();
        let e = RunLock::acquire(d.path()).unwrap_err();
        assert!(e.contains("another `htl run` (pid 1) is writing to"), "{e}");
        // A dead pid is taken over.
        fs::write(d.path().join(".htl.lock"), "999999999").unwrap();
        assert!(RunLock::acquire(d.path()).is_ok());
    }
}
