//! One run per pipeline identity at a time: an exclusive file lock (`fs2`) in a per-user
//! runtime directory. The operating system releases it when the holder dies, so a crashed run
//! never blocks the next one; the holder's pid is written into the file for the message.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fs2::FileExt;

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error("pipeline `{identity}` is already running (pid {pid}); wait for it or stop it")]
    Held {
        /// The pipeline identity.
        identity: String,
        /// The holder's pid as it wrote it, or `unknown`.
        pid: String,
    },
    /// The lock file could not be created or read.
    #[error("cannot use the lock file `{}`: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// A held lock; released when dropped (or when the process ends, however it ends).
#[derive(Debug)]
pub struct PipelineLock {
    file: File,
    path: PathBuf,
}

impl PipelineLock {
    /// The per-user directory for locks: `$XDG_RUNTIME_DIR/copili`, else a directory in the
    /// system's temporary directory named after the user id.
    pub fn default_dir() -> PathBuf {
        match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
            Some(dir) => PathBuf::from(dir).join("copili"),
            None => {
                #[cfg(unix)]
                let uid = {
                    use std::os::unix::fs::MetadataExt;
                    std::fs::metadata("/proc/self").map(|m| m.uid().to_string()).unwrap_or_else(|_| "user".into())
                };
                #[cfg(not(unix))]
                let uid = "user".to_string();
                std::env::temp_dir().join(format!("copili-{uid}"))
            }
        }
    }

    /// Takes the lock of `identity` in `dir` at once, or says who holds it.
    pub fn acquire(dir: &Path, identity: &str) -> Result<PipelineLock, LockError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| LockError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
        let path = dir.join(format!("{}.lock", crate::runner::engine_name(&[identity])));
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io(&path))?;
        if file.try_lock_exclusive().is_err() {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim();
            return Err(LockError::Held {
                identity: identity.to_string(),
                pid: if pid.is_empty() { "unknown".into() } else { pid.to_string() },
            });
        }
        file.set_len(0).map_err(io(&path))?;
        file.seek(SeekFrom::Start(0)).map_err(io(&path))?;
        writeln!(file, "{}", std::process::id()).map_err(io(&path))?;
        file.flush().map_err(io(&path))?;
        Ok(PipelineLock { file, path })
    }

    /// The pid of the process holding the lock of `identity` in `dir`, if one does; found
    /// without touching the lock (a try-lock could make a run starting at that moment refuse),
    /// in the kernel's list of file locks. `None` where there is no such list (not Linux).
    pub fn holder(dir: &Path, identity: &str) -> Option<u32> {
        let path = dir.join(format!("{}.lock", crate::runner::engine_name(&[identity])));
        let metadata = std::fs::metadata(path).ok()?;
        let locks = std::fs::read_to_string("/proc/locks").ok()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            holder_in(&locks, metadata.dev(), metadata.ino())
        }
        #[cfg(not(unix))]
        {
            let _ = (metadata, locks);
            None
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PipelineLock {
    fn drop(&mut self) {
        let _ = FileExt::unlock(&self.file);
    }
}

/// The pid holding a `flock` on the file `(dev, ino)` in `/proc/locks`' text, whose lines
/// read `1: FLOCK  ADVISORY  WRITE 4242 fe:00:893088 0 EOF` (device major:minor in hex).
fn holder_in(locks: &str, dev: u64, ino: u64) -> Option<u32> {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (kind, pid, file) = (fields.get(1)?, fields.get(4)?, fields.get(5)?);
        let mut parts = file.split(':');
        let (maj, min, inode) = (parts.next()?, parts.next()?, parts.next()?);
        let matches = *kind == "FLOCK"
            && u64::from_str_radix(maj, 16).ok()? == major
            && u64::from_str_radix(min, 16).ok()? == minor
            && inode.parse::<u64>().ok()? == ino;
        if matches {
            pid.parse().ok()
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_is_found_in_the_kernels_list_without_taking_the_lock() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(PipelineLock::holder(dir.path(), "nightly"), None, "no lock file yet");
        let lock = PipelineLock::acquire(dir.path(), "nightly").expect("free");
        if cfg!(target_os = "linux") {
            assert_eq!(PipelineLock::holder(dir.path(), "nightly"), Some(std::process::id()));
        }
        assert_eq!(PipelineLock::holder(dir.path(), "other"), None);
        drop(lock);
        assert_eq!(PipelineLock::holder(dir.path(), "nightly"), None, "released");
        // Looking did not take it.
        PipelineLock::acquire(dir.path(), "nightly").expect("still free");
    }

    #[test]
    fn proc_locks_lines_are_matched_by_device_and_inode() {
        let locks = "1: OFDLCK ADVISORY  WRITE -1 fe:00:1189124 0 EOF\n\
                     2: FLOCK  ADVISORY  WRITE 32272 fe:00:893088 0 EOF\n\
                     3: POSIX  ADVISORY  WRITE 811 fe:01:893089 0 EOF\n";
        let dev = 0xfe << 8;
        assert_eq!(holder_in(locks, dev, 893_088), Some(32272));
        assert_eq!(holder_in(locks, dev, 1_189_124), None, "not a flock");
        assert_eq!(holder_in(locks, dev | 1, 893_088), None, "another device");
        assert_eq!(holder_in(locks, (0xfe << 8) | 1, 893_089), None, "a POSIX lock");
        assert_eq!(holder_in("garbage\n\n", dev, 1), None);
    }

    #[test]
    fn a_second_holder_is_refused_with_the_pid_and_the_lock_frees_on_drop() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = PipelineLock::acquire(dir.path(), "nightly").expect("free");
        match PipelineLock::acquire(dir.path(), "nightly") {
            Err(LockError::Held { pid, .. }) => assert_eq!(pid, std::process::id().to_string()),
            other => panic!("expected Held, got {other:?}"),
        }
        // Another pipeline is independent.
        let other = PipelineLock::acquire(dir.path(), "other").expect("independent");
        drop(first);
        PipelineLock::acquire(dir.path(), "nightly").expect("free again");
        drop(other);
    }
}
