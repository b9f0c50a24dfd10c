//! The lock file: every image of a pipeline pinned to what identifies it for good.
//!
//! `FILE.lock` beside the pipeline file `FILE` (`nightly.yaml` → `nightly.yaml.lock`): JSON,
//! keys sorted, one image per reference, no secrets (no credentials, no environment values:
//! only references, digests, ids and container names), with a format version.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::ImageIdentity;

/// The version of the lock file's format this copili writes and reads.
pub const LOCK_FORMAT: u32 = 1;

/// A pipeline's lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    /// The format version ([`LOCK_FORMAT`]).
    pub copili_lock: u32,
    /// Every image of the pipeline by its reference (`repo:tag`, as the pipeline names it).
    pub images: BTreeMap<String, LockedImage>,
    /// The pipeline's top-level key.
    pub pipeline: String,
}

/// One image of a lock file. Fields in alphabetical order: the file's keys are sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedImage {
    /// The containers that use it (`name`, or `name/sidecar`), sorted.
    pub containers: Vec<String>,
    /// The registry digest (`repo@sha256:…`), when the image came from a registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The image id (`sha256:…`, the digest of its configuration): kept across `save` and
    /// `load`, and across engines.
    pub id: String,
    /// Where it came from: `registry`, `build` or `local`.
    pub source: String,
}

/// What is wrong with a lock file.
#[derive(Debug, thiserror::Error)]
pub enum LockFileError {
    /// There is none.
    #[error("no lock file {path} (write it with `copili lock {pipeline}`)")]
    Missing {
        /// Where it was looked for.
        path: PathBuf,
        /// The pipeline file.
        pipeline: String,
    },
    /// It cannot be read or written.
    #[error("cannot {verb} {path}: {source}")]
    Io {
        /// `read` or `write`.
        verb: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// It is not a lock file of this format.
    #[error("{path} is not a valid lock file: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why, with the line and column.
        reason: String,
    },
}

impl LockFile {
    /// The lock file of the pipeline file `pipeline`: `pipeline.yaml` → `pipeline.yaml.lock`.
    pub fn path_for(pipeline: &Path) -> PathBuf {
        let mut name = pipeline.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "copili".into());
        name.push(".lock");
        pipeline.with_file_name(name)
    }

    /// Reads and checks a lock file.
    pub fn read(path: &Path, pipeline: &Path) -> Result<LockFile, LockFileError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(LockFileError::Missing {
                    path: path.to_path_buf(),
                    pipeline: pipeline.display().to_string(),
                });
            }
            Err(source) => return Err(LockFileError::Io { verb: "read", path: path.to_path_buf(), source }),
        };
        LockFile::parse(&text).map_err(|reason| LockFileError::Invalid { path: path.to_path_buf(), reason })
    }

    /// A lock file from its text; why not.
    pub fn parse(text: &str) -> Result<LockFile, String> {
        let lock: LockFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if lock.copili_lock != LOCK_FORMAT {
            return Err(format!(
                "format version {} (this copili reads version {LOCK_FORMAT}; write it again with `copili lock`)",
                lock.copili_lock
            ));
        }
        for (image, locked) in &lock.images {
            if !is_image_id(&locked.id) {
                return Err(format!("image {image}: `id` {:?} is not `sha256:` and 64 hex digits", locked.id));
            }
        }
        Ok(lock)
    }

    /// The file's text: pretty JSON, keys sorted, a line break at the end.
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Writes the file: into a temporary file beside it, then renamed over it.
    pub fn write(&self, path: &Path) -> Result<(), LockFileError> {
        write_atomically(path, self.to_text().as_bytes(), 0o644).map_err(|source| LockFileError::Io {
            verb: "write",
            path: path.to_path_buf(),
            source,
        })
    }
}

impl LockedImage {
    /// What a lock file says of an image the engine identified: `reference` is the image as
    /// the pipeline names it; the digest is the registry digest of its repository, if any.
    pub fn from_identity(reference: &str, identity: &ImageIdentity, source: &str, containers: Vec<String>) -> Self {
        let repository = repository_of(reference);
        let digest = if source == "registry" {
            identity
                .repo_digests
                .iter()
                .find(|d| d.split_once('@').is_some_and(|(repo, _)| repository_of(repo) == repository))
                .cloned()
        } else {
            None
        };
        LockedImage { containers, digest, id: identity.id.clone(), source: source.to_string() }
    }

    /// Whether the host's image is the locked one: by the registry digest when the host has
    /// it (a pull), else by the id (a `load` keeps the id, not the digest).
    pub fn is(&self, host: &ImageIdentity) -> bool {
        if let Some(digest) = &self.digest {
            let wanted = digest.rsplit_once('@').map(|(_, d)| d);
            if host.repo_digests.iter().any(|d| d.rsplit_once('@').map(|(_, d)| d) == wanted) {
                return true;
            }
        }
        host.id == self.id
    }
}

/// A reference's repository as docker reads it, without tag or digest (`busybox:1` →
/// `docker.io/library/busybox`).
fn repository_of(reference: &str) -> String {
    let normalized = crate::images::normalize(reference);
    if let Some((repo, _)) = normalized.split_once('@') {
        return repo.to_string();
    }
    let last_slash = normalized.rfind('/').map_or(0, |i| i + 1);
    match normalized[last_slash..].find(':') {
        Some(colon) => normalized[..last_slash + colon].to_string(),
        None => normalized,
    }
}

/// `sha256:` and 64 lowercase hex digits.
pub fn is_image_id(id: &str) -> bool {
    id.strip_prefix("sha256:").is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Writes `bytes` to `path` through a temporary file in the same directory, renamed over it:
/// a reader never sees half a file. `mode`: its permissions (on Unix).
pub(crate) fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.as_file().set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "sha256:1efd44c063c4abeea3c52bd684cf611a0a888d7ad5b7f2d2af8cd126881521c3";
    const OTHER: &str = "sha256:59d90a0a7c1b3a613c0e93e5d37a179d11efb4b55e1b0effba793a656d003933";

    fn identity(id: &str, digests: &[&str]) -> ImageIdentity {
        ImageIdentity { id: id.into(), repo_digests: digests.iter().map(|d| d.to_string()).collect(), size: 1 }
    }

    #[test]
    fn the_lock_file_sits_beside_the_pipeline() {
        assert_eq!(LockFile::path_for(Path::new("dir/nightly.yaml")), PathBuf::from("dir/nightly.yaml.lock"));
        assert_eq!(LockFile::path_for(Path::new("p.json")), PathBuf::from("p.json.lock"));
    }

    #[test]
    fn the_text_has_sorted_keys_and_reads_back() {
        let mut images = BTreeMap::new();
        let registry = identity(ID, &["r.io:5000/team/app@sha256:ec3d", "other.io/app@sha256:ffff"]);
        images.insert(
            "r.io:5000/team/app:1".to_string(),
            LockedImage::from_identity("r.io:5000/team/app:1", &registry, "registry", vec!["a".into(), "b/db".into()]),
        );
        images.insert(
            "localhost/x:latest".to_string(),
            LockedImage::from_identity("localhost/x:latest", &identity(OTHER, &[]), "local", vec!["c".into()]),
        );
        let lock = LockFile { copili_lock: LOCK_FORMAT, images, pipeline: "p".into() };
        let text = lock.to_text();
        insta::assert_snapshot!(text, @r#"
        {
          "copili_lock": 1,
          "images": {
            "localhost/x:latest": {
              "containers": [
                "c"
              ],
              "id": "sha256:59d90a0a7c1b3a613c0e93e5d37a179d11efb4b55e1b0effba793a656d003933",
              "source": "local"
            },
            "r.io:5000/team/app:1": {
              "containers": [
                "a",
                "b/db"
              ],
              "digest": "r.io:5000/team/app@sha256:ec3d",
              "id": "sha256:1efd44c063c4abeea3c52bd684cf611a0a888d7ad5b7f2d2af8cd126881521c3",
              "source": "registry"
            }
          },
          "pipeline": "p"
        }
        "#);
        assert_eq!(LockFile::parse(&text), Ok(lock));
    }

    #[test]
    fn a_lock_of_another_format_or_with_a_bad_id_is_refused() {
        let text = r#"{"copili_lock": 2, "images": {}, "pipeline": "p"}"#;
        assert!(LockFile::parse(text).err().is_some_and(|e| e.contains("format version 2")));
        let text = r#"{"copili_lock": 1, "images": {"x:1": {"containers": [], "id": "abc", "source": "local"}}, "pipeline": "p"}"#;
        assert!(LockFile::parse(text).err().is_some_and(|e| e.contains("image x:1")));
        assert!(LockFile::parse(r#"{"copili_lock": 1, "images": {}, "pipeline": "p", "x": 1}"#).is_err());
    }

    #[test]
    fn an_image_is_the_locked_one_by_digest_or_else_by_id() {
        let locked = LockedImage {
            containers: vec![],
            digest: Some("r.io/app@sha256:aaaa".into()),
            id: ID.into(),
            source: "registry".into(),
        };
        assert!(locked.is(&identity(OTHER, &["r.io/app@sha256:aaaa"])), "the digest decides when the host has it");
        assert!(locked.is(&identity(ID, &["r.io/app@sha256:made-up-by-podman-load"])), "else the id");
        assert!(!locked.is(&identity(OTHER, &["r.io/app@sha256:bbbb"])));
    }
}
