//! The run lock: `.htl.lock` in a result folder, held by the one `htl run` writing to it.
//!
//! The lock records the owner's pid, host, start time (RFC 3339 for people; the kernel's
//! process start time and boot id for the check) and executable. On the same host a lock is
//! live only while a process with that pid exists, was started at that same kernel time in
//! the same boot, and runs the same executable; anything else (a dead process, a reused pid,
//! a reboot) is stale and taken over with a one-line note. A lock written on another host
//! cannot be checked from here (a shared folder): it is refused, naming the host.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{StoreError, LOCK};

/// Who holds a lock (the content of `.htl.lock`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockOwner {
    /// Process id.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// When the process took the lock (RFC 3339).
    pub started: String,
    /// The process's start time in clock ticks after boot (`/proc/<pid>/stat`, field 22).
    pub proc_start: Option<u64>,
    /// `/proc/sys/kernel/random/boot_id` of the host when the lock was taken.
    pub boot_id: Option<String>,
    /// The owner's executable.
    pub exe: Option<String>,
}

/// This machine's host name.
pub fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn boot_id() -> Option<String> {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
}

/// Field 22 of `/proc/<pid>/stat`: the process start time in clock ticks after boot.
fn proc_start(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count from the last `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn proc_exe(pid: u32) -> Option<String> {
    let p = fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let s = p.to_string_lossy();
    Some(s.strip_suffix(" (deleted)").unwrap_or(&s).to_string())
}

impl LockOwner {
    /// The current process.
    pub fn current() -> Self {
        let pid = std::process::id();
        Self {
            pid,
            host: host_name(),
            started: crate::util::now_rfc3339(),
            proc_start: proc_start(pid),
            boot_id: boot_id(),
            exe: proc_exe(pid),
        }
    }

    /// Why this owner no longer holds the lock (`None` = it may still run). Only meaningful
    /// on the owner's host.
    fn stale_reason(&self) -> Option<String> {
        if self.boot_id.is_some() && self.boot_id != boot_id() {
            return Some("the machine rebooted since".into());
        }
        if !Path::new(&format!("/proc/{}", self.pid)).exists() {
            return Some("that process has exited".into());
        }
        if let (Some(want), Some(now)) = (self.proc_start, proc_start(self.pid)) {
            if want != now {
                return Some("the pid now belongs to a newer process".into());
            }
        }
        if let (Some(want), Some(now)) = (&self.exe, proc_exe(self.pid)) {
            if *want != now {
                return Some(format!("the pid now runs {now}"));
            }
        }
        None
    }
}

/// An exclusive lock on a result folder; released (the file removed) when dropped.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock of the result folder `root` (created if missing). Returns the lock and,
    /// when a stale lock was taken over, a one-line note saying so.
    ///
    /// # Errors
    /// [`StoreError::Locked`] while another live `htl run` on this host holds it,
    /// [`StoreError::LockedElsewhere`] when a run on another host holds it, and
    /// [`StoreError::Write`] when the folder or the lock file cannot be created.
    pub fn acquire(root: &Path) -> Result<(Self, Option<String>), StoreError> {
        fs::create_dir_all(root).map_err(|error| StoreError::Write {
            path: root.to_path_buf(),
            error,
        })?;
        let path = root.join(LOCK);
        let mut note = None;
        for _ in 0..3 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    let me = serde_json::to_string(&LockOwner::current()).unwrap_or_default();
                    f.write_all(me.as_bytes())
                        .map_err(|error| StoreError::Write {
                            path: path.clone(),
                            error,
                        })?;
                    return Ok((Self { path }, note));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = fs::read_to_string(&path).unwrap_or_default();
                    let why = check_owner(root, &path, &text)?;
                    note = Some(format!(
                        "note: took over the stale lock {} ({why})",
                        path.display()
                    ));
                    match fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(error) => return Err(StoreError::Write { path, error }),
                    }
                }
                Err(error) => return Err(StoreError::Write { path, error }),
            }
        }
        Err(StoreError::Write {
            path,
            error: std::io::Error::other("another process keeps recreating the lock"),
        })
    }
}

/// `Ok(reason)` when the lock text describes a stale owner, the refusal otherwise.
fn check_owner(root: &Path, path: &Path, text: &str) -> Result<String, StoreError> {
    let locked = |pid: u32, started: &str| StoreError::Locked {
        root: root.to_path_buf(),
        pid,
        started: started.to_string(),
    };
    if let Ok(owner) = serde_json::from_str::<LockOwner>(text) {
        if owner.host != host_name() {
            return Err(StoreError::LockedElsewhere {
                root: root.to_path_buf(),
                lock: path.to_path_buf(),
                pid: owner.pid,
                host: owner.host,
                started: owner.started,
            });
        }
        return match owner.stale_reason() {
            Some(why) => Ok(format!(
                "pid {} started {}: {why}",
                owner.pid, owner.started
            )),
            None => Err(locked(owner.pid, &owner.started)),
        };
    }
    // A lock of the first release holds only a pid: live while that pid runs an `htl…` binary.
    if let Ok(pid) = text.trim().parse::<u32>() {
        let exe = proc_exe(pid);
        let is_htl = exe.as_deref().is_some_and(|e| {
            Path::new(e)
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("htl"))
        });
        if Path::new(&format!("/proc/{pid}")).exists() && (is_htl || exe.is_none()) {
            return Err(locked(pid, "unknown"));
        }
        return Ok(format!("pid {pid}: no `htl` process has that pid"));
    }
    Ok("unreadable lock file".into())
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}
