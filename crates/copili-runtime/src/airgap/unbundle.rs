//! `copili bundle load`: every byte of the bundle checked before anything is loaded, then the
//! images loaded into the engine, each checked against the lock, and the pipeline unpacked.
//!
//! What is checked, so that one flipped byte anywhere, or a truncation, refuses the bundle:
//! each entry's header (tar's own checksum), each entry's content (its sha256 in the manifest),
//! the manifest (its sha256 in `manifest.json.sha256`), and the rest — the padding after each
//! entry and the end of the archive — must be the zeros the format puts there; nothing may
//! come between the entries or after their end.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::engine::Engine;

use super::bundle::{
    ensure_space, sum_of, BundleError, Hashing, Manifest, Progress, BUNDLE_FORMAT, IMAGES_ENTRY, MANIFEST_ENTRY,
    MANIFEST_SUM_ENTRY, PIPELINE_DIR,
};
use super::check::{check, ImageCheck, Verdict};
use super::lockfile::{write_atomically, LockFile};

/// The largest entry kept in memory (the pipeline's files, the manifest).
const SMALL_ENTRY_MAX: u64 = 64 << 20;

/// A bundle whose every byte was checked.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Its manifest.
    pub manifest: Manifest,
    /// The pipeline file's content.
    pub pipeline: Vec<u8>,
    /// The lock file's content, read.
    pub lock: LockFile,
    /// The lock file's content.
    pub lock_text: Vec<u8>,
    /// The env file's content, if included.
    pub env: Option<Vec<u8>>,
}

/// What a load did.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The bundle's manifest.
    pub manifest: Manifest,
    /// The names the engine said it loaded.
    pub names: Vec<String>,
    /// Each image of the lock, checked on the engine after the load (all at the locked identity).
    pub checks: Vec<ImageCheck>,
    /// The pipeline file, unpacked.
    pub pipeline_file: PathBuf,
    /// The lock file, unpacked.
    pub lock_file: PathBuf,
    /// The env file, unpacked, if the bundle has one.
    pub env_file: Option<PathBuf>,
}

/// Why a load stopped after the images were loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Checking, unpacking or loading failed: nothing (or, for an engine failure, not all)
    /// was loaded.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The images are loaded, but some are not what the lock says.
    #[error("the images loaded are not the locked ones")]
    NotLocked {
        /// Every image of the lock, checked.
        checks: Vec<ImageCheck>,
    },
    /// The engine could not say what it holds after the load.
    #[error("{engine} could not be asked about the loaded images: {source}")]
    Engine {
        /// The engine.
        engine: String,
        /// Its answer.
        #[source]
        source: crate::engine::EngineError,
    },
}

struct Entry {
    name: String,
    header_at: u64,
    data_at: u64,
    size: u64,
    sha256: String,
    content: Option<Vec<u8>>,
}

/// Checks every byte of a bundle (see the module's documentation); its manifest and small files.
pub fn verify(path: &Path, on_progress: &dyn Fn(Progress)) -> Result<Verified, BundleError> {
    let damaged = |reason: String| BundleError::Damaged { path: path.to_path_buf(), reason };
    let io = |source| BundleError::Io { verb: "read", path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let total = file.metadata().map_err(io)?.len();
    let entries = read_entries(&file, total, on_progress).map_err(|e| damaged(format!("not a whole archive: {e}")))?;
    check_layout(&file, total, &entries).map_err(damaged)?;

    let mut seen = BTreeSet::new();
    for entry in &entries {
        if !seen.insert(entry.name.as_str()) {
            return Err(damaged(format!("{} is in it twice", entry.name)));
        }
    }
    let content = |name: &str| entries.iter().find(|e| e.name == name).and_then(|e| e.content.clone());
    let manifest_bytes = content(MANIFEST_ENTRY).ok_or_else(|| damaged(format!("no {MANIFEST_ENTRY}")))?;
    let sum_line = content(MANIFEST_SUM_ENTRY).ok_or_else(|| damaged(format!("no {MANIFEST_SUM_ENTRY}")))?;
    if sum_line != format!("{}  {MANIFEST_ENTRY}\n", sum_of(&manifest_bytes).sha256).as_bytes() {
        return Err(damaged(format!("{MANIFEST_ENTRY} does not match its checksum")));
    }
    let manifest: Manifest =
        serde_json::from_slice(&manifest_bytes).map_err(|e| damaged(format!("{MANIFEST_ENTRY}: {e}")))?;
    if manifest.copili_bundle != BUNDLE_FORMAT {
        return Err(damaged(format!(
            "bundle format {} (this copili reads format {BUNDLE_FORMAT})",
            manifest.copili_bundle
        )));
    }
    let listed: BTreeSet<&str> = manifest.files.keys().map(String::as_str).collect();
    let present: BTreeSet<&str> =
        entries.iter().map(|e| e.name.as_str()).filter(|n| *n != MANIFEST_ENTRY && *n != MANIFEST_SUM_ENTRY).collect();
    if listed != present {
        return Err(damaged(format!("its entries {present:?} are not those of its manifest {listed:?}")));
    }
    for entry in &entries {
        if let Some(sum) = manifest.files.get(&entry.name) {
            if sum.size != entry.size || sum.sha256 != entry.sha256 {
                return Err(damaged(format!("{} does not match its checksum", entry.name)));
            }
        }
    }
    let files = &manifest.pipeline;
    for name in [&files.file, &files.lock].into_iter().chain(files.env_file.as_ref()) {
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(damaged(format!("the pipeline file name {name:?} is not a plain file name")));
        }
    }
    let pipeline_entry = |name: &str| format!("{PIPELINE_DIR}/{name}");
    let pipeline =
        content(&pipeline_entry(&files.file)).ok_or_else(|| damaged(format!("no {}", pipeline_entry(&files.file))))?;
    let lock_text =
        content(&pipeline_entry(&files.lock)).ok_or_else(|| damaged(format!("no {}", pipeline_entry(&files.lock))))?;
    let env = match &files.env_file {
        Some(name) => Some(content(&pipeline_entry(name)).ok_or_else(|| damaged(format!("no {PIPELINE_DIR}/{name}")))?),
        None => None,
    };
    if !present.contains(IMAGES_ENTRY) {
        return Err(damaged(format!("no {IMAGES_ENTRY}")));
    }
    let lock = LockFile::parse(&String::from_utf8_lossy(&lock_text))
        .map_err(|reason| damaged(format!("its lock file: {reason}")))?;
    Ok(Verified { manifest, pipeline, lock, lock_text, env })
}

/// Every entry: where its header and data are, its sha256, and the content of small ones.
fn read_entries(file: &std::fs::File, total: u64, on_progress: &dyn Fn(Progress)) -> std::io::Result<Vec<Entry>> {
    let capacity = usize::try_from(total.clamp(512, 1 << 20)).unwrap_or(1 << 20);
    let mut archive = tar::Archive::new(std::io::BufReader::with_capacity(capacity, file));
    let mut entries = Vec::new();
    let mut before = 0;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = entry.path()?.to_string_lossy().into_owned();
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(std::io::Error::other(format!("{name} is not a plain file")));
        }
        let size = entry.size();
        let header_at = entry.raw_header_position();
        let data_at = entry.raw_file_position();
        let small = size <= SMALL_ENTRY_MAX && name != IMAGES_ENTRY;
        let mut content = small.then(Vec::new);
        let mut hashing = Hashing::new(&mut entry, |done| {
            on_progress(Progress::Verifying { done: before + done, total });
            true
        });
        match &mut content {
            Some(bytes) => {
                hashing.read_to_end(bytes)?;
            }
            None => {
                std::io::copy(&mut hashing, &mut std::io::sink())?;
            }
        }
        if hashing.done() != size {
            return Err(std::io::Error::other(format!("{name} is cut short")));
        }
        let sha256 = hashing.hex();
        before = data_at + size;
        entries.push(Entry { name, header_at, data_at, size, sha256, content });
    }
    on_progress(Progress::Verifying { done: total, total });
    Ok(entries)
}

/// The entries follow each other with nothing between them but zero padding, and the archive
/// ends with the two zero blocks of its end, nothing after.
fn check_layout(file: &std::fs::File, total: u64, entries: &[Entry]) -> Result<(), String> {
    let padded = |end: u64| end.div_ceil(512) * 512;
    let mut expected_header = 0;
    let mut zeros: Vec<(u64, u64)> = Vec::new();
    for entry in entries {
        if entry.header_at != expected_header || entry.data_at != entry.header_at + 512 {
            return Err(format!("unexpected data before {}", entry.name));
        }
        let end = entry.data_at + entry.size;
        zeros.push((end, padded(end)));
        expected_header = padded(end);
    }
    if total != expected_header + 1024 {
        return Err(if total < expected_header + 1024 {
            "it is cut short".to_string()
        } else {
            "unexpected data after its end".to_string()
        });
    }
    zeros.push((expected_header, total));
    let mut file = file;
    // tar reads the checksum field leniently (a space for its NUL): it must be as written.
    for entry in entries {
        let mut header = [0u8; 512];
        file.seek(SeekFrom::Start(entry.header_at)).map_err(|e| e.to_string())?;
        file.read_exact(&mut header).map_err(|e| e.to_string())?;
        let sum: u32 = header
            .iter()
            .enumerate()
            .map(|(i, b)| if (148..156).contains(&i) { u32::from(b' ') } else { u32::from(*b) })
            .sum();
        if header[148..156] != *format!("{sum:07o}\0").as_bytes() {
            return Err(format!("the header of {} does not match its checksum", entry.name));
        }
    }
    for (from, to) in zeros {
        let mut bytes = vec![0u8; usize::try_from(to - from).map_err(|e| e.to_string())?];
        file.seek(SeekFrom::Start(from)).map_err(|e| e.to_string())?;
        file.read_exact(&mut bytes).map_err(|e| e.to_string())?;
        if bytes.iter().any(|b| *b != 0) {
            return Err(format!("unexpected bytes at offset {from}"));
        }
    }
    Ok(())
}

/// Checks a bundle, then loads its images into the engine, checks each against the lock, and
/// unpacks the pipeline's files into `dir` (created if need be). Nothing is loaded unless every
/// byte checked out, and no file is written over one with other content.
pub fn load(
    engine: &dyn Engine,
    bundle: &Path,
    dir: &Path,
    on_progress: &dyn Fn(Progress),
) -> Result<Loaded, LoadError> {
    let verified = verify(bundle, on_progress)?;
    let files = &verified.manifest.pipeline;
    std::fs::create_dir_all(dir).map_err(|source| BundleError::Io { verb: "create", path: dir.into(), source })?;
    let pipeline_file = dir.join(&files.file);
    let lock_file = dir.join(&files.lock);
    let env_file = files.env_file.as_ref().map(|name| dir.join(name));
    let mut writes = vec![
        (pipeline_file.clone(), verified.pipeline.clone(), 0o644),
        (lock_file.clone(), verified.lock_text.clone(), 0o644),
    ];
    // An env file holds secrets: for its owner alone.
    if let (Some(path), Some(bytes)) = (&env_file, &verified.env) {
        writes.push((path.clone(), bytes.clone(), 0o600));
    }
    for (path, bytes, _) in &writes {
        if let Ok(existing) = std::fs::read(path) {
            if &existing != bytes {
                return Err(BundleError::Exists { path: path.clone() }.into());
            }
        }
    }

    // The images' archive, unpacked beside where the pipeline goes, checked once more on the way.
    let images_sum = verified.manifest.files.get(IMAGES_ENTRY).cloned().unwrap_or_else(|| sum_of(&[]));
    ensure_space(dir, images_sum.size.saturating_add(16 << 20))?;
    let damaged = |reason: String| BundleError::Damaged { path: bundle.to_path_buf(), reason };
    let unpacked = tempfile::Builder::new()
        .prefix(".copili-images-")
        .suffix(".tar")
        .tempfile_in(dir)
        .map_err(|source| BundleError::Io { verb: "write in", path: dir.into(), source })?;
    {
        let io = |source| BundleError::Io { verb: "read", path: bundle.to_path_buf(), source };
        let file = std::fs::File::open(bundle).map_err(io)?;
        let mut archive = tar::Archive::new(std::io::BufReader::with_capacity(1 << 20, file));
        let mut found = false;
        for entry in archive.entries().map_err(io)? {
            let mut entry = entry.map_err(io)?;
            if entry.path().map_err(io)?.to_string_lossy() != IMAGES_ENTRY {
                continue;
            }
            let total = entry.size();
            let mut hashing = Hashing::new(&mut entry, |done| {
                on_progress(Progress::Unpacking { done, total });
                true
            });
            let mut out = std::io::BufWriter::with_capacity(1 << 20, unpacked.as_file());
            std::io::copy(&mut hashing, &mut out)
                .and_then(|_| std::io::Write::flush(&mut out))
                .map_err(|source| BundleError::Io { verb: "write", path: unpacked.path().into(), source })?;
            if hashing.hex() != images_sum.sha256 {
                return Err(damaged(format!("{IMAGES_ENTRY} changed while it was loaded")).into());
            }
            found = true;
            break;
        }
        if !found {
            return Err(damaged(format!("no {IMAGES_ENTRY}")).into());
        }
    }
    on_progress(Progress::Loading);
    let names = engine.load_images(unpacked.path()).map_err(|source| BundleError::Engine {
        engine: engine.name().to_string(),
        verb: "load",
        source,
    })?;
    drop(unpacked);

    let images: BTreeMap<String, Vec<String>> =
        verified.lock.images.iter().map(|(image, locked)| (image.clone(), locked.containers.clone())).collect();
    let checks = check(engine, &verified.lock, &images)
        .map_err(|source| LoadError::Engine { engine: engine.name().to_string(), source })?;
    if checks.iter().any(|c| !matches!(c.verdict, Verdict::Locked { .. })) {
        return Err(LoadError::NotLocked { checks });
    }
    for (path, bytes, mode) in &writes {
        write_atomically(path, bytes, *mode).map_err(|source| BundleError::Io {
            verb: "write",
            path: path.clone(),
            source,
        })?;
    }
    Ok(Loaded { manifest: verified.manifest, names, checks, pipeline_file, lock_file, env_file })
}
