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

#[cfg(test)]
mod tests {
    use super::*;

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
