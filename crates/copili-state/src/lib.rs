//! The persistent run state of a pipeline: each container's last result, the history of runs
//! and the due times of service containers, kept as one JSON file per pipeline in a state
//! directory (by default `.copili/` beside the pipeline file; the caller chooses).
//!
//! Saving is atomic: the new state is written to a temporary file in the same directory,
//! flushed to disk, renamed over the old file, and the directory is flushed too, so that a
//! crash at any moment leaves either the old or the new complete file. Loading never discards
//! a file it cannot read: that is an error naming the file.

mod state;

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use crate::state::{
    ContainerRecord, ContainerStatus, PipelineState, RunCommand, RunRecord, ServiceRecord, HISTORY_LIMIT,
    SCHEMA_VERSION,
};
/// The date-time library of this API (`Timestamp`, `TimeZone`), for callers to use the same version.
pub use jiff;

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The state directory could not be created.
    #[error("cannot create the state directory {}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// The state file exists but could not be read.
    #[error("cannot read the state file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// The state file is not valid state JSON.
    #[error("the state file {} is corrupt", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// The state file was written by a copili with another schema.
    #[error("the state file {} has schema version {found}; this copili reads version {SCHEMA_VERSION}", path.display())]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u64,
    },
    /// The state file could not be written.
    #[error("cannot write the state file {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// The operating system gave no random bytes (for the state's salt).
    #[error("cannot get random bytes from the operating system")]
    Random {
        /// Its reason.
        #[source]
        source: getrandom::Error,
    },
}

/// A directory of state files, one per pipeline identity.
#[derive(Debug, Clone)]
pub struct StateStore {
    dir: PathBuf,
}

impl StateStore {
    /// Opens the state directory `dir`, creating it (private to the user on Unix) if needed.
    pub fn open(dir: impl Into<PathBuf>) -> Result<StateStore, StateError> {
        let dir = dir.into();
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir).map_err(|source| StateError::CreateDir { path: dir.clone(), source })?;
        Ok(StateStore { dir })
    }

    /// The state directory `dir`, for reading only: nothing is created (`load` of a missing
    /// directory gives the empty state).
    pub fn read_only(dir: impl Into<PathBuf>) -> StateStore {
        StateStore { dir: dir.into() }
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The state file of the pipeline `identity`: `<identity>.json` with every character
    /// outside `[A-Za-z0-9_.-]` replaced by `_`. When that changed the identity (or it was
    /// empty, started with `.` or was longer than 100 characters, then cut), a short hash of
    /// it is appended, so that `a/b` and `a_b` do not share a file.
    pub fn path(&self, identity: &str) -> PathBuf {
        const MAX_NAME: usize = 100;
        let mut name: String =
            identity.chars().map(|c| if c.is_ascii_alphanumeric() || "_.-".contains(c) { c } else { '_' }).collect();
        if name != identity || name.is_empty() || name.starts_with('.') || name.len() > MAX_NAME {
            // Only ASCII is left, so any index is a character boundary.
            name.truncate(MAX_NAME);
            name.push('-');
            name.push_str(&spec_hash(identity.as_bytes())[..12]);
        }
        self.dir.join(format!("{name}.json"))
    }

    /// The state of `identity`; empty state if it has no file yet.
    pub fn load(&self, identity: &str) -> Result<PipelineState, StateError> {
        let path = self.path(identity);
        match fs::read(&path) {
            Ok(bytes) => parse(&path, &bytes),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(PipelineState::default()),
            Err(source) => Err(StateError::Read { path, source }),
        }
    }

    /// Replaces the state of `identity` atomically (see the crate documentation).
    pub fn save(&self, identity: &str, state: &PipelineState) -> Result<(), StateError> {
        let path = self.path(identity);
        let write_error = |source| StateError::Write { path: path.clone(), source };
        let mut json = serde_json::to_vec_pretty(state).map_err(|error| write_error(io::Error::other(error)))?;
        json.push(b'\n');
        // Same directory as the target, so that the rename cannot cross file systems; the
        // file is 0600 and is removed if anything fails before the rename.
        let mut temporary =
            tempfile::Builder::new().prefix(".state-").suffix(".tmp").tempfile_in(&self.dir).map_err(write_error)?;
        temporary.write_all(&json).map_err(write_error)?;
        temporary.as_file().sync_all().map_err(write_error)?;
        temporary.persist(&path).map_err(|error| write_error(error.error))?;
        sync_dir(&self.dir).map_err(write_error)
    }
}

/// Flushes a directory's entries (the rename) to disk. Windows cannot open directories and
/// makes renames durable itself.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn parse(path: &Path, bytes: &[u8]) -> Result<PipelineState, StateError> {
    /// Only the version, read first, so that a file from another schema is reported as such
    /// and not as corrupt.
    #[derive(serde::Deserialize)]
    struct Versioned {
        version: u64,
    }
    let corrupt = |source| StateError::Corrupt { path: path.to_path_buf(), source };
    let Versioned { version } = serde_json::from_slice(bytes).map_err(corrupt)?;
    if version != u64::from(SCHEMA_VERSION) {
        return Err(StateError::UnsupportedVersion { path: path.to_path_buf(), found: version });
    }
    serde_json::from_slice(bytes).map_err(corrupt)
}

/// A stable hash of `bytes` as 64 lowercase hex digits (SHA-256).
pub fn spec_hash(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The hash of a container's description: SHA-256 of `description` serialized canonically —
/// compact JSON with every object's keys sorted, so that neither the order of fields in the
/// code nor that of keys in the file changes it. The caller leaves secret values out of the
/// description (or puts their [`salted_hash`] in), so the state holds none.
pub fn canonical_hash(description: &serde_json::Value) -> String {
    spec_hash(canonical(description).to_string().as_bytes())
}

/// `value` with the keys of every object sorted.
fn canonical(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by_key(|(key, _)| *key);
            Value::Object(entries.into_iter().map(|(key, value)| (key.clone(), canonical(value))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// The hash of a secret value with the state's salt ([`PipelineState::hash_salt`]): it changes
/// when the value does, but cannot be looked up in a table of hashes of common values, nor
/// compared between two state files.
pub fn salted_hash(salt: &str, value: &[u8]) -> String {
    let mut hasher = Sha256::new();
    // The salt's length first: salt and value cannot trade bytes.
    hasher.update((salt.len() as u64).to_be_bytes());
    hasher.update(salt.as_bytes());
    hasher.update(value);
    hex(&hasher.finalize())
}

/// Lowercase hex digits of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    })
}

#[cfg(test)]
mod tests;
