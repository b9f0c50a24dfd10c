//! `copili bundle save`: one tar archive holding every image a pipeline needs (one engine
//! `save` of all of them, so shared layers are there once), the pipeline file, its lock file,
//! the env file if asked, and a manifest with the sha256 of each of them and copili's version.
//!
//! Layout (in this order; every entry a plain file, mode 0644, owner 0, time 0):
//!
//! ```text
//! pipeline/FILE              the pipeline file
//! pipeline/FILE.lock         its lock file
//! pipeline/.env              with --include-env-file only
//! images.tar                 `docker save` / `podman save --multi-image-archive`
//! manifest.json              copili_bundle (format), copili_version, engine, files (sha256, size), images, pipeline
//! manifest.json.sha256       the sha256 of manifest.json, as `sha256sum` writes it
//! ```
//!
//! The archive is written to a temporary file beside the output and renamed when complete:
//! an interrupted save leaves no bundle (and the temporary files are removed).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::engine::{Engine, EngineError};

use super::lockfile::LockFile;

/// The version of the bundle format this copili writes and reads.
pub const BUNDLE_FORMAT: u32 = 1;

/// The images' archive inside a bundle.
pub const IMAGES_ENTRY: &str = "images.tar";
/// The manifest inside a bundle.
pub const MANIFEST_ENTRY: &str = "manifest.json";
/// The manifest's own checksum inside a bundle.
pub const MANIFEST_SUM_ENTRY: &str = "manifest.json.sha256";
/// The directory of the pipeline's files inside a bundle.
pub const PIPELINE_DIR: &str = "pipeline";

/// A bundle's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The format version ([`BUNDLE_FORMAT`]).
    pub copili_bundle: u32,
    /// The copili that wrote it.
    pub copili_version: String,
    /// The engine the images were saved from (`docker`, `podman`).
    pub engine: String,
    /// Every other entry of the archive, with its sha256 and size.
    pub files: BTreeMap<String, FileSum>,
    /// The images, by reference.
    pub images: BTreeMap<String, BundledImage>,
    /// The pipeline's files.
    pub pipeline: PipelineFiles,
}

/// The checksum of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSum {
    /// Hex sha256 of its content.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
}

/// An image in a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundledImage {
    /// The registry digest, if locked with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The image id.
    pub id: String,
    /// Its size as the saving engine counted it.
    pub size: u64,
}

/// The names of the pipeline's files in a bundle (under [`PIPELINE_DIR`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineFiles {
    /// The env file's name (`.env`), when it was included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_file: Option<String>,
    /// The pipeline file's name.
    pub file: String,
    /// The lock file's name.
    pub lock: String,
    /// The pipeline's identity.
    pub name: String,
}

/// Why a bundle could not be written, checked or loaded.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Reading or writing a file failed.
    #[error("cannot {verb} {path}: {source}")]
    Io {
        /// What was being done (`write`, `read`, …).
        verb: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not enough free space for the archive.
    #[error("not enough free space in {dir}: about {} needed, {} available", size(*needed), size(*available))]
    NoSpace {
        /// The directory.
        dir: PathBuf,
        /// Bytes needed.
        needed: u64,
        /// Bytes available.
        available: u64,
    },
    /// The engine failed to save or load the images.
    #[error("{engine} could not {verb} the images: {source}")]
    Engine {
        /// The engine.
        engine: String,
        /// `save` or `load`.
        verb: &'static str,
        /// Its answer.
        #[source]
        source: EngineError,
    },
    /// The bundle is damaged, truncated or was altered: nothing was loaded.
    #[error("{path} is damaged or was altered ({reason}): nothing was loaded")]
    Damaged {
        /// The bundle.
        path: PathBuf,
        /// What does not match.
        reason: String,
    },
    /// A file of the pipeline is already in the directory, with other content.
    #[error("{path} exists and differs from the bundle's (move it away or choose another directory with -C)")]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// Interrupted (SIGINT/SIGTERM): the temporary files are removed.
    #[error("interrupted: no bundle was written")]
    Interrupted,
}

/// How far a long step is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The engine saves the images: bytes written so far, of about `expected`.
    Saving {
        /// Bytes so far.
        done: u64,
        /// About this many in all (the images' sizes).
        expected: u64,
    },
    /// The images' archive is copied into the bundle.
    Packing {
        /// Bytes so far.
        done: u64,
        /// In all.
        total: u64,
    },
    /// A bundle's checksums are checked.
    Verifying {
        /// Bytes so far.
        done: u64,
        /// In all.
        total: u64,
    },
    /// The images' archive is unpacked for the engine's `load`.
    Unpacking {
        /// Bytes so far.
        done: u64,
        /// In all.
        total: u64,
    },
    /// The engine loads the images.
    Loading,
}

/// What to bundle.
#[derive(Debug, Clone)]
pub struct SaveRequest<'a> {
    /// The bundle to write.
    pub output: &'a Path,
    /// The pipeline file.
    pub pipeline_file: &'a Path,
    /// Its lock file, as read.
    pub lock: &'a LockFile,
    /// The lock file.
    pub lock_file: &'a Path,
    /// The env file, with `--include-env-file` only.
    pub env_file: Option<&'a Path>,
    /// The images to save (references), with their sizes.
    pub images: Vec<(String, u64)>,
    /// copili's version.
    pub copili_version: &'a str,
}

/// What a save wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// The bundle's size.
    pub bundle_size: u64,
    /// The images' archive's size (the engine's `save`).
    pub images_size: u64,
    /// The sum of the images' sizes, as the engine counts them.
    pub images_sum: u64,
}

/// Bytes as people read them: `1.9 MiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Writes a bundle (see the module's documentation). `cancelled` is polled; `on_progress` is
/// called from this and a helper thread.
pub fn save(
    engine: &dyn Engine,
    request: &SaveRequest<'_>,
    cancelled: &(dyn Fn() -> bool + Sync),
    on_progress: &(dyn Fn(Progress) + Sync),
) -> Result<Saved, BundleError> {
    let dir = parent_dir(request.output);
    let images_sum: u64 = request.images.iter().map(|(_, size)| size).sum();
    // The engine's archive and the bundle that holds it are both there for a moment.
    let needed = images_sum.saturating_mul(2).saturating_add(16 << 20);
    ensure_space(&dir, needed)?;
    fn io(verb: &'static str, path: &Path) -> impl Fn(std::io::Error) -> BundleError {
        let path = path.to_path_buf();
        move |source| BundleError::Io { verb, path: path.clone(), source }
    }

    let work = tempfile::Builder::new().prefix(".copili-bundle-").tempdir_in(&dir).map_err(io("write in", &dir))?;
    let archive = work.path().join(IMAGES_ENTRY);
    let references: Vec<String> = request.images.iter().map(|(image, _)| image.clone()).collect();
    let saved = std::sync::atomic::AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !saved.load(std::sync::atomic::Ordering::SeqCst) {
                let done = std::fs::metadata(&archive).map_or(0, |m| m.len());
                on_progress(Progress::Saving { done, expected: images_sum });
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        });
        let result = engine.save_images(&references, &archive, cancelled);
        saved.store(true, std::sync::atomic::Ordering::SeqCst);
        result
    });
    if cancelled() {
        return Err(BundleError::Interrupted);
    }
    result.map_err(|source| BundleError::Engine { engine: engine.name().to_string(), verb: "save", source })?;

    let file_name = |path: &Path| path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let pipeline_name = file_name(request.pipeline_file);
    let lock_name = format!("{pipeline_name}.lock");
    let mut files = BTreeMap::new();
    let partial = tempfile::Builder::new()
        .prefix(&format!(".{}.partial-", file_name(request.output)))
        .tempfile_in(&dir)
        .map_err(io("write in", &dir))?;
    let mut tar = tar::Builder::new(std::io::BufWriter::with_capacity(1 << 20, partial.as_file()));
    let mut small = |tar: &mut tar::Builder<_>, name: String, path: &Path| -> Result<(), BundleError> {
        let bytes = std::fs::read(path).map_err(io("read", path))?;
        files.insert(name.clone(), sum_of(&bytes));
        append(tar, &name, bytes.len() as u64, bytes.as_slice()).map_err(io("write", request.output))
    };
    small(&mut tar, format!("{PIPELINE_DIR}/{pipeline_name}"), request.pipeline_file)?;
    small(&mut tar, format!("{PIPELINE_DIR}/{lock_name}"), request.lock_file)?;
    let env_file = match request.env_file {
        Some(env) => {
            small(&mut tar, format!("{PIPELINE_DIR}/.env"), env)?;
            Some(".env".to_string())
        }
        None => None,
    };
    let images_size = std::fs::metadata(&archive).map_err(io("read", &archive))?.len();
    let images_file = std::fs::File::open(&archive).map_err(io("read", &archive))?;
    let mut hashing = Hashing::new(images_file, |done| {
        on_progress(Progress::Packing { done, total: images_size });
        !cancelled()
    });
    append(&mut tar, IMAGES_ENTRY, images_size, &mut hashing).map_err(|source| {
        if cancelled() {
            BundleError::Interrupted
        } else {
            BundleError::Io { verb: "write", path: request.output.to_path_buf(), source }
        }
    })?;
    files.insert(IMAGES_ENTRY.to_string(), FileSum { sha256: hashing.hex(), size: images_size });

    let images = request
        .images
        .iter()
        .filter_map(|(image, size)| {
            let locked = request.lock.images.get(image)?;
            Some((image.clone(), BundledImage { digest: locked.digest.clone(), id: locked.id.clone(), size: *size }))
        })
        .collect();
    let manifest = Manifest {
        copili_bundle: BUNDLE_FORMAT,
        copili_version: request.copili_version.to_string(),
        engine: engine_word(engine.name()),
        files,
        images,
        pipeline: PipelineFiles { env_file, file: pipeline_name, lock: lock_name, name: request.lock.pipeline.clone() },
    };
    let mut text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    text.push('\n');
    let out = |source| BundleError::Io { verb: "write", path: request.output.to_path_buf(), source };
    append(&mut tar, MANIFEST_ENTRY, text.len() as u64, text.as_bytes()).map_err(out)?;
    let line = format!("{}  {MANIFEST_ENTRY}\n", sum_of(text.as_bytes()).sha256);
    append(&mut tar, MANIFEST_SUM_ENTRY, line.len() as u64, line.as_bytes()).map_err(out)?;
    let mut writer = tar.into_inner().map_err(out)?;
    writer.flush().map_err(out)?;
    drop(writer);
    partial.as_file().sync_all().map_err(out)?;
    if cancelled() {
        return Err(BundleError::Interrupted);
    }
    let bundle_size = partial.as_file().metadata().map_err(out)?.len();
    // Readable by whoever loads it (tempfile makes it 0600).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = partial.as_file().set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    partial.persist(request.output).map_err(|e| out(e.error))?;
    drop(work);
    Ok(Saved { bundle_size, images_size, images_sum })
}

/// `docker` or `podman` for a manifest, from the engine's name (perhaps a client's path).
fn engine_word(name: &str) -> String {
    if name.contains("podman") {
        "podman".into()
    } else if name.contains("docker") {
        "docker".into()
    } else {
        name.to_string()
    }
}

/// Appends a plain file entry: mode 0644, owner 0, time 0.
fn append<W: Write>(tar: &mut tar::Builder<W>, name: &str, size: u64, data: impl Read) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    tar.append_data(&mut header, name, data)
}

/// The directory a file is in (`.` for a bare name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// [`BundleError::NoSpace`] unless `dir`'s file system has `needed` bytes free.
pub(crate) fn ensure_space(dir: &Path, needed: u64) -> Result<(), BundleError> {
    let available = fs2::available_space(dir).map_err(|source| BundleError::Io {
        verb: "find the free space of",
        path: dir.to_path_buf(),
        source,
    })?;
    if available < needed {
        return Err(BundleError::NoSpace { dir: dir.to_path_buf(), needed, available });
    }
    Ok(())
}

/// The checksum of bytes in memory.
pub(crate) fn sum_of(bytes: &[u8]) -> FileSum {
    FileSum { sha256: hex(&sha2::Sha256::digest(bytes)), size: bytes.len() as u64 }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A reader that hashes what passes through and reports how much, every 8 MiB; the callback
/// returning `false` stops it (an interrupt).
pub(crate) struct Hashing<R, F> {
    inner: R,
    hasher: sha2::Sha256,
    done: u64,
    reported: u64,
    report: F,
}

impl<R: Read, F: FnMut(u64) -> bool> Hashing<R, F> {
    pub(crate) fn new(inner: R, report: F) -> Self {
        Hashing { inner, hasher: sha2::Sha256::new(), done: 0, reported: 0, report }
    }

    /// The hex sha256 of what was read.
    pub(crate) fn hex(&self) -> String {
        hex(&self.hasher.clone().finalize())
    }

    /// Bytes read so far.
    pub(crate) fn done(&self) -> u64 {
        self.done
    }
}

impl<R: Read, F: FnMut(u64) -> bool> Read for Hashing<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.done += n as u64;
        if self.done - self.reported >= 8 << 20 || n == 0 {
            self.reported = self.done;
            if !(self.report)(self.done) {
                // Not `ErrorKind::Interrupted`, which `io::copy` would retry.
                return Err(std::io::Error::other("interrupted"));
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_people_read_them() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(2_142_720), "2.0 MiB");
        assert_eq!(size(3 << 30), "3.0 GiB");
    }
}
